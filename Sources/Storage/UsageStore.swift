import Foundation
import KeyPool

/// The atomic operations of DESIGN.md §5. A store performs them; it never decides policy
/// (which key, how long to exhaust it): that is KeyPool's and the relay's.
///
/// Every method may be called from any task; implementations never block Swift's cooperative
/// threads (blocking database calls run on the store's own thread or queue).
public protocol UsageStore: Sendable {
    /// Creates the schema or brings it up to date. Safe to call on every start.
    func migrate() async throws(StoreError) -> MigrationReport

    /// Checks the schema without changing it.
    /// - Throws: `.schemaTooNew` for a schema newer than this build, `.schemaBehind` when
    ///   migrations are pending, `.checksumMismatch` for a changed applied file.
    func verifySchema() async throws(StoreError)

    /// Upserts the configured keys by the hash of their secret (a key removed and added again gets
    /// its old id and counters back) and returns every key that is not removed.
    /// Keys of `kind` that are stored but not in `keys` are marked removed (soft; history stays).
    func syncKeys(_ keys: [ConfiguredKey], kind: KeyKind, at now: Date) async throws(StoreError) -> [KeyRecord]

    /// Upserts `keys`, leaving every other key alone, and returns those of them now in use. A key
    /// removed earlier is restored (with its id and counters) only with `restoreRemoved`: the admin
    /// API restores, a fleet instance starting with an old list does not bring back a revoked key.
    func addKeys(
        _ keys: [ConfiguredKey],
        kind: KeyKind,
        restoreRemoved: Bool,
        at now: Date
    ) async throws(StoreError) -> [KeyRecord]

    /// Marks one key removed (soft: its usage rows and history stay, and adding the same secret
    /// again restores it). Returns false when no key with that id is in use.
    func removeKey(id: Int64, at now: Date) async throws(StoreError) -> Bool

    /// Every key that is not removed, with its health.
    func loadKeys() async throws(StoreError) -> [KeyRecord]

    /// Atomically and conditionally reserves `request.cost` requests on one row (creating the row
    /// with `request.limits` if it does not exist). Window-aware: counters of a closed window count
    /// as zero. With `request.enforceLimits` it never admits past a limit; without it (the `cycle`
    /// policy) it always admits and reports whether the request went over.
    func reserve(_ request: ReservationRequest) async throws(StoreError) -> ReservationResult

    /// Gives back a reservation whose attempt provably never reached the upstream. Only counters
    /// still in the reservation's windows are decremented, and never below zero.
    func release(_ reservation: Reservation) async throws(StoreError)

    /// Adds an attempt's tokens (to `tpm` while the reservation's minute is still the row's) and
    /// its outcome to history (`usage_daily` of the reservation's quota day).
    func record(_ record: UsageRecord) async throws(StoreError)

    /// Applies several records at once (one transaction where the store can), for writers that
    /// batch records off the hot path. The default applies them one by one.
    func record(batch records: [UsageRecord]) async throws(StoreError)

    /// Marks the row unusable until `until` (a 429). Never shortens a later mark.
    func exhaust(_ row: UsageRowID, until: Date) async throws(StoreError)

    /// Takes a key out of service for every model.
    func deactivate(keyID: Int64, reason: String, at now: Date) async throws(StoreError)

    /// Puts a key back in service and clears its failure count.
    func reactivate(keyID: Int64) async throws(StoreError)

    /// Counts an unexplained failure; deactivates the key when the count reaches `maxFailures`.
    /// Returns the key as it now stands. `error` must already be scrubbed of secrets.
    func recordFailure(
        keyID: Int64,
        error: String,
        maxFailures: Int,
        at now: Date
    ) async throws(StoreError) -> KeyRecord

    /// Records a transient error as the key's last error without counting it towards deactivation.
    func noteError(keyID: Int64, error: String) async throws(StoreError)

    /// Resets the key's consecutive failure count after a success.
    func recordSuccess(keyID: Int64) async throws(StoreError)

    /// All usage rows, to fill or refresh the local matrix.
    func snapshot() async throws(StoreError) -> [UsageRow]

    /// Pool settings as stored: name → JSON text.
    func loadSettings() async throws(StoreError) -> [String: String]

    /// Writes pool settings (name → JSON text) in one transaction.
    func saveSettings(_ values: [String: String], by actor: String, at now: Date) async throws(StoreError)

    /// Puts a new quota calendar in force for later operations (`quota_timezone` changed).
    func setCalendar(_ calendar: QuotaCalendar)

    /// Closes connections; later calls fail with `StoreError.Code.closed`.
    func close() async
}

extension UsageStore {
    public func record(batch records: [UsageRecord]) async throws(StoreError) {
        for record in records { try await self.record(record) }
    }
}

/// A key as configured (from settings or the admin API), before the store gives it an id.
public struct ConfiguredKey: Sendable, Hashable {
    public var secret: APIKey
    public var label: String?
    public var isPaid: Bool

    public init(secret: APIKey, label: String? = nil, isPaid: Bool = false) {
        self.secret = secret
        self.label = label
        self.isPaid = isPaid
    }
}

/// What the relay asks the store to reserve.
public struct ReservationRequest: Sendable, Hashable {
    public var row: UsageRowID
    /// Limits to apply (and to store on a new row).
    public var limits: Limits
    /// Requests to count: 1, or the number of texts of a batch embedding.
    public var cost: Int
    public var now: Date
    /// False under `exhausted_policy = cycle`: admit past the limit and report it.
    public var enforceLimits: Bool

