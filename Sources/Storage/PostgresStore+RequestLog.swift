import Foundation

extension PostgresStore: RequestLogStore {
    /// The whole batch as one statement: each column travels as one array parameter and
    /// `unnest` zips them back into rows, so a batch is one round trip and one prepared statement
    /// whatever its size.
    static let insertRequestLogSQL = """
        INSERT INTO request_log (
            at, request_id, instance_id, client_label, key_id, model, route, status, latency_ms,
            input_tokens, total_tokens, retries, rate_limited
        )
        SELECT * FROM unnest(
            $1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
            $8::integer[], $9::integer[], $10::bigint[], $11::bigint[], $12::integer[], $13::integer[]
        )
        """

    /// One statement in one transaction for the whole batch; all rows or none.
    public func appendRequestLog(_ entries: [RequestLogEntry]) async throws(StoreError) {
        guard !entries.isEmpty else { return }
        let rows = entries.map(\.clamped)
        let params: [PostgresValue] = [
            PostgresArray.literal(rows.map { PostgresTimestamp.format($0.at) }),
            PostgresArray.literal(rows.map(\.requestID)),
            PostgresArray.literal(rows.map(\.instanceID)),
            PostgresArray.literal(rows.map(\.clientLabel)),
            PostgresArray.literal(rows.map { $0.keyID.map { String($0) } }),
            PostgresArray.literal(rows.map(\.model)),
            PostgresArray.literal(rows.map(\.route)),
            PostgresArray.literal(rows.map { String($0.status) }),
            PostgresArray.literal(rows.map { String($0.latencyMilliseconds) }),
            PostgresArray.literal(rows.map { String($0.inputTokens) }),
            PostgresArray.literal(rows.map { String($0.totalTokens) }),
            PostgresArray.literal(rows.map { String($0.retries) }),
            PostgresArray.literal(rows.map { String($0.rateLimited) }),
        ]
        try await self.pool.perform("append request log") { connection throws(StoreError) in
            try connection.execute(Self.insertRequestLogSQL, params)
        }
    }

    @discardableResult
    public func deleteRequestLog(before cutoff: Date) async throws(StoreError) -> Int {
        try await self.pool.perform("delete request log") { connection throws(StoreError) in
            try connection.execute("DELETE FROM request_log WHERE at < $1::timestamptz", [PostgresValue(cutoff)])
        }
    }
}

/// One-dimensional array parameters in PostgreSQL's text form (`{"a",NULL,"b\"c"}`): every
/// element is quoted, with `"` and `\` escaped, so no value can end its element early.
enum PostgresArray {
    static func literal(_ elements: [String?]) -> PostgresValue {
        var text = "{"
        for (index, element) in elements.enumerated() {
            if index > 0 { text += "," }
            guard let element else {
                text += "NULL"
                continue
            }
            text += "\""
            for character in element.unicodeScalars {
                if character == "\"" || character == "\\" { text += "\\" }
                text.unicodeScalars.append(character)
            }
            text += "\""
        }
        return PostgresValue(text + "}")
    }

    static func literal(_ elements: [String]) -> PostgresValue {
        Self.literal(elements.map { Optional($0) })
    }
}
