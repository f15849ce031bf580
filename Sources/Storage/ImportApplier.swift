import Foundation
import KeyPool

/// The statements an import needs, written once per SQL dialect (`SQLiteStore+Import.swift`,
/// `PostgresStore+Import.swift`). All run inside the import's one transaction.
protocol ImportStatements {
    /// Creates `import_v1_ledger` (cell → amount already imported) if it does not exist.
    func createLedger() throws(StoreError)
    /// Inserts the key unless its hash is stored; true when inserted.
    func insertKey(_ key: ImportPlan.Key, now: Date) throws(StoreError) -> Bool
    /// The stored key with this secret hash, removed or not.
    func key(hash: String) throws(StoreError) -> (id: Int64, removed: Bool)?
    /// A stored setting's JSON text.
    func setting(_ name: String) throws(StoreError) -> String?
    func writeSetting(_ name: String, json: String, now: Date) throws(StoreError)
    /// What an earlier import put into `cell`.
    func ledger(_ cell: String) throws(StoreError) -> Int?
    func writeLedger(_ cell: String, amount: Int, now: Date) throws(StoreError)
    /// Adds to the `usage_daily` row (creating it).
    func addHistory(day: String, model: String, keyID: Int64, requests: Int, totalTokens: Int) throws(StoreError)
}

/// One `usage_daily` row an import adds to.
private struct HistoryCell: Hashable {
    var day: String
    var model: String
    var keyID: Int64
}

/// The import's logic, shared by both stores: what to add, what to keep, and what an earlier run
/// already brought in.
enum ImportApplier {
    /// The label prefix given to imported client tokens (`v1-1`, `v1-2`, …).
    static let tokenLabelPrefix = "v1-"

    static func apply(
        _ plan: ImportPlan,
        dryRun: Bool,
        now: Date,
        with sql: some ImportStatements
    ) throws(StoreError) -> ImportOutcome {
        var outcome = ImportOutcome()
        outcome.dryRun = dryRun
        try sql.createLedger()

        for key in plan.keys {
            let shown = "\(key.kind.rawValue) \(key.secret) (\(key.origin))"
            if let stored = try sql.key(hash: key.secret.hash) {
                outcome.keysAlreadyStored.append(shown + (stored.removed ? ", removed: not restored" : ""))
            } else if try sql.insertKey(key, now: now) {
                outcome.keysAdded.append(shown)
            } else {
                outcome.keysAlreadyStored.append(shown)
            }
        }

        try Self.mergeTokens(plan, now: now, with: sql, into: &outcome)

        var settings = plan.settings
        if let hash = plan.adminTokenHash { settings["admin_token"] = JSONValue.string("sha256:\(hash)").serialized }
        for (name, json) in settings.sorted(by: { $0.key < $1.key }) {
            let stored = try sql.setting(name)
            if stored == nil || stored == "null" {
                try sql.writeSetting(name, json: json, now: now)
                outcome.settingsWritten.append(name)
            } else {
                outcome.settingsKept.append(name)
            }
        }

        try Self.addHistory(plan, now: now, with: sql, into: &outcome)
        return outcome
    }

