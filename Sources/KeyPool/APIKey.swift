/// An upstream API key. It prints only as its fingerprint, through `description` and
/// `debugDescription` alike, so string interpolation, logging and error messages cannot leak it.
/// The raw value comes out through `revealedForUpstream`, used only where a request to Google is built
/// and where the store writes `api_keys.secret`.
public struct APIKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    /// Wraps a key as given; surrounding whitespace is trimmed. Returns nil for an empty key or one
    /// holding whitespace or control characters (which no upstream key contains). Keys are never
    /// judged by prefix or length: only the upstream's answer says a key is bad.
    public init?(_ raw: String) {
        let trimmed = raw.trimmingWhitespace()
        guard !trimmed.isEmpty,
            trimmed.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0.value < 0x80 })
        else { return nil }
        self.value = trimmed
    }

    /// The raw key, for the upstream request header and the `secret` column only.
    public var revealedForUpstream: String { self.value }

    public var fingerprint: Fingerprint { Fingerprint(secret: self.value) }

    /// Hex SHA-256 of the key, the unique identity stored beside the secret.
    public var hash: String { SHA256.hex(of: self.value) }

    public var description: String { self.fingerprint.description }
    public var debugDescription: String { "APIKey(\(self.fingerprint))" }
}

/// A display form of a secret: `AIza…1a2B` for keys long enough that 8 visible characters are a
/// small part of them, and `…` plus a short hash for anything shorter, so no short test key or
/// token is ever printed whole. Not unique; never used as an identity.
public struct Fingerprint: Sendable, Hashable, CustomStringConvertible {
    public let description: String

    public init(secret: String) {
        let chars = Array(secret)
        if chars.count >= 20 {
            self.description = String(chars.prefix(4)) + "…" + String(chars.suffix(4))
        } else {
            let hashed = "#" + String(SHA256.hex(of: secret).prefix(8))
            // A short secret made of hex digits could occur inside its own hash prefix; then the
            // fingerprint gives nothing away at all (such a secret is ASCII, so "…" cannot hold it).
            self.description = secret.isEmpty || !hashed.contains(secret) ? hashed : "…"
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    package func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
