import Foundation
import KeyPool

extension Settings {
    /// The prefix of every environment variable KeyRelay reads.
    public static let environmentPrefix = "KEYRELAY_"

    /// Builds settings from the defaults, then the config file (a JSON object of settings), then the
    /// `KEYRELAY_<NAME>` environment. Returns the settings and warnings worth logging.
    /// - Throws: `SettingError` naming the setting and its source for the first bad value.
    public static func load(
        environment: [String: String],
        configFile: String? = nil
    ) throws(SettingError) -> (settings: Settings, warnings: [String]) {
        var settings = Settings.default
        var warnings: [String] = []

        if let path = configFile {
            for (name, text) in try Self.readConfigFile(path) {
                try settings.apply(name: name, text: text, source: path)
            }
        }

        for (variable, text) in environment.sorted(by: { $0.key < $1.key })
        where variable.hasPrefix(Self.environmentPrefix) {
            let name = variable.dropFirst(Self.environmentPrefix.count).lowercased()
            guard SettingSpec.named(name) != nil else {
                // Other tools share the prefix (test harnesses); say so rather than fail.
                if !name.hasPrefix("test_") && name != "binary" {
                    let hint = SettingSpec.suggestion(for: name).map { " (did you mean '\($0)'?)" } ?? ""
                    warnings.append("environment: unknown setting '\(name)' ignored\(hint)")
                }
                continue
            }
            try settings.apply(name: name, text: text, source: "environment \(variable)")
        }

        let (_, usedFallback) = settings.pool.rateLimits.models(forTier: settings.pool.quotaTier)
        if usedFallback {
            let first = settings.pool.rateLimits.tiers.first?.name ?? "none"
            warnings.append("quota tier '\(settings.pool.quotaTier)' is not in the rate-limit table; using '\(first)'")
        }
        return (settings, warnings)
    }

    /// Applies one setting's text form. - Throws: `SettingError` naming the setting and `source`.
    public mutating func apply(name: String, text: String, source: String) throws(SettingError) {
        guard let spec = SettingSpec.named(name) else {
            let hint = SettingSpec.suggestion(for: name).map { " (did you mean '\($0)'?)" } ?? ""
            throw SettingError(setting: name, source: source, message: "is not a known setting\(hint)")
        }
        do {
            try spec.apply(text, &self)
            self.explicitlySet.insert(name)
        } catch {
            var located = error
            located.source = source
            throw located
        }
    }

    /// Pool settings as stored: name → JSON text, secrets as fingerprints only.
    public var storedPoolSettings: [String: String] {
        var values: [String: String] = [:]
        for spec in SettingSpec.all where spec.scope == .pool {
            values[spec.name] = spec.show(self).serialized
        }
        return values
    }

    /// Every setting as shown to operators (secrets as fingerprints), in documentation order.
    public var displayed: [(name: String, value: JSONValue)] {
        SettingSpec.all.map { ($0.name, $0.show(self)) }
    }

    /// Reads a JSON object of settings; values become the same text an environment variable holds.
    static func readConfigFile(_ path: String) throws(SettingError) -> [(String, String)] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingError(setting: "config", source: path, message: "file cannot be read")
        }
        let document: JSONValue
        do {
            document = try JSONValue.parse(Array(data))
        } catch {
            throw SettingError(setting: "config", source: path, message: "is not valid JSON (\(error))")
        }
        guard let members = document.objectMembers else {
            throw SettingError(setting: "config", source: path, message: "must be a JSON object of settings")
        }
        var values: [(String, String)] = []
        for (name, value) in members {
            values.append((name, try Self.configText(name: name, value: value, source: path)))
        }
        return values
    }

    /// Settings whose value is a JSON document (or `@path` to one).
    static let documentSettings: Set<String> = ["rate_limits", "vertex_rate_limits", "unknown_model_limits"]
    /// Settings whose value is a list (a JSON array of strings, or one comma/newline-separated string).
    static let listSettings: Set<String> = ["api_keys", "vertex_api_keys", "allowed_tokens", "paid_models"]

    /// The text form of one config-file value, refusing a JSON type the setting cannot take.
    static func configText(name: String, value: JSONValue, source: String) throws(SettingError) -> String {
        func refuse(_ expected: String) -> SettingError {
            SettingError(setting: name, source: source, message: "must be \(expected)")
        }
        guard SettingSpec.named(name) != nil else { return value.stringValue ?? value.serialized }
        switch value {
        case .string(let text):
            return text
        case .null:
            return ""
        case .object:
            guard Self.documentSettings.contains(name) else { throw refuse("a string, a number or a boolean") }
            return value.serialized
        case .array(let items):
            guard Self.listSettings.contains(name) else { throw refuse("a single value, not a list") }
            var entries: [String] = []
            for item in items {
                guard let text = item.stringValue else { throw refuse("a list of strings") }
                entries.append(text)
            }
            return entries.joined(separator: "\n")
        case .bool(let flag):
            guard !Self.listSettings.contains(name), !Self.documentSettings.contains(name) else {
                throw refuse(Self.listSettings.contains(name) ? "a string or a list of strings" : "a JSON object")
            }
            return flag ? "true" : "false"
        case .number(let text):
            guard !Self.listSettings.contains(name), !Self.documentSettings.contains(name) else {
                throw refuse(Self.listSettings.contains(name) ? "a string or a list of strings" : "a JSON object")
            }
            return text
        }
    }
}