    /// Adds the plan's tokens to `allowed_tokens` as `label:sha256:<hex>`, skipping hashes already
    /// there; a stored value that cannot be read is left alone and the tokens are skipped.
    private static func mergeTokens(
        _ plan: ImportPlan,
        now: Date,
        with sql: some ImportStatements,
        into outcome: inout ImportOutcome
    ) throws(StoreError) {
        guard !plan.tokens.isEmpty else { return }
        var entries: [String] = []
        if let stored = try sql.setting("allowed_tokens"), stored != "null" {
            guard let data = stored.data(using: .utf8),
                let list = try? JSONSerialization.jsonObject(with: data) as? [Any]
            else {
                for token in plan.tokens {
                    outcome.skipped.append(
                        ImportSkip(item: token.origin, reason: "the stored allowed_tokens is not a JSON list")
                    )
                }
                return
            }
            entries = list.compactMap { $0 as? String }
        }
        var hashes: Set<String> = []
        var labels: Set<String> = []
        for entry in entries {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            let (label, token) = parts.count == 2 && parts[0] != "sha256" ? (parts[0], parts[1]) : (nil, entry)
            if let label { labels.insert(label) }
            if token.hasPrefix("sha256:") {
                hashes.insert(String(token.dropFirst("sha256:".count)))
            } else {
                hashes.insert(SHA256.hex(of: token))
            }
        }
        var next = 1
        var changed = false
        for token in plan.tokens {
            guard !hashes.contains(token.hash) else {
                outcome.tokensAlreadyAllowed.append(token.origin)
                continue
            }
            while labels.contains("\(Self.tokenLabelPrefix)\(next)") { next += 1 }
            let label = "\(Self.tokenLabelPrefix)\(next)"
            labels.insert(label)
            hashes.insert(token.hash)
            entries.append("\(label):sha256:\(token.hash)")
            outcome.tokensAdded.append(label)
            changed = true
        }
        if changed {
            try sql.writeSetting(
                "allowed_tokens",
                json: JSONValue.array(entries.map { JSONValue.string($0) }).serialized,
                now: now
            )
        }
    }

    /// Adds to `usage_daily` only what the ledger says was not imported yet.
    private static func addHistory(
        _ plan: ImportPlan,
        now: Date,
        with sql: some ImportStatements,
        into outcome: inout ImportOutcome
    ) throws(StoreError) {
        var ids: [String: Int64?] = [:]
        var unknownReported: Set<String> = []
        func keyID(_ hash: String, _ fingerprint: String) throws(StoreError) -> Int64? {
            if let known = ids[hash] { return known }
            let id = try sql.key(hash: hash)?.id
            ids[hash] = id
            if id == nil, unknownReported.insert(hash).inserted {
                outcome.skipped.append(
                    ImportSkip(
                        item: "usage of key \(fingerprint)",
                        reason: "the key is in neither the source's key lists nor the store"
                    )
                )
            }
            return id
        }

        var additions: [HistoryCell: (requests: Int, tokens: Int)] = [:]
        for entry in plan.requests {
            guard let id = try keyID(entry.keyHash, entry.fingerprint) else { continue }
            let ledgerCell = "requests|\(entry.day)|\(entry.model)|\(id)"
            let before = try sql.ledger(ledgerCell) ?? 0
            guard entry.requests > before else {
                outcome.historyCellsUnchanged += 1
                continue
            }
            additions[HistoryCell(day: entry.day, model: entry.model, keyID: id), default: (0, 0)].requests +=
                entry.requests - before
            try sql.writeLedger(ledgerCell, amount: entry.requests, now: now)
        }
        for entry in plan.lifetimeTokens {
            guard let id = try keyID(entry.keyHash, entry.fingerprint) else { continue }
            let ledgerCell = "tokens|\(entry.table)|\(entry.model)|\(id)"
            let before = try sql.ledger(ledgerCell) ?? 0
            guard entry.totalTokens > before else {
                outcome.historyCellsUnchanged += 1
                continue
            }
            additions[HistoryCell(day: entry.day, model: entry.model, keyID: id), default: (0, 0)].tokens +=
                entry.totalTokens - before
            try sql.writeLedger(ledgerCell, amount: entry.totalTokens, now: now)
        }
        let ordered = additions.sorted {
            ($0.key.day, $0.key.model, $0.key.keyID) < ($1.key.day, $1.key.model, $1.key.keyID)
        }
        for (cell, amounts) in ordered {
            try sql.addHistory(
                day: cell.day,
                model: cell.model,
                keyID: cell.keyID,
                requests: amounts.requests,
                totalTokens: amounts.tokens
            )
            outcome.historyRowsChanged += 1
            outcome.requestsAdded += amounts.requests
            outcome.tokensTotalAdded += amounts.tokens
        }
    }
}
