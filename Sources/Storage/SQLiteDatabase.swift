import CSQLite
import Dispatch
import Foundation

/// One SQLite connection, confined to its own serial dispatch queue so that no blocking SQLite
/// call ever runs on Swift's cooperative pool. Async callers hand a closure to `perform`, which
/// runs it on the queue with the connection and resumes them through a checked continuation.
///
/// The file is opened in WAL mode with `synchronous=NORMAL`, a 5,000 ms busy timeout and
/// foreign keys on. Several `SQLiteDatabase` values (in one process or several) may share a file;
/// SQLite's file locks serialise their writes.
package final class SQLiteDatabase: @unchecked Sendable {
    // `@unchecked Sendable` holds because `connection` is only ever touched from blocks that
    // run on `queue`, which is serial.
    private let queue: DispatchQueue
    private let connection: SQLiteConnection

    private init(path: String, queue: DispatchQueue) throws(StoreError) {
        self.queue = queue
        self.connection = try SQLiteConnection(path: path)
    }

    /// Opens the database file at `path`, creating it and its parent directories if needed.
    /// - Throws: `StoreError.Code.unavailable` when the file cannot be created, opened or configured.
    package static func open(path: String, label: String = "keyrelay.sqlite") async throws(StoreError)
        -> SQLiteDatabase
    {
        let queue = DispatchQueue(label: label, qos: .userInitiated)
        let result: Result<SQLiteDatabase, StoreError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(StoreError) {
                    continuation.resume(returning: .success(try SQLiteDatabase(path: path, queue: queue)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Runs `body` on the connection's queue. Errors thrown by the connection name `operation`.
    /// - Throws: whatever `body` throws; `StoreError.Code.closed` after `close()`.
    @discardableResult
    package func perform<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (SQLiteConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            self.queue.async {
                self.connection.operation = operation
                do throws(StoreError) {
                    continuation.resume(returning: .success(try body(self.connection)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Closes the connection; later `perform` calls fail with `StoreError.Code.closed`.
    package func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.queue.async {
                self.connection.close()
                continuation.resume()
            }
        }
    }
}

/// The `sqlite3*` handle and its prepared-statement cache. Not thread-safe: only
/// `SQLiteDatabase` creates one, and it uses it from its serial queue alone.
package final class SQLiteConnection {
    private var handle: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    /// Named in every error thrown until the next `perform` replaces it.
    package var operation = "open"

    fileprivate init(path: String) throws(StoreError) {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw StoreError(.unavailable, operation: "open")
        }

        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            // A handle is returned even on failure and must be released.
            sqlite3_close_v2(db)
            throw StoreError(.unavailable, operation: "open", nativeCode: String(rc))
        }
        self.handle = db
        sqlite3_extended_result_codes(db, 1)
        // The busy timeout goes first so that switching to WAL waits for a concurrent opener.
        sqlite3_busy_timeout(db, 5000)
        do {
            try self.executeScript("PRAGMA journal_mode = WAL")
            try self.executeScript("PRAGMA synchronous = NORMAL")
            try self.executeScript("PRAGMA foreign_keys = ON")
        } catch {
            self.close()
            throw StoreError(.unavailable, operation: "open", nativeCode: error.nativeCode)
        }
    }

    deinit { self.close() }

    /// Finalizes cached statements and closes the handle. Idempotent.
    package func close() {
        for statement in self.statements.values { sqlite3_finalize(statement) }
        self.statements.removeAll()
        if let handle = self.handle { sqlite3_close_v2(handle) }
        self.handle = nil
    }

    /// Runs one statement with named parameters (`:name` in SQL, `"name"` in `bindings`; extra
    /// bindings are ignored, a missing one throws) and returns its rows. It always steps to
    /// `SQLITE_DONE`, so a `RETURNING` statement in autocommit mode ends its transaction before
    /// this returns.
    @discardableResult
    package func query(_ sql: String, _ bindings: [String: SQLiteValue] = [:]) throws(StoreError) -> [SQLiteRow] {
        let statement = try self.prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        try self.bind(bindings, to: statement)

        var rows: [SQLiteRow] = []
        while true {
            let rc = sqlite3_step(statement)
            if rc == SQLITE_ROW {
                rows.append(Self.readRow(statement))
            } else if rc == SQLITE_DONE {
                return rows
            } else {
                throw self.failure(rc)
            }
        }
    }

    /// Runs one statement and returns how many rows it changed.
    @discardableResult
    package func execute(_ sql: String, _ bindings: [String: SQLiteValue] = [:]) throws(StoreError) -> Int {
        try self.query(sql, bindings)
        return Int(sqlite3_changes(self.handle))
    }

    /// Runs SQL text that may hold several statements and no parameters (migrations, pragmas).
    package func executeScript(_ sql: String) throws(StoreError) {
        guard let handle = self.handle else { throw StoreError(.closed, operation: self.operation) }
        let rc = sqlite3_exec(handle, sql, nil, nil, nil)
        guard rc == SQLITE_OK else { throw self.failure(rc) }
    }

    /// Runs `body` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back when it throws. The write
    /// lock is taken up front, so concurrent writers wait (busy timeout) instead of failing midway.
    package func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try self.execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try self.execute("COMMIT")
            return value
        } catch {
            // Some errors roll the transaction back by themselves; only roll back one still open.
            if let handle = self.handle, sqlite3_get_autocommit(handle) == 0 {
                sqlite3_exec(handle, "ROLLBACK", nil, nil, nil)
            }
            throw error
        }
    }

    /// SQLite's message for the last failure, for developer logs only: it may quote SQL text
    /// (never bound values), so it must not reach a client.
    package var lastErrorMessage: String {
        guard let handle = self.handle, let message = sqlite3_errmsg(handle) else { return "closed" }
        return String(cString: message)
    }

    // MARK: - Statements

    private func prepared(_ sql: String) throws(StoreError) -> OpaquePointer {
        guard let handle = self.handle else { throw StoreError(.closed, operation: self.operation) }
        if let cached = self.statements[sql] { return cached }
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard rc == SQLITE_OK, let statement else { throw self.failure(rc) }
        self.statements[sql] = statement
        return statement
    }

    private func bind(_ bindings: [String: SQLiteValue], to statement: OpaquePointer) throws(StoreError) {
        let count = sqlite3_bind_parameter_count(statement)
        guard count > 0 else { return }
        for index in 1...count {
            // Parameter names keep their prefix (`:minute`); bindings are keyed without it.
            guard let cName = sqlite3_bind_parameter_name(statement, index),
                let value = bindings[String(String(cString: cName).dropFirst())]
            else {
                throw StoreError(.database, operation: self.operation, nativeCode: "unbound parameter")
            }
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(statement, index)
            case .integer(let int): rc = sqlite3_bind_int64(statement, index, int)
            case .real(let double): rc = sqlite3_bind_double(statement, index, double)
            case .text(let text): rc = sqlite3_bind_text(statement, index, text, -1, keyrelay_sqlite_transient())
            }
            guard rc == SQLITE_OK else { throw self.failure(rc) }
        }
    }

    private static func readRow(_ statement: OpaquePointer) -> SQLiteRow {
        var columns: [String: SQLiteValue] = [:]
        for index in 0..<sqlite3_column_count(statement) {
            let name = String(cString: sqlite3_column_name(statement, index))
            switch sqlite3_column_type(statement, index) {
            case SQLITE_INTEGER: columns[name] = .integer(sqlite3_column_int64(statement, index))
            case SQLITE_FLOAT: columns[name] = .real(sqlite3_column_double(statement, index))
            case SQLITE_TEXT:
                columns[name] = sqlite3_column_text(statement, index).map { .text(String(cString: $0)) } ?? .null
            default: columns[name] = .null
            }
        }
        return SQLiteRow(columns: columns)
    }

    private func failure(_ rc: Int32) -> StoreError {
        let code: StoreError.Code =
            switch rc & 0xFF {
            case SQLITE_CONSTRAINT, SQLITE_BUSY, SQLITE_LOCKED: .conflict
            case SQLITE_CANTOPEN, SQLITE_NOTADB, SQLITE_PERM, SQLITE_AUTH, SQLITE_READONLY: .unavailable
            case SQLITE_MISUSE where self.handle == nil: .closed
            default: .database
            }
        return StoreError(code, operation: self.operation, nativeCode: String(rc))
    }
}
