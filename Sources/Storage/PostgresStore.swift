import Foundation
import Synchronization
import KeyPool
import Logging

/// The fleet store: one PostgreSQL database shared by every instance (DESIGN.md §5). Operations
/// run on a small pool of libpq connections, each on its own serial queue, so callers never block
/// Swift's cooperative threads; every value is a bound parameter of a prepared statement.
///
/// Exactness across the fleet comes from the database: `reserve` is one conditional upsert whose
/// row lock serialises all instances, and (with the default `WindowClock.database`) its windows
/// and exhaustion checks use the database's `now()`, so instances whose clocks disagree still
/// agree on which minute and which quota day a request falls in.
public final class PostgresStore: FleetStore {
    /// Which clock decides windows, exhaustion and `last_used` in `reserve`.
    public enum WindowClock: Sendable, Hashable {
        /// The database's `now()` (the default, and the only right choice for a fleet):
        /// `ReservationRequest.now` is ignored, so skewed instance clocks cannot reopen a window.
        case database
        /// `ReservationRequest.now`, as `SQLiteStore` does: for tests and simulations that drive
        /// time with an injected clock. A fleet must not use it.
        case caller
    }

    /// Advisory lock held (session level, on one connection) while migrating.
    static let migrationLockKey: Int64 = 0x4B52_4D49
    /// Advisory transaction lock of the reset job: one instance of the fleet runs it.
    static let resetLockKey: Int64 = 0x4B52_5253
    /// Advisory transaction lock of settings seeding: one instance seeds an empty table.
    static let seedLockKey: Int64 = 0x4B52_5345

    /// The connections; package-visible so tests can run SQL the protocol does not offer.
    package let pool: PostgresPool
    /// Where quota days start and which day a history row belongs to.
    /// The quota calendar (time zone of the day window); a fleet may change it at run time.
    public var calendar: QuotaCalendar { self.calendarState.withLock { $0 } }
    private let calendarState: Mutex<QuotaCalendar>
    /// Which clock `reserve` uses; `.database` unless a test asked otherwise.
    public let windowClock: WindowClock
    let logger: Logger
    let listener: PostgresListener
    /// Nil means the migrations bundled with this build.
    let migrationsDirectory: URL?

