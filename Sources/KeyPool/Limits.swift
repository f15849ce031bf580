/// Per-window limits of one (model, key) row. `nil` means unlimited.
public struct Limits: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Requests per UTC minute.
    public var rpm: Int?
    /// Input tokens per UTC minute.
    public var tpm: Int?
    /// Requests per quota day.
    public var rpd: Int?

    public init(rpm: Int? = nil, tpm: Int? = nil, rpd: Int? = nil) {
        self.rpm = rpm
        self.tpm = tpm
        self.rpd = rpd
    }

    public static let unlimited = Limits()

    public var description: String {
        func show(_ value: Int?) -> String { value.map(String.init) ?? "∞" }
        return "rpm=\(show(self.rpm)) tpm=\(show(self.tpm)) rpd=\(show(self.rpd))"
    }
}

/// Which upstream a key belongs to; the two pools never mix (an Express key fails on the
/// Gemini API and the other way round).
public enum KeyKind: String, Sendable, Hashable, Codable, CaseIterable {
    case gemini
    case vertex
}
