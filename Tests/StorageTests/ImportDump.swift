import Foundation
import KeyPool
import Storage

/// Reads back what an import wrote, as comparable lines, from either store.
enum ImportDump {
    /// `day model fingerprint requests input_tokens total_tokens`, ordered.
    static func history(_ store: any HistoryImporting) async throws -> [String] {
        let sql = """
            SELECT CAST(u.day AS TEXT) AS day, u.model, k.fingerprint, u.requests, u.input_tokens, u.total_tokens
            FROM usage_daily u JOIN api_keys k ON k.id = u.key_id ORDER BY 1, 2, 3
            """
        return try await self.lines(
            store,
            sql,
            ["day", "model", "fingerprint", "requests", "input_tokens", "total_tokens"]
        )
    }

    /// Every row of the tables an import touches, to compare before and after.
    static func everything(_ store: any HistoryImporting) async throws -> [String] {
        var lines: [String] = []
        lines += try await self.lines(
            store,
            "SELECT id, kind, secret_hash, fingerprint, label, removed_at FROM api_keys ORDER BY id",
            ["id", "kind", "secret_hash", "fingerprint", "label", "removed_at"]
        )
        lines += try await self.lines(store, "SELECT name, value FROM settings ORDER BY name", ["name", "value"])
        lines += try await self.history(store)
        let ledger = try await self.lines(
            store,
            "SELECT name FROM sqlite_master WHERE name = 'import_v1_ledger' UNION ALL SELECT 'x' WHERE 0",
            ["name"],
            postgresSQL:
                "SELECT table_name AS name FROM information_schema.tables WHERE table_name = 'import_v1_ledger'"
        )
        if !ledger.isEmpty {
            lines += try await self.lines(
                store,
                "SELECT cell, amount FROM import_v1_ledger ORDER BY cell",
                ["cell", "amount"]
            )
        }
        return lines
    }

    private static func lines(
        _ store: any HistoryImporting,
        _ sql: String,
        _ columns: [String],
        postgresSQL: String? = nil
    ) async throws -> [String] {
        if let sqlite = store as? SQLiteStore {
            let rows = try await sqlite.database.perform("dump") { connection throws(StoreError) in
                try connection.query(sql)
            }
            return rows.map { row in
                columns.map { row[$0].string ?? row[$0].int64.map(String.init) ?? "NULL" }
                    .joined(separator: " ")
            }
        }
        if let postgres = store as? PostgresStore {
            let query = postgresSQL ?? sql
            let rows = try await postgres.pool.perform("dump") { connection throws(StoreError) in
                try connection.query(query)
            }
            return rows.map { row in columns.map { row[$0].string ?? "NULL" }.joined(separator: " ") }
        }
        return []
    }
}