    /// Connects `poolSize` connections to `url`. Call `migrate()` before anything else on a new
    /// database. The change feed's connection is opened on the first `changes()` call.
    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/db?options` (or a libpq `key=value` string).
    ///     It is handed to libpq only: no error, log line or description ever contains it.
    ///   - calendar: Quota windows; default Pacific time, where Google resets daily quotas.
    ///   - logger: Receives migration, listener and failure events; never secrets.
    ///   - poolSize: Connections for operations (at least 1); default 4.
    ///   - windowClock: Default `.database`; `.caller` only for tests and simulations.
    ///   - migrationsDirectory: A directory of `NNNN_name.sql` files to use instead of the
    ///     bundled `SQL/postgres/migrations` (tests, tools); default nil.
    /// - Throws: `StoreError.Code.unavailable` when the database cannot be reached or refuses
    ///   the login.
    public init(
        url: String,
        calendar: QuotaCalendar = .pacific,
        logger: Logger,
        poolSize: Int = 4,
        windowClock: WindowClock = .database,
        migrationsDirectory: URL? = nil
    ) async throws(StoreError) {
        let logger = logger.with(["store": "postgres"])
        self.pool = try await PostgresPool.connect(url: url, size: poolSize)
        self.calendarState = Mutex(calendar)
        self.windowClock = windowClock
        self.logger = logger
        self.listener = PostgresListener(url: url, logger: logger)
        self.migrationsDirectory = migrationsDirectory
    }

    /// Stops the change feed (finishing its streams) and closes every connection; later calls
    /// throw `StoreError.Code.closed`. Idempotent. Call it before dropping the store: the
    /// listening thread, once started by `changes()`, runs until then.
    /// Puts a new quota calendar in force for later operations (`quota_timezone` changed).
    public func setCalendar(_ calendar: QuotaCalendar) {
        self.calendarState.withLock { $0 = calendar }
    }

    public func close() async {
        await self.listener.stop()
        await self.pool.close()
    }

    /// The change feed; see `FleetStore.changes()`. The first call opens the listening connection.
    public func changes() -> AsyncStream<StoreChange> {
        self.listener.subscribe()
    }

    // MARK: - Migrations

    private static let createSchemaMigrations = """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            checksum TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )
        """

    /// Applies the pending migration files under a session advisory lock held on one connection,
    /// so instances starting together apply each file once; each file runs in its own transaction
    /// together with its `schema_migrations` row.
    /// - Throws: `.checksumMismatch` (operation `migrate NNNN_name`) when an applied file changed;
    ///   `.schemaTooNew` when a newer build migrated the database; `.unavailable` when the
    ///   migration files cannot be read; the failing file's error otherwise (nothing of it kept).
    public func migrate() async throws(StoreError) -> MigrationReport {
        let runner = try MigrationRunner.load(directory: self.migrationsDirectory, bundledResource: "PostgresSQL")
        let logger = self.logger
        let lock = [PostgresValue(Self.migrationLockKey)]
        let report = try await self.pool.perform("migrate") { connection throws(StoreError) in
            try connection.execute("SELECT pg_advisory_lock($1::bigint)", lock)
            // The server drops a session lock with its connection, so a failed unlock needs no retry.
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1::bigint)", lock) }
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
        let runner = try MigrationRunner.load(directory: self.migrationsDirectory, bundledResource: "PostgresSQL")
        try await self.pool.perform("verify schema") { connection throws(StoreError) in
            try connection.executeScript(Self.createSchemaMigrations)
            try runner.verifyUpToDate(applied: Self.appliedMigrations(connection))
        }
    }

    private static func apply(
        _ runner: MigrationRunner,
        on connection: PostgresConnection,
        logger: Logger
    ) throws(StoreError) -> MigrationReport {
        try connection.executeScript(Self.createSchemaMigrations)
        // Under the lock nobody else migrates, so one read decides; a changed file is refused
        // before anything is applied.
        let pending = try runner.pending(applied: Self.appliedMigrations(connection))

        var applied: [String] = []
        for file in pending {
            connection.operation = "migrate \(file.name)"
            try connection.transaction { () throws(StoreError) in
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
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1::integer, $2::text, $3::text)",
                    [PostgresValue(file.version), PostgresValue(file.name), PostgresValue(file.checksum)]
                )
            }
            applied.append(file.name)
        }

        let version = try Self.appliedMigrations(connection).map(\.version).max() ?? 0
        return MigrationReport(applied: applied, currentVersion: version)
    }

    private static func appliedMigrations(_ connection: PostgresConnection) throws(StoreError) -> [AppliedMigration] {
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
        try await self.pool.perform("snapshot") { connection throws(StoreError) in
            try connection.query("SELECT * FROM key_usage ORDER BY model, key_id").map(Self.usageRow)
        }
    }

    /// One `key_usage` row as stored, or nil.
    public func loadRow(_ id: UsageRowID) async throws(StoreError) -> UsageRow? {
        let params = [PostgresValue(id.model), PostgresValue(id.keyID)]
        return try await self.pool.perform("load row") { connection throws(StoreError) in
            try connection.query(Self.selectRowSQL, params).first.map(Self.usageRow)
        }
    }

    static let selectRowSQL = "SELECT * FROM key_usage WHERE model = $1::text AND key_id = $2::bigint"

    /// Decodes a `key_usage` row (all columns, as `RETURNING *` and `SELECT *` give them).
    static func usageRow(_ row: PostgresRow) throws(StoreError) -> UsageRow {
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