    public init(row: UsageRowID, limits: Limits, cost: Int = 1, now: Date, enforceLimits: Bool = true) {
        self.row = row
        self.limits = limits
        self.cost = cost
        self.now = now
        self.enforceLimits = enforceLimits
    }
}

/// A reservation the store granted: enough to release it or to record its outcome later.
public struct Reservation: Sendable, Hashable {
    public var row: UsageRowID
    public var cost: Int
    /// The windows the reservation was counted in.
    public var minuteStart: Date
    public var dayStart: Date

    public init(row: UsageRowID, cost: Int, minuteStart: Date, dayStart: Date) {
        self.row = row
        self.cost = cost
        self.minuteStart = minuteStart
        self.dayStart = dayStart
    }
}

/// The store's answer to a reservation, with the row as it now stands (to refresh the cache).
public enum ReservationResult: Sendable, Hashable {
    /// Counted. `overLimit` is true when admitted past a limit (`cycle` policy only).
    case reserved(Reservation, row: UsageRow, overLimit: Bool)
    /// Not counted: a limit would be passed, or the row is exhausted (another instance or request
    /// took the last unit). Select again.
    case refused(row: UsageRow)
}

/// The outcome of one attempt, for the counters and for history.
public struct UsageRecord: Sendable, Hashable {
    public enum Outcome: String, Sendable, Hashable {
        case success
        case rateLimited
        case error
        /// The client's fault (a 4xx other than auth); counted as a request, not an error of the key.
        case clientError
    }

    public var reservation: Reservation
    /// Input tokens (`promptTokenCount + toolUsePromptTokenCount`), which Google's TPM counts.
    public var inputTokens: Int
    /// `totalTokenCount`, thinking included, for history.
    public var totalTokens: Int
    public var outcome: Outcome
    public var at: Date

    public init(reservation: Reservation, inputTokens: Int, totalTokens: Int, outcome: Outcome, at: Date) {
        self.reservation = reservation
        self.inputTokens = inputTokens
        self.totalTokens = totalTokens
        self.outcome = outcome
        self.at = at
    }
}

/// What `migrate()` did.
public struct MigrationReport: Sendable, Hashable {
    /// Versions applied by this call, in order (e.g. `["0001_create_api_keys"]`).
    public var applied: [String]
    /// The schema version after the call.
    public var currentVersion: Int

    public init(applied: [String], currentVersion: Int) {
        self.applied = applied
        self.currentVersion = currentVersion
    }
}

/// Operations a store shared by a fleet offers (PostgreSQL): housekeeping that one instance does
/// for all, the change feed, and the instance registry for dashboards.
public protocol FleetStore: UsageStore {
    /// At a window boundary: tries `pg_try_advisory_xact_lock(<fixed key>)`; the holder zeroes
    /// counters of closed windows (`minute_start` before the current minute, `day_start` before
    /// the current quota day, both by the database's clock), clears expired exhaustion, deletes
    /// `request_log` rows older than `retentionDays` and instances whose heartbeat is older than
    /// 5 minutes, all in one transaction, then notifies `reset` when it changed something.
    /// Returns `.skipped` when another instance holds the lock. Idempotent: a repeated run zeroes
    /// nothing.
    func runResets(retentionDays: Int) async throws(StoreError) -> ResetOutcome

    /// Changes announced by any instance or by SQL edits. Each stream starts with `.resync` once
    /// listening has begun and gets another `.resync` after the listener reconnects (changes in
    /// between may have been missed): on `.resync`, reload settings, keys and the snapshot.
    func changes() -> AsyncStream<StoreChange>

    /// Adds (or refreshes) this instance's row in `instances`, started and seen now.
    func registerInstance(id: String, host: String, version: String) async throws(StoreError)

    /// Marks the instance as seen now.
    /// - Throws: `.notFound` when the row is gone (a reset removed it as stale): register again.
    func heartbeat(instanceID: String) async throws(StoreError)

    /// Removes the instance's row (on shutdown). Removing a missing row is not an error.
    func deregisterInstance(id: String) async throws(StoreError)

    /// Writes `values` (name → JSON text) only when the settings table is empty, atomically, so
    /// instances starting together seed it once. Returns whether this call seeded it.
    func seedSettings(_ values: [String: String], by actor: String) async throws(StoreError) -> Bool

    /// One row, to refresh the cache after a notification names it; nil when it does not exist.
    func loadRow(_ id: UsageRowID) async throws(StoreError) -> UsageRow?
}

/// What `FleetStore.runResets` did.
public enum ResetOutcome: Sendable, Hashable {
    /// This instance held the lock; `rowsZeroed` usage rows had counters of a closed window.
    case ran(rowsZeroed: Int)
    /// Another instance was running the resets.
    case skipped
}

/// One change announced on the fleet's change feed (`FleetStore.changes()`).
public enum StoreChange: Sendable, Hashable {
    /// A pool setting changed (inserted, updated or deleted): reload it.
    case setting(String)
    /// A key was added, changed (health, label, removal) or deleted: reload keys.
    case key(Int64)
    /// A usage row's exhaustion mark was set or changed: reload that row (`loadRow`).
    case row(UsageRowID)
    /// Counters of closed windows were zeroed: refresh the snapshot.
    case reset
    /// Anything may have changed (listening (re)started, or an unrecognised payload): reload all.
    case resync
}
