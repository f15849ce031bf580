import Foundation

extension SQLiteStore: RequestLogStore {
    static let insertRequestLogSQL = """
        INSERT INTO request_log (
            at, request_id, instance_id, client_label, key_id, model, route, status, latency_ms,
            input_tokens, total_tokens, retries, rate_limited
        )
        VALUES (
            :at, :request_id, :instance_id, :client_label, :key_id, :model, :route, :status, :latency_ms,
            :input_tokens, :total_tokens, :retries, :rate_limited
        )
        """

    /// One `BEGIN IMMEDIATE` transaction (one WAL commit) for the whole batch.
    public func appendRequestLog(_ entries: [RequestLogEntry]) async throws(StoreError) {
        guard !entries.isEmpty else { return }
        let rows = entries.map(\.clamped)
        // In slices of a few hundred rows, each one transaction: between them the store's queue
        // serves reservations, which would otherwise wait behind a whole batch.
        for start in stride(from: 0, to: rows.count, by: Self.requestLogSlice) {
            let slice = rows[start..<min(rows.count, start + Self.requestLogSlice)]
            try await self.database.perform("append request log") { connection throws(StoreError) in
                try connection.transaction { () throws(StoreError) in
                    for entry in slice {
                        try connection.execute(Self.insertRequestLogSQL, Self.bindings(entry))
                    }
                }
            }
        }
    }

    static let requestLogSlice = 200

    @discardableResult
    public func deleteRequestLog(before cutoff: Date) async throws(StoreError) -> Int {
        try await self.database.perform("delete request log") { connection throws(StoreError) in
            try connection.execute("DELETE FROM request_log WHERE at < :cutoff", ["cutoff": SQLiteValue(cutoff)])
        }
    }

    private static func bindings(_ entry: RequestLogEntry) -> [String: SQLiteValue] {
        [
            "at": SQLiteValue(entry.at), "request_id": .text(entry.requestID),
            "instance_id": SQLiteValue(entry.instanceID), "client_label": SQLiteValue(entry.clientLabel),
            "key_id": entry.keyID.map { .integer($0) } ?? .null, "model": SQLiteValue(entry.model),
            "route": .text(entry.route), "status": SQLiteValue(entry.status),
            "latency_ms": SQLiteValue(entry.latencyMilliseconds), "input_tokens": SQLiteValue(entry.inputTokens),
            "total_tokens": SQLiteValue(entry.totalTokens), "retries": SQLiteValue(entry.retries),
            "rate_limited": SQLiteValue(entry.rateLimited),
        ]
    }
}
