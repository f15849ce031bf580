import Foundation
import KeyPool

/// A store that can take a gemini-balance import and read history back (`keyrelay import-v1`,
/// `keyrelay keys`). Both `SQLiteStore` and `PostgresStore` implement it.
public protocol HistoryImporting: UsageStore {
    /// Applies `plan` in one transaction: adds keys that are not stored yet (existing and removed
    /// keys are left untouched), merges client tokens into `allowed_tokens` as hashes, writes the
    /// mapped settings the store has no value for, and adds history to `usage_daily`.
    ///
    /// Idempotent: what each (day, model, key) and each lifetime token total contributed is kept
    /// in the `import_v1_ledger` table, and a later run adds only what grew since, so running the
    /// same import twice changes nothing. With `dryRun` everything is rolled back and the outcome
    /// tells what would have been written.
    func applyImport(_ plan: ImportPlan, dryRun: Bool, at now: Date) async throws(StoreError) -> ImportOutcome

    /// The `usage_daily` rows of one quota day (`YYYY-MM-DD`), ordered by key id and model.
    func loadDailyUsage(day: String) async throws(StoreError) -> [DailyUsageRow]
}

/// One `usage_daily` row.
public struct DailyUsageRow: Sendable, Hashable {
    public var day: String
    public var model: String
    public var keyID: Int64
    public var requests: Int
    public var inputTokens: Int
    public var totalTokens: Int
    public var errors: Int
    public var rateLimited: Int

    public init(
        day: String,
        model: String,
        keyID: Int64,
        requests: Int,
        inputTokens: Int,
        totalTokens: Int,
        errors: Int = 0,
        rateLimited: Int = 0
    ) {
        self.day = day
        self.model = model
        self.keyID = keyID
        self.requests = requests
        self.inputTokens = inputTokens
        self.totalTokens = totalTokens
        self.errors = errors
        self.rateLimited = rateLimited
    }
}

/// What `HistoryImporting.applyImport` wrote (or, in a dry run, would have written).
public struct ImportOutcome: Sendable, Hashable {
    /// Keys added, as `kind fingerprint (origin)`.
    public var keysAdded: [String] = []
    /// Keys already stored and left as they were.
    public var keysAlreadyStored: [String] = []
    /// Tokens added to `allowed_tokens`, by the label given to them.
    public var tokensAdded: [String] = []
    /// Tokens already allowed (same hash), by origin.
    public var tokensAlreadyAllowed: [String] = []
    /// Settings written (names), and settings the store already had (kept).
    public var settingsWritten: [String] = []
    public var settingsKept: [String] = []
    /// `usage_daily` rows added to, and the requests and tokens added.
    public var historyRowsChanged = 0
    public var requestsAdded = 0
    public var tokensTotalAdded = 0
    /// History cells already imported by an earlier run (nothing added).
    public var historyCellsUnchanged = 0
    /// Usage whose key the store does not know (not in the source's key lists nor stored).
    public var skipped: [ImportSkip] = []
    /// Whether everything was rolled back (`--dry-run`).
    public var dryRun = false

    public init() {}
}
