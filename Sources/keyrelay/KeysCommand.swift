import Foundation
import KeyPool
import Logging
import Relay
import Storage

/// `keyrelay keys`: the stored keys and their state as a terminal table, read from the configured
/// store (SQLite or PostgreSQL). Keys appear as fingerprints only; the store is not changed.
enum KeysCommand {
    static let usage = """
        usage: keyrelay keys [--database-url URL] [--config FILE] [--name value ...]

        One line per key and model used today: id, kind, fingerprint, label, state (active,
        exhausted for which models, inactive with the reason), consecutive failures, last error,
        today's requests and tokens per model, and the time to the next reset.

        """

    static let header = [
        "ID", "KIND", "FINGERPRINT", "LABEL", "STATE", "FAILURES", "LAST ERROR", "MODEL", "REQUESTS TODAY",
        "TOKENS TODAY", "RESETS IN",
    ]

    static func run(_ arguments: [String]) async -> Int32 {
        if arguments.contains("--help") || arguments.contains("-h") {
            print(usage)
            return 0
        }
        let local: Settings
        do {
            (local, _) = try SettingsArguments.parse(arguments).load(environment: ProcessInfo.processInfo.environment)
        } catch {
            return KeyRelayCommand.fail("\(error)", status: 78)
        }
        let url = Settings.Server.maskedDatabaseURL(local.server.databaseURL)
        if !local.server.usesPostgres && !FileManager.default.fileExists(atPath: local.server.databaseURL) {
            return KeyRelayCommand.fail("setting 'database_url' (\(url)): no database there yet", status: 66)
        }
        let logger = local.makeLogger(label: "keys")
        let store: any UsageStore
        do {
            store = try await ServeCommand.openStore(local, logger: logger.named("store"))
        } catch {
            return KeyRelayCommand.fail("setting 'database_url' (\(url)): cannot open the store: \(error)")
        }
        do {
            try await store.verifySchema()
            var settings = local
            if local.server.usesPostgres {
                settings = local.applyingStored(try await store.loadSettings()).settings
            }
            let calendar = QuotaCalendar(timeZone: settings.pool.quotaTimeZone)
            let now = Date()
            let keys = try await store.loadKeys()
            let rows = try await store.snapshot()
            let daily =
                try await (store as? any HistoryImporting)?.loadDailyUsage(day: calendar.dayLabel(of: now)) ?? []
            await store.close()
            let table = Self.lines(keys: keys, rows: rows, daily: daily, calendar: calendar, now: now)
            for line in Self.render([Self.header] + table) { print(line) }
            if keys.isEmpty { print("(no keys)") }
            return 0
        } catch {
            await store.close()
            return KeyRelayCommand.fail("keys: \(error)")
        }
    }

    /// Table rows: a key's first line carries its columns, further models continue below it.
    static func lines(
        keys: [KeyRecord],
        rows: [UsageRow],
        daily: [DailyUsageRow],
        calendar: QuotaCalendar,
        now: Date
    ) -> [[String]] {
        let scrubber = SecretScrubber(secrets: keys.map(\.secret.revealedForUpstream))
        let dayEnd = calendar.dayEnd(of: now)
        var table: [[String]] = []
        for key in keys {
            let keyRows = rows.filter { $0.id.keyID == key.id }
            let keyDaily = daily.filter { $0.keyID == key.id }
            var models: [(model: String, requests: Int, tokens: Int, resetsAt: Date)] = []
            var exhausted: [String] = []
            let names = Set(keyRows.map(\.id.model)).union(keyDaily.map(\.model)).sorted()
            for model in names {
                let row = keyRows.first { $0.id.model == model }
                let history = keyDaily.first { $0.model == model }
                let rpd = row?.counters(at: now, calendar: calendar).rpd ?? 0
                let requests = max(rpd, history?.requests ?? 0)
                let tokens = history?.totalTokens ?? 0
                var resetsAt = dayEnd
                if let row, row.isExhausted(at: now), let until = row.exhaustedUntil {
                    exhausted.append(model)
                    resetsAt = until
                } else if let limit = row?.limits.rpd, rpd >= limit {
                    exhausted.append(model)
                }
                guard requests > 0 || tokens > 0 || exhausted.last == model else { continue }
                models.append((model, requests, tokens, resetsAt))
            }

            let state: String
            if !key.isActive {
                state = "inactive (\(key.deactivationReason ?? "no reason recorded"))"
            } else if !exhausted.isEmpty {
                state = "exhausted: " + exhausted.joined(separator: ", ")
            } else {
                state = "active"
            }
            var lastError = scrubber.scrub(key.lastError ?? "-")
                .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
            if lastError.count > 40 { lastError = String(lastError.prefix(39)) + "…" }
            let keyColumns = [
                String(key.id), key.kind.rawValue, key.fingerprint.description, key.label ?? "-", state,
                String(key.failureCount), lastError,
            ]
            if models.isEmpty {
                table.append(keyColumns + ["-", "0", "0", Self.duration(dayEnd.timeIntervalSince(now))])
            }
            for (index, entry) in models.enumerated() {
                let lead = index == 0 ? keyColumns : Array(repeating: "", count: keyColumns.count)
                table.append(
                    lead + [
                        entry.model, String(entry.requests), String(entry.tokens),
                        Self.duration(entry.resetsAt.timeIntervalSince(now)),
                    ]
                )
            }
        }
        return table
    }

    /// Columns padded to their widest cell, two spaces apart.
    static func render(_ rows: [[String]]) -> [String] {
        guard let columns = rows.first?.count else { return [] }
        var widths = Array(repeating: 0, count: columns)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == columns - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }
    }

    /// `2d3h`, `5h03m`, `4m10s`, `42s`.
    static func duration(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds.rounded(.up)))
        let (days, hours, minutes, secs) = (total / 86_400, total % 86_400 / 3600, total % 3600 / 60, total % 60)
        if days > 0 { return "\(days)d\(hours)h" }
        if hours > 0 { return "\(hours)h" + String(format: "%02dm", minutes) }
        if minutes > 0 { return "\(minutes)m" + String(format: "%02ds", secs) }
        return "\(secs)s"
    }
}
