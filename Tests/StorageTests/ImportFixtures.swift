import Foundation
import KeyPool
import KeyRelayTestSupport
import Logging
import Storage

/// gemini-balance databases written by the tests themselves, from the schemas in the reference
/// (gemini-balance-behaviour.md §5): v2 (`t_settings` + `t_usage_matrix`) and v1.5
/// (`t_settings` + `t_usage_stats`), as SQLite files or as one CSV file per table.
enum GeminiBalanceFixture {
    static let gemini1 = "AIzaSyImportFixture000000000000000001"
    static let gemini2 = "AIzaSyImportFixture000000000000000002"
    static let vertex1 = "AQ.ImportFixtureVertex00000000000000001"
    /// Holds spaces: no upstream key does, so it is malformed.
    static let malformed = "AIzaSy Malformed Fixture Key 000000009"
    /// Used in the usage table but listed nowhere.
    static let orphan = "AIzaSyImportFixtureOrphan0000000000099"
    static let tokens = ["fixture-token-one", "fixture-token-two"]
    static let adminToken = "fixture-admin-token"

    /// A table as the fixture writes it: column names and rows (nil is NULL).
    struct Table {
        var name: String
        var columns: [String]
        var rows: [[String?]]
    }

    static let settingsDDL = """
        CREATE TABLE t_settings (
            id INTEGER PRIMARY KEY, key VARCHAR(100) NOT NULL UNIQUE, value TEXT, description VARCHAR(255),
            created_at DATETIME, updated_at DATETIME
        );
        """

    static let matrixDDL = """
        CREATE TABLE t_usage_matrix (
            id INTEGER PRIMARY KEY, api_key VARCHAR(100), model_name VARCHAR(100),
            rpm INTEGER DEFAULT 0, tpm INTEGER DEFAULT 0, rpd INTEGER DEFAULT 0, total_token_count INTEGER DEFAULT 0,
            minute_reset_time DATETIME, day_reset_time DATETIME, vertex_key BOOLEAN NOT NULL,
            is_active BOOLEAN DEFAULT 1, is_exhausted BOOLEAN DEFAULT 0, last_used DATETIME,
            CONSTRAINT uq_usage_stats_key UNIQUE (api_key, model_name, vertex_key)
        );
        """

    static let statsDDL = """
        CREATE TABLE t_usage_stats (
            id INTEGER PRIMARY KEY, api_key VARCHAR(100), model_name VARCHAR(100), token_count INTEGER,
            rpm INTEGER, rpd INTEGER, tpm INTEGER, exhausted BOOLEAN, rpm_timestamp DATETIME,
            tpm_timestamp DATETIME, rpd_timestamp DATETIME, timestamp DATETIME, extra_note TEXT
        );
        """

    /// v2 settings: lists as JSON arrays (as gemini-balance serialises them).
    static func settingsV2() -> Table {
        Table(
            name: "t_settings",
            columns: ["key", "value", "description"],
            rows: [
                [
                    "API_KEYS", "[\"\(gemini1)\", \"\(gemini2)\", \"\(malformed)\", \"\(gemini1)\"]",
                    "API_KEYS configuration",
                ],
                ["VERTEX_API_KEYS", "[\"\(vertex1)\"]", nil],
                ["ALLOWED_TOKENS", "[\"\(tokens[0])\", \"\(tokens[1])\"]", nil],
                ["AUTH_TOKEN", adminToken, nil],
                ["MAX_FAILURES", "10", nil],
                ["MAX_RETRIES", "3", nil],
                ["TEST_MODEL", "gemini-2.5-flash-lite", nil],
                ["BASE_URL", "https://generativelanguage.googleapis.com/v1beta", nil],
                ["TIME_OUT", "300", nil],
                ["SHOW_SEARCH_LINK", "true", nil],
            ]
        )
    }

    /// v2 usage: per key × model counters. Expected history in `expectedV2`.
    static func matrix(rpdOfFirst: Int = 10, tokensOfFirst: Int = 1000) -> Table {
        Table(
            name: "t_usage_matrix",
            columns: [
                "api_key", "model_name", "rpm", "tpm", "rpd", "total_token_count", "day_reset_time",
                "vertex_key", "is_active", "is_exhausted", "last_used",
            ],
            rows: [
                // 13:00 Pacific on 1 June.
                [
                    gemini1, "gemini-2.5-flash", "1", "10", "\(rpdOfFirst)", "\(tokensOfFirst)", "2025-06-01 00:00:00",
                    "0", "1", "0", "2025-06-01 20:00:00.123456",
                ],
                // 06:30 UTC on 2 June is still 1 June in Pacific time.
                [gemini1, "gemini-2.5-flash-lite", "0", "0", "4", "400", nil, "0", "1", "0", "2025-06-02 06:30:00"],
                [gemini2, "gemini-2.5-pro", "0", "0", "3", "900", nil, "0", "1", "1", "2025-06-02 08:00:00"],
                [vertex1, "gemini-2.5-flash", "0", "0", "2", "200", nil, "1", "1", "0", "2025-06-02T09:00:00+00:00"],
                [gemini2, "gemini-2.5-flash", "0", "0", "0", "0", nil, "0", "1", "0", nil],
                [orphan, "gemini-2.5-flash", "0", "0", "5", "50", nil, "0", "1", "0", "2025-06-02 10:00:00"],
                [gemini1, "bad model/name", "0", "0", "1", "1", nil, "0", "1", "0", "2025-06-02 10:00:00"],
            ]
        )
    }

