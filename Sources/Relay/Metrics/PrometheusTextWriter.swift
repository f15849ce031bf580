/// Writes the Prometheus text exposition format, version 0.0.4: per family a `# HELP` and a
/// `# TYPE` line, then one `name{label="value",…} value` line per sample, each ending in `\n`.
struct PrometheusTextWriter {
    /// The `Content-Type` of a scrape answer.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    private(set) var text = ""

    mutating func header(name: String, help: String, type: String) {
        self.text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    /// One sample line. `labels` pairs with `labelNames` by position.
    mutating func sample(_ name: String, labelNames: [String], labels: [String], value: Double) {
        self.text += name
        if !labelNames.isEmpty {
            self.text += "{"
            for (index, (label, labelValue)) in zip(labelNames, labels).enumerated() {
                if index > 0 { self.text += "," }
                self.text += label + "=\"" + Self.escapeLabelValue(labelValue) + "\""
            }
            self.text += "}"
        }
        self.text += " " + Self.format(value) + "\n"
    }

    /// A label value with `\`, `"` and line feed escaped, as the format requires.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// Help text with `\` and line feed escaped (quotes stay as they are in `# HELP`).
    static func escapeHelp(_ help: String) -> String {
        var out = ""
        for character in help {
            switch character {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// A sample value: whole numbers without a fraction, `+Inf`, `-Inf` and `NaN` spelled as the
    /// format spells them, anything else in Swift's shortest round-trip form (`0.25`, `1e-05`).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`
    static func isValidMetricName(_ name: String) -> Bool {
        Self.isValidName(name, extra: ":")
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved by Prometheus).
    static func isValidLabelName(_ name: String) -> Bool {
        Self.isValidName(name, extra: "") && !name.hasPrefix("__")
    }

    private static func isValidName(_ name: String, extra: String) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func isLetter(_ scalar: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
                || extra.unicodeScalars.contains(scalar)
        }
        return isLetter(first) && name.unicodeScalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) }
    }

    /// Series in a stable order: by label values, left to right.
    static func labelOrder(_ lhs: [String], _ rhs: [String]) -> Bool {
        lhs.lexicographicallyPrecedes(rhs)
    }
}
