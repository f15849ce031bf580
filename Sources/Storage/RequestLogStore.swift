import Foundation

/// One row of `request_log`: a client request as the relay answered it (DESIGN.md §6). It holds
/// ids, labels and numbers only, never a secret: the client is named by its label, the key by
/// its id (dashboards join it to the fingerprint).
public struct RequestLogEntry: Sendable, Hashable {
    /// When the request arrived.
    public var at: Date
    /// The `x-request-id` the client got.
    public var requestID: String
    /// The relay instance that answered it (`instances.id` in a fleet); nil when unknown.
    public var instanceID: String?
    /// The client's label from `allowed_tokens`; nil when unknown.
    public var clientLabel: String?
    /// The key of the last attempt; nil when no key was tried (every key exhausted).
    public var keyID: Int64?
    /// The quota model (e.g. `gemini-2.5-flash`, or `models.list`); nil when unknown.
    public var model: String?
    /// What was asked, e.g. `gemini:generateContent` or `openai:chat` (no path, no query).
    public var route: String
    /// The HTTP status the client got (for a stream, the one its headers carried).
    public var status: Int
    /// Milliseconds from arrival to the last byte of the answer.
    public var latencyMilliseconds: Int
    /// Input tokens the upstream reported.
    public var inputTokens: Int
    /// Total tokens (thinking included) the upstream reported.
    public var totalTokens: Int
    /// Keys tried after the first.
    public var retries: Int
    /// Upstream 429s met on the way (each sent the request to another key).
    public var rateLimited: Int

    public init(
        at: Date,
        requestID: String,
        instanceID: String? = nil,
        clientLabel: String? = nil,
        keyID: Int64? = nil,
        model: String? = nil,
        route: String,
        status: Int,
        latencyMilliseconds: Int,
        inputTokens: Int = 0,
        totalTokens: Int = 0,
        retries: Int = 0,
        rateLimited: Int = 0
    ) {
        self.at = at
        self.requestID = requestID
        self.instanceID = instanceID
        self.clientLabel = clientLabel
        self.keyID = keyID
        self.model = model
        self.route = route
        self.status = status
        self.latencyMilliseconds = latencyMilliseconds
        self.inputTokens = inputTokens
        self.totalTokens = totalTokens
        self.retries = retries
        self.rateLimited = rateLimited
    }

    /// The entry with every number inside the table's constraints (status 100–599, counts not
    /// negative), so one odd value cannot make a whole batch fail forever.
    var clamped: RequestLogEntry {
        var entry = self
        entry.status = (100...599).contains(self.status) ? self.status : 599
        entry.latencyMilliseconds = min(max(0, self.latencyMilliseconds), Int(Int32.max))
        entry.inputTokens = max(0, self.inputTokens)
        entry.totalTokens = max(0, self.totalTokens)
        entry.retries = min(max(0, self.retries), Int(Int32.max))
        entry.rateLimited = min(max(0, self.rateLimited), Int(Int32.max))
        return entry
    }
}

/// A store that keeps the request log. Both `SQLiteStore` and `PostgresStore` are; the relay
/// writes to it in batches off the hot path.
public protocol RequestLogStore: Sendable {
    /// Inserts `entries` in one transaction (all or none). Numbers outside the table's
    /// constraints are clamped to them.
    /// - Throws: `.conflict` when a key id is not in `api_keys`; `.connectionLost`, `.closed`.
    func appendRequestLog(_ entries: [RequestLogEntry]) async throws(StoreError)

    /// Deletes rows that arrived before `cutoff` and returns how many. (A fleet's reset job does
    /// this for PostgreSQL by the database's clock; a single SQLite instance calls it itself.)
    @discardableResult
    func deleteRequestLog(before cutoff: Date) async throws(StoreError) -> Int
}
