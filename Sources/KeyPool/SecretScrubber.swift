/// Removes configured secrets (API keys, tokens) from text before it is logged or passed on
/// (DESIGN.md §4, §9): every occurrence becomes the secret's `Fingerprint`. Upstream error bodies
/// also lose their `DebugInfo` details, since Google's key errors quote the key back there.
///
/// Matching is one left-to-right pass over UTF-8 bytes, longest secret first at each position, so
/// a secret that contains another is replaced whole and replaced text is never scanned again.
public struct SecretScrubber: Sendable {
    private struct Entry: Sendable {
        var secret: [UInt8]
        var replacement: [UInt8]
    }

    /// Entries longest first; an empty list scrubs nothing.
    private let entries: [Entry]
    /// Which first bytes can start a secret, to skip most positions cheaply.
    private let startsSecret: [Bool]

    /// A scrubber for `secrets`; empty strings and duplicates are ignored.
    public init(secrets: [String]) {
        let unique = Set(secrets.filter { !$0.isEmpty })
        self.entries = unique
            .map { Entry(secret: Array($0.utf8), replacement: Array(Fingerprint(secret: $0).description.utf8)) }
            .sorted { lhs, rhs in
                lhs.secret.count != rhs.secret.count
                    ? lhs.secret.count > rhs.secret.count : lhs.secret.lexicographicallyPrecedes(rhs.secret)
            }
        var starts = [Bool](repeating: false, count: 256)
        for entry in self.entries { starts[Int(entry.secret[0])] = true }
        self.startsSecret = starts
    }

    /// `text` with every configured secret replaced by its fingerprint.
    public func scrub(_ text: String) -> String {
        guard !self.entries.isEmpty else { return text }
        return String(decoding: self.scrub(bytes: Array(text.utf8)), as: UTF8.self)
    }

    /// An upstream error body made safe to log or pass on. A JSON body (an object, or a list of
    /// them as the OpenAI-compatible endpoint sends) loses `error.details[]` entries whose `@type`
    /// ends with `DebugInfo`, has every string (member names included) scrubbed, and is
    /// re-serialised compactly. Any other body is scrubbed as bytes.
    public func scrubErrorBody(_ body: [UInt8]) -> [UInt8] {
        guard let document = try? JSONValue.parse(body) else {
            return self.scrub(bytes: body)
        }
        let cleaned: JSONValue
        if let items = document.arrayValue {
            cleaned = .array(items.map(Self.droppingDebugInfo))
        } else {
            cleaned = Self.droppingDebugInfo(document)
        }
        return self.scrub(json: cleaned).serializedBytes
    }

    // MARK: - Internals

    private static func droppingDebugInfo(_ envelope: JSONValue) -> JSONValue {
        guard let error = envelope["error"], let details = error["details"]?.arrayValue else { return envelope }
        let kept = details.filter { detail in
            !(detail["@type"]?.stringValue?.hasSuffix("DebugInfo") ?? false)
        }
        return envelope.setting("error", to: error.setting("details", to: .array(kept)))
    }

    private func scrub(json value: JSONValue) -> JSONValue {
        switch value {
        case .string(let text):
            return .string(self.scrub(text))
        case .array(let items):
            return .array(items.map { self.scrub(json: $0) })
        case .object(let members):
            return .object(members.map { (self.scrub($0.0), self.scrub(json: $0.1)) })
        case .null, .bool, .number:
            return value
        }
    }

    private func scrub(bytes: [UInt8]) -> [UInt8] {
        guard !self.entries.isEmpty else { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        scan: while index < bytes.count {
            if self.startsSecret[Int(bytes[index])] {
                for entry in self.entries where Self.matches(entry.secret, in: bytes, at: index) {
                    out.append(contentsOf: entry.replacement)
                    index += entry.secret.count
                    continue scan
                }
            }
            out.append(bytes[index])
            index += 1
        }
        return out
    }

    private static func matches(_ secret: [UInt8], in bytes: [UInt8], at index: Int) -> Bool {
        guard bytes.count - index >= secret.count else { return false }
        for offset in 0..<secret.count where bytes[index + offset] != secret[offset] {
            return false
        }
        return true
    }
}
