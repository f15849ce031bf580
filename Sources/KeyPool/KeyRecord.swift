import Foundation

/// One configured upstream key and its health. Health belongs to the key, not to its usage rows,
/// so a dead key stays dead for models it has never served.
public struct KeyRecord: Sendable, Hashable, Identifiable {
    /// The store's id; stable across removal and re-adding of the same secret.
    public var id: Int64
    public var kind: KeyKind
    public var secret: APIKey
    public var label: String?
    public var isActive: Bool
    /// Consecutive failures the classifier could not explain; reset by a success.
    public var failureCount: Int
    /// A short, scrubbed description of the last upstream error (never a key).
    public var lastError: String?
    public var deactivatedAt: Date?
    /// Why the key was deactivated (`API_KEY_INVALID`, `CONSUMER_SUSPENDED`, `max_failures` …).
    public var deactivationReason: String?
    /// The paid key serves `paid_models` and, as a fallback, what the free pool cannot.
    public var isPaid: Bool

    public init(
        id: Int64,
        kind: KeyKind,
        secret: APIKey,
        label: String? = nil,
        isActive: Bool = true,
        failureCount: Int = 0,
        lastError: String? = nil,
        deactivatedAt: Date? = nil,
        deactivationReason: String? = nil,
        isPaid: Bool = false
    ) {
        self.id = id
        self.kind = kind
        self.secret = secret
        self.label = label
        self.isActive = isActive
        self.failureCount = failureCount
        self.lastError = lastError
        self.deactivatedAt = deactivatedAt
        self.deactivationReason = deactivationReason
        self.isPaid = isPaid
    }

    public var fingerprint: Fingerprint { self.secret.fingerprint }
}
