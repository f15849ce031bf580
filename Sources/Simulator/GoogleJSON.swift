import KeyPool

/// Google's two JSON layouts: the pretty form of non-stream bodies and errors (two-space indent,
/// one member or element per line, trailing newline) and the one-line form inside SSE events
/// (`": "` after a member name, `,` with no space), so byte-level tests see what Google sends.
enum GoogleJSON {
    /// The pretty layout, ending in a newline, as a non-stream body is sent.
    static func prettyBody(_ value: JSONValue) -> [UInt8] {
        Array((Self.pretty(value) + "\n").utf8)
    }

    /// The pretty layout without the trailing newline (elements of the streamed JSON array).
    static func pretty(_ value: JSONValue) -> String {
        var out = ""
        Self.writePretty(value, indent: 0, into: &out)
        return out
    }

    /// The one-line layout of an SSE `data:` payload.
    static func line(_ value: JSONValue) -> String {
        var out = ""
        Self.writeLine(value, into: &out)
        return out
    }

    private static func writePretty(_ value: JSONValue, indent: Int, into out: inout String) {
        let inner = String(repeating: " ", count: indent + 2)
        switch value {
        case .object(let members) where !members.isEmpty:
            out += "{\n"
            for (offset, member) in members.enumerated() {
                out += inner
                JSONValue.writeString(member.0, into: &out)
                out += ": "
                Self.writePretty(member.1, indent: indent + 2, into: &out)
                out += offset == members.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        case .array(let items) where !items.isEmpty:
            out += "[\n"
            for (offset, item) in items.enumerated() {
                out += inner
                Self.writePretty(item, indent: indent + 2, into: &out)
                out += offset == items.count - 1 ? "\n" : ",\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        default:
            out += value.serialized
        }
    }

    private static func writeLine(_ value: JSONValue, into out: inout String) {
        switch value {
        case .object(let members):
            out += "{"
            for (offset, member) in members.enumerated() {
                if offset > 0 { out += "," }
                JSONValue.writeString(member.0, into: &out)
                out += ": "
                Self.writeLine(member.1, into: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (offset, item) in items.enumerated() {
                if offset > 0 { out += "," }
                Self.writeLine(item, into: &out)
            }
            out += "]"
        default:
            out += value.serialized
        }
    }
}
