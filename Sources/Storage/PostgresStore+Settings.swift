import Foundation

extension PostgresStore {
    /// Every stored setting, name → JSON text exactly as written.
    public func loadSettings() async throws(StoreError) -> [String: String] {
        try await self.pool.perform("load settings") { connection throws(StoreError) in
            var values: [String: String] = [:]
            for row in try connection.query("SELECT name, value FROM settings") {
                guard let name = row["name"].string, let value = row["value"].string else { continue }
                values[name] = value
            }
            return values
        }
    }

    /// Upserts every value in one transaction; a value that is not JSON fails the whole call with
    /// `StoreError.Code.conflict` (the `value_is_json` constraint) and changes nothing. Each
    /// written setting is announced to the fleet (`StoreChange.setting`).
    public func saveSettings(_ values: [String: String], by actor: String, at now: Date) async throws(StoreError) {
        let rows: [[PostgresValue]] = values.sorted { $0.key < $1.key }.map { name, value in
            [PostgresValue(name), PostgresValue(value), PostgresValue(now), PostgresValue(actor)]
        }
        try await self.pool.perform("save settings") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) in
                for params in rows {
                    try connection.execute(
                        """
                        INSERT INTO settings AS s (name, value, updated_at, updated_by)
                        VALUES ($1::text, $2::text, $3::timestamptz, $4::text)
                        ON CONFLICT (name) DO UPDATE SET
                            value = excluded.value,
                            updated_at = excluded.updated_at,
                            updated_by = excluded.updated_by
                        """,
                        params
                    )
                }
            }
        }
    }

    /// Seeds pool settings into an empty `settings` table, for a fleet whose instances start
    /// together (DESIGN.md §8): one transaction under an advisory transaction lock inserts every
    /// value (`ON CONFLICT DO NOTHING`) only when the table holds no row yet, stamped with the
    /// database's clock.
    /// - Returns: true when this call seeded; false when the table already had settings (or
    ///   `values` is empty).
    /// - Throws: `.conflict` when a value is not JSON (nothing is written).
    public func seedSettings(_ values: [String: String], by actor: String) async throws(StoreError) -> Bool {
        guard !values.isEmpty else { return false }
        let rows: [[PostgresValue]] = values.sorted { $0.key < $1.key }.map { name, value in
            [PostgresValue(name), PostgresValue(value), PostgresValue(actor)]
        }
        let lock = [PostgresValue(Self.seedLockKey)]
        return try await self.pool.perform("seed settings") { connection throws(StoreError) in
            try connection.transaction { () throws(StoreError) -> Bool in
                // The lock makes "empty?" and the inserts one step for every instance; a second
                // seeder waits here and then finds the table filled.
                try connection.execute("SELECT pg_advisory_xact_lock($1::bigint)", lock)
                let seeded = try connection.query("SELECT EXISTS (SELECT 1 FROM settings) AS seeded")
                guard seeded.first?["seeded"].bool == false else { return false }
                for params in rows {
                    try connection.execute(
                        """
                        INSERT INTO settings (name, value, updated_at, updated_by)
                        VALUES ($1::text, $2::text, now(), $3::text)
                        ON CONFLICT (name) DO NOTHING
                        """,
                        params
                    )
                }
                return true
            }
        }
    }
}
