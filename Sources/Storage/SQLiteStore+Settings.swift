import Foundation

extension SQLiteStore {
    /// Every stored setting, name → JSON text.
    public func loadSettings() async throws(StoreError) -> [String: String] {
        try await self.database.perform("load settings") { connection throws(StoreError) in
            var values: [String: String] = [:]
            for row in try connection.query("SELECT name, value FROM settings") {
                guard let name = row["name"].string, let value = row["value"].string else { continue }
                values[name] = value
            }
            return values
        }
    }

    /// Upserts every value in one transaction; a value that is not JSON fails the whole call with
    /// `StoreError.Code.conflict` (the `value_is_json` constraint) and changes nothing.
    public func saveSettings(_ values: [String: String], by actor: String, at now: Date) async throws(StoreError) {
        let rows: [[String: SQLiteValue]] = values.sorted { $0.key < $1.key }.map { name, value in
            ["name": .text(name), "value": .text(value), "now": SQLiteValue(now), "actor": .text(actor)]
        }
        try await self.database.perform("save settings") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) in
                for bindings in rows {
                    try connection.execute(
                        """
                        INSERT INTO settings (name, value, updated_at, updated_by)
                        VALUES (:name, :value, :now, :actor)
                        ON CONFLICT (name) DO UPDATE SET
                            value = excluded.value,
                            updated_at = excluded.updated_at,
                            updated_by = excluded.updated_by
                        """,
                        bindings
                    )
                }
            }
        }
    }
}
