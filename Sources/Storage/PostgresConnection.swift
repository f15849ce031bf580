import CPostgres
import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One libpq connection (`PGconn*`), confined to its own serial dispatch queue so that no blocking
/// libpq call runs on Swift's cooperative pool. Async callers hand a closure to `perform`, which
/// runs it on the queue with the connection and resumes them through a checked continuation;
/// the statement methods (`query`, `execute`, `executeScript`, `transaction`) may only be called
/// inside such a closure.
///
/// Statements are prepared by name once per connection (`PQprepare`) and run with text-format
/// parameters (`PQexecPrepared`): every value is a bound parameter. A connection found broken
/// (dropped, or its backend terminated while idle) is opened again at the start of the next
/// `perform`, and its statements are prepared again on first use.
package final class PostgresConnection: @unchecked Sendable {
    // `@unchecked Sendable` holds because every mutable property below is only touched from
    // blocks running on `queue`, which is serial.
    private let queue: DispatchQueue
    private let url: String
    private let applicationName: String
    private var handle: OpaquePointer?
    private var statements: [String: String] = [:]
    private var statementCounter = 0
    private var isClosed = false
    /// Named in every error thrown until the next `perform` replaces it.
    package var operation = "connect"

    private init(url: String, applicationName: String, queue: DispatchQueue) {
        self.url = url
        self.applicationName = applicationName
        self.queue = queue
    }

    deinit {
        if let handle = self.handle { PQfinish(handle) }
    }

    /// Connects to `url` (a `postgres://user:password@host:port/db?options` URI or a libpq
    /// `key=value` string; libpq parses it).
    /// - Parameter applicationName: Shown in `pg_stat_activity`; the URL may override it.
    /// - Throws: `StoreError.Code.unavailable` (operation `connect`) when the server cannot be
    ///   reached or refuses the login. The error never holds the URL or the server's text.
    package static func connect(
        url: String,
        applicationName: String = "keyrelay"
    ) async throws(StoreError) -> PostgresConnection {
        let queue = DispatchQueue(label: "keyrelay.postgres", qos: .userInitiated)
        let connection = PostgresConnection(url: url, applicationName: applicationName, queue: queue)
        try await connection.perform("connect") { _ throws(StoreError) in }
        return connection
    }

    /// Runs `body` on the connection's queue, first reopening the connection if it was found
    /// broken. Errors thrown by the connection name `operation`.
    /// - Throws: whatever `body` throws; `.unavailable` when a broken connection cannot be
    ///   reopened; `.closed` after `close()`.
    @discardableResult
    package func perform<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
            self.queue.async {
                self.operation = operation
                do throws(StoreError) {
                    try self.prepareForUse()
                    continuation.resume(returning: .success(try body(self)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Closes the connection; later `perform` calls fail with `StoreError.Code.closed`. Idempotent.
    package func close() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            self.queue.async {
                self.isClosed = true
                self.disconnect()
                continuation.resume()
            }
        }
    }

    // MARK: - Statements (on the queue only)

    /// Runs one statement with `$1…$n` parameters and returns its rows.
    @discardableResult
    package func query(_ sql: String, _ params: [PostgresValue] = []) throws(StoreError) -> [PostgresRow] {
        let result = try self.run(sql, params)
        defer { PQclear(result) }
        return Self.rows(of: result)
    }

    /// Runs one statement and returns how many rows it inserted, updated or deleted.
    @discardableResult
    package func execute(_ sql: String, _ params: [PostgresValue] = []) throws(StoreError) -> Int {
        let result = try self.run(sql, params)
        defer { PQclear(result) }
        return PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
    }

    /// Runs SQL text that may hold several statements and no parameters (migrations, `BEGIN`),
    /// through the simple query protocol.
    package func executeScript(_ sql: String) throws(StoreError) {
        let handle = try self.liveHandle()
        guard let result = PQexec(handle, sql) else { throw self.failure(nil) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw self.failure(result) }
    }

    /// Runs `body` between `BEGIN` and `COMMIT`, rolling back when it throws.
    package func transaction<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try self.executeScript("BEGIN")
        do {
            let value = try body()
            try self.executeScript("COMMIT")
            return value
        } catch {
            self.rollbackIfOpen()
            throw error
        }
    }

    /// libpq's primary message for the last failure, for developer logs only: it is server text
    /// (it may quote SQL or a value), so it must not reach a client or a `StoreError`.
    package var lastErrorMessage: String {
        guard let handle = self.handle, let message = PQerrorMessage(handle) else { return "closed" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: - Private

    private func run(_ sql: String, _ params: [PostgresValue], retried: Bool = false) throws(StoreError)
        -> OpaquePointer
    {
        let handle = try self.liveHandle()
        let name = try self.preparedName(for: sql, on: handle)

        let copies: [UnsafeMutablePointer<CChar>?] = params.map { $0.text.flatMap { strdup($0) } }
        defer { copies.forEach { free($0) } }
        let pointers = copies.map { $0.map { UnsafePointer($0) } }
        let result = pointers.withUnsafeBufferPointer { buffer in
            PQexecPrepared(handle, name, Int32(params.count), buffer.baseAddress, nil, nil, 0)
        }
        guard let result else { throw self.failure(nil) }

        let status = PQresultStatus(result)
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK { return result }
        let error = self.failure(result)
        PQclear(result)
        // A migration run by another instance can change a `SELECT *` statement's result type
        // (0A000, "cached plan must not change result type"): prepare it again, once.
        if error.nativeCode == "0A000", !retried, PQtransactionStatus(handle) == PQTRANS_IDLE {
            self.statements[sql] = nil
            _ = PQexec(handle, "DEALLOCATE \(name)").map { PQclear($0) }
            return try self.run(sql, params, retried: true)
        }
        throw error
    }

    private func preparedName(for sql: String, on handle: OpaquePointer) throws(StoreError) -> String {
        if let name = self.statements[sql] { return name }
        self.statementCounter += 1
        let name = "kr_\(self.statementCounter)"
        guard let result = PQprepare(handle, name, sql, 0, nil) else { throw self.failure(nil) }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw self.failure(result) }
        self.statements[sql] = name
        return name
    }

    private func liveHandle() throws(StoreError) -> OpaquePointer {
        guard !self.isClosed else { throw StoreError(.closed, operation: self.operation) }
        guard let handle = self.handle else { throw StoreError(.connectionLost, operation: self.operation) }
        return handle
    }

    /// Reopens a missing or broken connection and rolls back a transaction a failed `perform`
    /// left open, so every `perform` starts on a usable, idle session.
    private func prepareForUse() throws(StoreError) {
        guard !self.isClosed else { throw StoreError(.closed, operation: self.operation) }
        if let handle = self.handle, !Self.isHealthy(handle) {
            self.disconnect()
        }
        if self.handle == nil {
            self.handle = try Self.open(url: self.url, applicationName: self.applicationName, operation: self.operation)
            self.statements.removeAll()
        } else if let handle = self.handle, PQtransactionStatus(handle) != PQTRANS_IDLE {
            self.rollbackIfOpen()
        }
    }

    private func rollbackIfOpen() {
        guard let handle = self.handle, PQstatus(handle) == CONNECTION_OK,
            PQtransactionStatus(handle) != PQTRANS_IDLE
        else { return }
        PQexec(handle, "ROLLBACK").map { PQclear($0) }
    }

    private func disconnect() {
        if let handle = self.handle { PQfinish(handle) }
        self.handle = nil
        self.statements.removeAll()
    }

    /// Maps a failed result (or a missing one) to a `StoreError` keeping the SQLSTATE.
    private func failure(_ result: OpaquePointer?) -> StoreError {
        let state = result.flatMap { PQresultErrorField($0, keyrelay_pq_diag_sqlstate()) }.map { String(cString: $0) }
        let isBroken = self.handle.map { PQstatus($0) == CONNECTION_BAD } ?? true
        return StoreError(
            Self.code(sqlState: state, connectionBroken: isBroken),
            operation: self.operation,
            nativeCode: state ?? (isBroken ? "connection bad" : nil)
        )
    }

    /// The store's code for a SQLSTATE: class 08 and admin/crash shutdowns are a lost connection,
    /// integrity violations (class 23), serialization failures, deadlocks and lock timeouts a
    /// conflict, anything else a database error.
    package static func code(sqlState: String?, connectionBroken: Bool) -> StoreError.Code {
        if connectionBroken { return .connectionLost }
        guard let state = sqlState else { return .database }
        if state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state) { return .connectionLost }
        if state.hasPrefix("23") || ["40001", "40P01", "55P03"].contains(state) { return .conflict }
        return .database
    }

    private static func rows(of result: OpaquePointer) -> [PostgresRow] {
        let columnCount = PQnfields(result)
        let names = (0..<columnCount).map { String(cString: PQfname(result, $0)) }
        var rows: [PostgresRow] = []
        rows.reserveCapacity(Int(PQntuples(result)))
        for row in 0..<PQntuples(result) {
            var columns: [String: PostgresCell] = [:]
            for column in 0..<columnCount {
                let text =
                    PQgetisnull(result, row, column) == 1 ? nil : String(cString: PQgetvalue(result, row, column))
                columns[names[Int(column)]] = PostgresCell(text: text)
            }
            rows.append(PostgresRow(columns: columns))
        }
        return rows
    }

    // MARK: - Opening

    /// Opens a connection and sets the session up (UTC, ISO dates, terse errors). Blocking: call
    /// it on a connection's queue or the listener's thread.
    /// - Throws: `.unavailable` naming `operation`; the error holds no server text.
    static func open(url: String, applicationName: String, operation: String) throws(StoreError) -> OpaquePointer {
        // Defaults come before `dbname`, which libpq expands from the URL; later entries win, so
        // the URL's own settings take precedence.
        // TCP keepalives let an idle connection (the listener's) notice a dead peer in about a
        // minute instead of the system default of hours.
        let keywords = [
            "connect_timeout", "application_name", "keepalives_idle", "keepalives_interval", "keepalives_count",
            "dbname",
        ]
        let values = ["10", applicationName, "30", "10", "3", url]
        let handle = Self.withCStringArray(keywords) { keywordPointers in
            Self.withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let handle else { throw StoreError(.unavailable, operation: operation) }
        guard PQstatus(handle) == CONNECTION_OK else {
            PQfinish(handle)
            throw StoreError(.unavailable, operation: operation)
        }
        PQsetErrorVerbosity(handle, PQERRORS_TERSE)
        keyrelay_pq_discard_notices(handle)
        // Minute windows are truncated in the session's time zone, and results are parsed as ISO.
        let setup = PQexec(handle, "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; SET client_encoding = 'UTF8'")
        let isSetUp = setup.map { PQresultStatus($0) == PGRES_COMMAND_OK } ?? false
        setup.map { PQclear($0) }
        guard isSetUp else {
            PQfinish(handle)
            throw StoreError(.unavailable, operation: operation, nativeCode: "session setup")
        }
        return handle
    }

    /// True unless the connection is known bad or its idle socket shows the server has gone (an
    /// idle connection only becomes readable when the server sends something unasked, such as
    /// the error of a terminated backend).
    static func isHealthy(_ handle: OpaquePointer) -> Bool {
        guard PQstatus(handle) == CONNECTION_OK else { return false }
        let socket = PQsocket(handle)
        guard socket >= 0 else { return false }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return true }
        guard PQconsumeInput(handle) == 1 else { return false }
        while let notification = PQnotifies(handle) { PQfreemem(notification) }
        return PQstatus(handle) == CONNECTION_OK
    }

    static func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let copies = strings.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