    /// (day, model, key, requests, input tokens, total tokens) after importing `matrix()`.
    static let expectedV2: [String] = [
        "2025-06-01 gemini-2.5-flash \(Fingerprint(secret: gemini1)) 10 0 1000",
        "2025-06-01 gemini-2.5-flash-lite \(Fingerprint(secret: gemini1)) 4 0 400",
        "2025-06-02 gemini-2.5-flash \(Fingerprint(secret: vertex1)) 2 0 200",
        "2025-06-02 gemini-2.5-pro \(Fingerprint(secret: gemini2)) 3 0 900",
    ]

    /// v1.5 settings: lists as comma-separated strings.
    static func settingsV15() -> Table {
        Table(
            name: "t_settings",
            columns: ["key", "value"],
            rows: [["API_KEYS", "\(gemini1), \(gemini2)"], ["ALLOWED_TOKENS", tokens[0]]]
        )
    }

    /// v1.5 usage: raw model names, no uniqueness, and an unknown column.
    static func stats() -> Table {
        Table(
            name: "t_usage_stats",
            columns: [
                "api_key", "model_name", "token_count", "rpm", "rpd", "tpm", "exhausted", "rpd_timestamp",
                "timestamp", "extra_note",
            ],
            rows: [
                [
                    gemini1, "gemini-2.5-flash-preview-05-20", "700", "1", "7", "70", "0", "2025-05-20 07:00:00",
                    "2025-05-20 18:00:00", nil,
                ],
                [
                    gemini1, "models/gemini-2.5-flash-preview-04-17", "300", "0", "3", "0", "0", nil,
                    "2025-05-20 19:00:00", "x",
                ],
                // The same raw name again (v1.5 had no unique constraint), a Pacific day later.
                [gemini1, "gemini-2.5-flash-preview-05-20", "50", "0", "1", "0", "0", nil, "2025-05-21 08:00:00", nil],
                // No `timestamp`: dated by `rpd_timestamp`.
                [gemini2, "gemini-2.5-pro-exp-03-25", "20", "0", "2", "0", "1", "2025-05-19 12:00:00", nil, nil],
                [gemini2, "gemini-2.5-pro", "abc", "0", "1", "0", "0", nil, "2025-05-19 12:00:00", nil],
            ]
        )
    }

    /// Requests land on each row's day; the lifetime token total on the latest day of its model.
    static let expectedV15: [String] = [
        "2025-05-19 gemini-2.5-pro \(Fingerprint(secret: gemini2)) 2 0 20",
        "2025-05-20 gemini-2.5-flash-preview \(Fingerprint(secret: gemini1)) 10 0 0",
        "2025-05-21 gemini-2.5-flash-preview \(Fingerprint(secret: gemini1)) 1 0 1050",
    ]

    /// Writes `tables` into a new SQLite file at `path`, values bound as parameters.
    static func writeSQLite(path: String, ddl: String, tables: [Table]) async throws {
        let database = try await SQLiteDatabase.open(path: path)
        try await database.perform("fixture") { connection throws(StoreError) in
            try connection.executeScript(ddl)
            for table in tables {
                let names = table.columns.map { ":\($0)" }.joined(separator: ", ")
                let sql = "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES (\(names))"
                for row in table.rows {
                    var bindings: [String: SQLiteValue] = [:]
                    for (column, value) in zip(table.columns, row) { bindings[column] = SQLiteValue(value) }
                    try connection.execute(sql, bindings)
                }
            }
        }
        await database.close()
    }

    /// Writes one `<table>.csv` per table into `directory`, every field quoted, NULL as `\N`.
    static func writeCSV(directory: String, tables: [Table], extraLines: [String: [String]] = [:]) throws {
        for table in tables {
            func field(_ value: String?) -> String {
                guard let value else { return "\\N" }
                return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            var lines = [table.columns.joined(separator: ",")]
            lines += table.rows.map { $0.map(field).joined(separator: ",") }
            lines += extraLines[table.name] ?? []
            let text = lines.joined(separator: "\r\n") + "\r\n"
            try text.write(toFile: "\(directory)/\(table.name).csv", atomically: true, encoding: .utf8)
        }
    }

    /// Model limits of the bundled table's free tier, as the relay resolves names.
    static var limits: ModelLimits {
        let table = RateLimitTable.bundled()
        return ModelLimits(models: table.models(forTier: "Free Tier").models, knownPrefixes: table.allPrefixes)
    }

    static func plan(_ source: ImportSource) -> ImportPlan {
        ImportPlan.make(from: source, calendar: .pacific, geminiLimits: limits, vertexLimits: limits)
    }
}
