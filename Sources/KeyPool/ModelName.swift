/// A model name as a client sent it, validated before it reaches a URL or a query.
/// A leading `models/` is stripped; what remains must be 1–128 characters of `[A-Za-z0-9._-]`
/// and may not be `.` or `..` alone, so it cannot change the path it is put into.
public struct ModelName: Sendable, Hashable, CustomStringConvertible {
    public let value: String

    public init?(_ raw: String) {
        let name = raw.hasPrefix("models/") ? String(raw.dropFirst("models/".count)) : raw
        guard !name.isEmpty, name.utf8.count <= 128, name != ".", name != "..",
            name.utf8.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            })
        else { return nil }
        self.value = name
    }

    public var description: String { self.value }
}
