import Foundation
import KeyPool
import Logging
import Relay
import Storage

/// `keyrelay import-v1`: brings a gemini-balance database (keys, client tokens, settings, usage
/// history) into the configured store, in one transaction, idempotently (DESIGN.md §6).
enum ImportCommand {
    static let usage = """
        usage: keyrelay import-v1 (--from PATH.sqlite | --csv-dir DIR) [--dry-run]
                                  [--database-url URL] [--config FILE] [--name value ...]

          --from PATH      gemini-balance's SQLite database (e.g. data/default_db), opened read-only
          --csv-dir DIR    the same tables exported as CSV with a header row, one file per table:
                           t_settings.csv, t_usage_matrix.csv and/or t_usage_stats.csv (MySQL users)
          --dry-run        report what would be imported and write nothing

        Imports API_KEYS and VERTEX_API_KEYS as keys (stored keys are left as they are),
        ALLOWED_TOKENS into allowed_tokens as SHA-256 hashes, AUTH_TOKEN as admin_token and a few
        settings the store has no value for yet, and usage history into usage_daily. Running it
        again adds nothing already imported. Secrets are never printed, only fingerprints.

        """

    static func run(_ arguments: [String]) async -> Int32 {
        var rest: [String] = []
        var sqlitePath: String?
        var csvDirectory: String?
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--help" || argument == "-h" {
                print(usage)
                return 0
            }
            var matched = false
            for name in ["--from", "--csv-dir"] where argument == name || argument.hasPrefix(name + "=") {
                matched = true
                let value: String
                if argument == name {
                    guard index + 1 < arguments.count else {
                        return KeyRelayCommand.fail("\(name) needs a value", status: 64)
                    }
                    value = arguments[index + 1]
                    index += 1
                } else {
                    value = String(argument.dropFirst(name.count + 1))
                }
                if name == "--from" { sqlitePath = value } else { csvDirectory = value }
            }
            if !matched { rest.append(argument) }
            index += 1
        }
        guard (sqlitePath == nil) != (csvDirectory == nil) else {
            return KeyRelayCommand.fail(
                "give exactly one of --from PATH.sqlite or --csv-dir DIR\n\n\(usage)",
                status: 64
            )
        }

        let settings: Settings
        let dryRun: Bool
        do {
            let parsed = try SettingsArguments.parse(rest, knownFlags: ["dry-run"])
            (settings, _) = try parsed.load(environment: ProcessInfo.processInfo.environment)
            dryRun = parsed.flags.contains("dry-run")
        } catch {
            return KeyRelayCommand.fail("\(error)", status: 78)
        }

        let source: ImportSource
        do {
            if let sqlitePath {
                source = try await ImportSource.readSQLite(path: sqlitePath)
            } else {
                source = try ImportSource.readCSV(directory: csvDirectory ?? "")
            }
        } catch {
            return KeyRelayCommand.fail("import-v1: \(error)", status: 66)
        }

        let logger = settings.makeLogger(label: "import")
        let store: any UsageStore
        do {
            store = try await ServeCommand.openStore(settings, logger: logger.named("store"))
        } catch {
            let url = Settings.Server.maskedDatabaseURL(settings.server.databaseURL)
            return KeyRelayCommand.fail("setting 'database_url' (\(url)): cannot open the store: \(error)")
        }
        do {
            let status = try await Self.importing(source, into: store, settings: settings, dryRun: dryRun)
            await store.close()
            return status
        } catch {
            await store.close()
            return KeyRelayCommand.fail("import-v1: \(error); nothing was written")
        }
    }

    private static func importing(
        _ source: ImportSource,
        into store: any UsageStore,
        settings local: Settings,
        dryRun: Bool
    ) async throws(StoreError) -> Int32 {
        guard let importer = store as? any HistoryImporting else {
            return KeyRelayCommand.fail("import-v1: this store cannot import")
        }
        if dryRun {
            do {
                try await store.verifySchema()
            } catch {
                return KeyRelayCommand.fail(
                    "import-v1: \(error): run keyrelay migrate first (a dry run writes nothing)"
                )
            }
        } else {
            _ = try await store.migrate()
        }
        // In a fleet the stored settings are the truth (quota time zone, rate-limit table).
        var settings = local
        if local.server.usesPostgres {
            settings = local.applyingStored(try await store.loadSettings()).settings
        }

        var plan = ImportPlan.make(
            from: source,
            calendar: QuotaCalendar(timeZone: settings.pool.quotaTimeZone),
            geminiLimits: settings.modelLimits(for: .gemini),
            vertexLimits: settings.modelLimits(for: .vertex)
        )
        // The relay's own rules decide whether a mapped value is acceptable.
        for (name, json) in plan.settings.sorted(by: { $0.key < $1.key }) {
            let problems = Settings.default.applyingStored([name: json]).problems
            if let problem = problems.first {
                plan.settings[name] = nil
                plan.skipped.append(ImportSkip(item: "setting \(name)", reason: problem))
            }
        }

        let outcome = try await importer.applyImport(plan, dryRun: dryRun, at: Date())
        let target = local.server.usesPostgres ? "postgres" : "sqlite"
        let url = Settings.Server.maskedDatabaseURL(local.server.databaseURL)
        for line in Self.report(source: source, plan: plan, outcome: outcome, target: "\(target) \(url)") {
            print(line)
        }
        if !local.server.usesPostgres && !outcome.keysAdded.isEmpty {
            print(
                "note: on SQLite, keyrelay serve makes its own api_keys and vertex_api_keys the pool at every "
                    + "start; list the imported keys there too (their history stays with them either way)"
            )
        }
        return 0
    }

    /// The human-readable report: counts first, then every skip with its reason. No secrets.
    static func report(source: ImportSource, plan: ImportPlan, outcome: ImportOutcome, target: String) -> [String] {
        var lines: [String] = []
        let tables = ([source.settings?.name] + source.usage.map(\.name)).compactMap { $0 }
        lines.append("import-v1 from \(source.origin) (\(tables.joined(separator: ", "))) into \(target)")
        lines.append("keys: \(outcome.keysAdded.count) added, \(outcome.keysAlreadyStored.count) already stored")
        for key in outcome.keysAdded { lines.append("  added \(key)") }
        for key in outcome.keysAlreadyStored { lines.append("  already stored \(key)") }
        lines.append(
            "allowed tokens: \(outcome.tokensAdded.count) added as hashes"
                + (outcome.tokensAdded.isEmpty ? "" : " (\(outcome.tokensAdded.joined(separator: ", ")))")
                + ", \(outcome.tokensAlreadyAllowed.count) already allowed"
        )
        lines.append(
            "settings: written "
                + (outcome.settingsWritten.isEmpty ? "none" : outcome.settingsWritten.joined(separator: ", "))
                + "; kept (already set in the store) "
                + (outcome.settingsKept.isEmpty ? "none" : outcome.settingsKept.joined(separator: ", "))
        )
        lines.append(
            "usage: \(plan.usageRowsRead) source rows with usage; \(outcome.historyRowsChanged) usage_daily rows "
                + "written (+\(outcome.requestsAdded) requests, +\(outcome.tokensTotalAdded) tokens); "
                + "\(outcome.historyCellsUnchanged) already imported"
        )
        let skipped = plan.skipped + outcome.skipped
        lines.append("skipped: \(skipped.count)")
        for skip in skipped { lines.append("  \(skip)") }
        for note in plan.notes { lines.append("note: \(note)") }
        if outcome.dryRun { lines.append("dry run: nothing was written") }
        return lines
    }
}
