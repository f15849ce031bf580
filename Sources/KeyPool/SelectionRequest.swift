import Foundation

/// How a paid key takes part in a selection (DESIGN.md §3, "Paid key").
public enum PaidUse: Sendable, Hashable {
    /// Paid keys are not candidates at all (the default).
    case never
    /// The model is listed in `paid_models`: paid keys are chosen first, free keys only when no
    /// paid key can serve.
    case preferred
    /// `paid_fallback`: free keys are chosen first, a paid key only when no free key can serve.
    case fallback
}

/// What the relay asks the usage matrix for: a key of `kind` for one request to `quotaModel`.
public struct SelectionRequest: Sendable, Hashable {
    /// The normalised model the usage rows are counted under (`ModelLimits.resolve`).
    public var quotaModel: String
    /// The pool to choose from; Gemini and Vertex keys never mix.
    public var kind: KeyKind
    /// The limits from the rate-limit table. They replace the limits stored on the rows, because
    /// the table (and the settings behind it) is authoritative.
    public var limits: Limits
    /// Requests this call spends: 1, or the number of texts of a batch embedding. At least 1.
    public var cost: Int
    /// The instant the windows are evaluated at, from the injected clock.
    public var now: Date
    /// Keys already tried for this request; they are never chosen again. Default: none.
    public var excluding: Set<Int64>
    /// Whether and how paid keys take part. Default `.never`.
    public var paidUse: PaidUse
    /// Limits for paid keys (from `paid_tier`); `nil` applies `limits` to paid keys too. Default `nil`.
    public var paidLimits: Limits?

    /// A request with every field given; `cost` defaults to 1, `excluding` to none, `paidUse` to
    /// `.never` and `paidLimits` to `nil` (paid keys use `limits`).
    public init(
        quotaModel: String,
        kind: KeyKind,
        limits: Limits,
        cost: Int = 1,
        now: Date,
        excluding: Set<Int64> = [],
        paidUse: PaidUse = .never,
        paidLimits: Limits? = nil
    ) {
        self.quotaModel = quotaModel
        self.kind = kind
        self.limits = limits
        self.cost = cost
        self.now = now
        self.excluding = excluding
        self.paidUse = paidUse
        self.paidLimits = paidLimits
    }

    /// The limits that apply to `key` in this request.
    public func limits(for key: KeyRecord) -> Limits {
        key.isPaid ? (self.paidLimits ?? self.limits) : self.limits
    }

    /// The cost used for admission: never below one request.
    var admissionCost: Int { max(1, self.cost) }

    /// Groups of keys in the order they are tried: `true` stands for paid keys.
    var paidOrder: [Bool] {
        switch self.paidUse {
        case .never: [false]
        case .preferred: [true, false]
        case .fallback: [false, true]
        }
    }
}

/// The matrix's answer to a `SelectionRequest`.
public enum Selection: Sendable, Hashable {
    /// Use this key; the relay reserves it in the store next.
    case key(KeyRecord)
    /// Active keys exist but none can serve now. `retryAt` is the earliest instant one could
    /// (for `Retry-After`); `nil` when every active key was already tried for this request or
    /// none will ever admit the request (a limit below its cost).
    case noHeadroom(retryAt: Date?)
    /// No active key of the kind exists (paid keys count only when the request allows them).
    case noActiveKey
}

extension UsageMatrix {
    /// The same type as the top-level `SelectionRequest`, for callers that spell it nested.
    public typealias SelectionRequest = KeyPool.SelectionRequest
    /// The same type as the top-level `Selection`.
    public typealias Selection = KeyPool.Selection
    /// The same type as the top-level `PaidUse`.
    public typealias PaidUse = KeyPool.PaidUse
}
