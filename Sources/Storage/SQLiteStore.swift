import Foundation
import Synchronization
import KeyPool
import Logging

/// The embedded store: one SQLite file in WAL mode (DESIGN.md §5). Every operation is one
/// statement or one `BEGIN IMMEDIATE` transaction on the store's own connection, which runs on a
/// dedicated serial queue, so callers never block Swift's cooperative threads.
///
/// Several `SQLiteStore` values may open the same file (tests, a CLI next to a server); SQLite's
/// write lock keeps `reserve` exact across all of them.
public final class SQLiteStore: UsageStore {
    /// The connection; package-visible so tests can inspect tables the protocol does not expose.
    package let database: SQLiteDatabase
    /// Where windows start and which day a history row belongs to.
    /// The quota calendar (time zone of the day window); a fleet may change it at run time.
    public var calendar: QuotaCalendar { self.calendarState.withLock { $0 } }
    private let calendarState: Mutex<QuotaCalendar>
    private let checkpointer: SQLiteDatabase
    private let checkpoints: Task<Void, Never>
    let logger: Logger
    /// Nil means the migrations bundled with this build.
    let migrationsDirectory: URL?

    /// Opens (creating if needed) the database file at `path` and its parent directories.
    /// Call `migrate()` before anything else on a new file.
    /// - Parameters:
    ///   - path: The database file, e.g. `./data/keyrelay.sqlite`.
    ///   - calendar: Quota windows; default Pacific time, where Google resets daily quotas.
    ///   - logger: Receives migration and failure events; never secrets.
    ///   - migrationsDirectory: A directory of `NNNN_name.sql` files to use instead of the
    ///     bundled `SQL/sqlite/migrations` (tests, tools); default nil.
    /// - Throws: `StoreError.Code.unavailable` when the file cannot be created or opened.
    public init(
        path: String,
        calendar: QuotaCalendar = .pacific,
        logger: Logger,
        migrationsDirectory: URL? = nil
    ) async throws(StoreError) {
        self.database = try await SQLiteDatabase.open(path: path)
        // Checkpoints copy the WAL into the file and fsync it; done by the committing connection
        // they stall every reservation behind them (hundreds of ms at p99). A second connection
        // does them, passively, on its own queue.
        let checkpointer = try await SQLiteDatabase.open(path: path, label: "keyrelay.sqlite.checkpoint")
        try await self.database.perform("open") { connection throws(StoreError) in
            try connection.executeScript("PRAGMA wal_autocheckpoint = 0")
        }
        self.checkpointer = checkpointer
        self.checkpoints = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                _ = try? await checkpointer.perform("checkpoint") { connection throws(StoreError) in
                    try connection.executeScript("PRAGMA wal_checkpoint(PASSIVE)")
                }
            }
        }
        self.calendarState = Mutex(calendar)
        self.logger = logger.with(["store": "sqlite"])
        self.migrationsDirectory = migrationsDirectory
    }

    /// Closes the connection; later calls throw `StoreError.Code.closed`. Idempotent.
    /// Puts a new quota calendar in force for later operations (`quota_timezone` changed).
    public func setCalendar(_ calendar: QuotaCalendar) {
        self.calendarState.withLock { $0 = calendar }
    }

    public func close() async {
        self.checkpoints.cancel()
        await self.checkpointer.close()
        await self.database.close()
    }

    // MARK: - Migrations

    /// Applies the pending migration files, each in its own `BEGIN IMMEDIATE` transaction together
    /// with its `schema_migrations` row, so two processes migrating at once apply each file once.
    /// - Throws: `.checksumMismatch` (operation `migrate NNNN_name`) when an applied file changed;
    ///   `.schemaTooNew` when the file was migrated by a newer build; `.unavailable` when the
    ///   migration files cannot be read.
    public func migrate() async throws(StoreError) -> MigrationReport {
        let directory = self.migrationsDirectory
        let logger = self.logger
        let report = try await self.database.perform("migrate") { connection throws(StoreError) in
            let runner = try MigrationRunner.load(directory: directory, bundledResource: "Migrations")
            return try Self.apply(runner, on: connection, logger: logger)
        }
        if !report.applied.isEmpty {
            self.logger.info(
                "migrations applied",
                ["migration.count": String(report.applied.count), "schema.version": String(report.currentVersion)]
            )
        }
        return report
    }

    public func verifySchema() async throws(StoreError) {
        let directory = self.migrationsDirectory
        try await self.database.perform("verify schema") { connection throws(StoreError) in
            let runner = try MigrationRunner.load(directory: directory, bundledResource: "Migrations")
            try connection.executeScript(Self.createSchemaMigrations)
            try runner.verifyUpToDate(applied: Self.appliedMigrations(connection))
        }
    }

    private static let createSchemaMigrations = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )
        """

    private static func apply(
        _ runner: MigrationRunner,
        on connection: SQLiteConnection,
        logger: Logger
    ) throws(StoreError) -> MigrationReport {
        try connection.executeScript(Self.createSchemaMigrations)
        // Verify every applied file first, so a changed file is refused before anything is applied.
        _ = try runner.pending(applied: Self.appliedMigrations(connection))

        var applied: [String] = []
        while true {
            let next = try connection.transaction { () throws(StoreError) -> MigrationFile? in
                // Read again under the write lock: another process may have applied it meanwhile.
                guard let file = try runner.pending(applied: Self.appliedMigrations(connection)).first else {
                    return nil
                }
                connection.operation = "migrate \(file.name)"
                do throws(StoreError) {
                    try connection.executeScript(file.sql)
                } catch {
                    logger.error(
                        "migration failed",
                        ["migration": file.name, "store.detail": connection.lastErrorMessage]
                    )
                    throw error
                }
                try connection.execute(
                    """
                    INSERT INTO schema_migrations (version, name, checksum, applied_at)
                    VALUES (:version, :name, :checksum, :applied_at)
                    """,
                    [
                        "version": SQLiteValue(file.version), "name": .text(file.name),
                        "checksum": .text(file.checksum), "applied_at": SQLiteValue(Date()),
                    ]
                )
                return file
            }
            guard let next else { break }
            applied.append(next.name)
        }

        let version = try Self.appliedMigrations(connection).map(\.version).max() ?? 0
        return MigrationReport(applied: applied, currentVersion: version)
    }

    private static func appliedMigrations(_ connection: SQLiteConnection) throws(StoreError) -> [AppliedMigration] {
        try connection.query("SELECT version, name, checksum FROM schema_migrations ORDER BY version").map { row in
            AppliedMigration(
                version: row["version"].int ?? 0,
                name: row["name"].string ?? "",
                checksum: row["checksum"].string ?? ""
            )
        }
    }

    // MARK: - Snapshot

    /// Every `key_usage` row as stored (windows included; readers apply window awareness),
    /// ordered by model and key id.
    public func snapshot() async throws(StoreError) -> [UsageRow] {
        try await self.database.perform("snapshot") { connection throws(StoreError) in
            try connection.query("SELECT * FROM key_usage ORDER BY model, key_id").map(Self.usageRow)
        }
    }

    /// Decodes a `key_usage` row (all columns, as `RETURNING *` and `SELECT *` give them).
    static func usageRow(_ row: SQLiteRow) throws(StoreError) -> UsageRow {
        guard let model = row["model"].string, let keyID = row["key_id"].int64,
            let minuteStart = row["minute_start"].date, let dayStart = row["day_start"].date
        else { throw StoreError(.database, operation: "decode key_usage") }
        return UsageRow(
            id: UsageRowID(model: model, keyID: keyID),
            rpm: row["rpm"].int ?? 0,
            tpm: row["tpm"].int ?? 0,
            rpd: row["rpd"].int ?? 0,
            minuteStart: minuteStart,
            dayStart: dayStart,
            limits: Limits(rpm: row["max_rpm"].int, tpm: row["max_tpm"].int, rpd: row["max_rpd"].int),
            exhaustedUntil: row["exhausted_until"].date,
            lastUsed: row["last_used"].date
        )
    }
}
