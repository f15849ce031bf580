import Foundation
import KeyPool

/// What `keyrelay import-v1` will write, mapped from a gemini-balance source before the store is
/// touched: keys, client tokens (as hashes), settings under KeyRelay's names, and usage history
/// per quota day, model (normalised by the rate-limit table) and key.
///
/// History is read from gemini-balance's per (key, model) counters: `rpd` (requests of its current
/// day) lands on the quota day of the row's last use, and the lifetime token total
/// (`token_count` / `total_token_count`) is carried as a total per (table, model, key), of which
/// the store adds only what it has not imported before. gemini-balance never kept input tokens
/// apart, so imported rows have none.
public struct ImportPlan: Sendable {
    /// A key to add (existing keys are left untouched).
    public struct Key: Sendable, Hashable {
        public var secret: APIKey
        public var kind: KeyKind
        /// Where it came from, e.g. `API_KEYS entry 2`.
        public var origin: String
    }

    /// A client token, known only by its SHA-256 (lower-case hex).
    public struct Token: Sendable, Hashable {
        public var hash: String
        /// Where it came from, e.g. `ALLOWED_TOKENS entry 1`.
        public var origin: String
    }

    /// Requests of one quota day, model and key.
    public struct DayRequests: Sendable, Hashable {
        /// Hex SHA-256 of the key: how the store finds its id.
        public var keyHash: String
        public var fingerprint: String
        public var day: String
        public var model: String
        public var requests: Int
    }

    /// The lifetime token total of one (source table, model, key), and the quota day its growth
    /// since the last import is counted on (the day of the last use).
    public struct LifetimeTokens: Sendable, Hashable {
        public var keyHash: String
        public var fingerprint: String
        public var table: String
        public var model: String
        public var day: String
        public var totalTokens: Int
    }

    public var keys: [Key] = []
    public var tokens: [Token] = []
    /// SHA-256 of `AUTH_TOKEN`, set as `admin_token` only when the store has none.
    public var adminTokenHash: String?
    /// KeyRelay setting name → JSON text, written only when the store has no value yet.
    public var settings: [String: String] = [:]
    public var requests: [DayRequests] = []
    public var lifetimeTokens: [LifetimeTokens] = []
    /// Source rows that carry usage (for the report).
    public var usageRowsRead = 0
    public var skipped: [ImportSkip] = []
    /// Facts worth telling the operator that are not skips (e.g. input tokens unknown).
    public var notes: [String] = []

    public init() {}

    /// Maps `source`. Never fails: whatever cannot be mapped is listed in `skipped`.
    /// - Parameters:
    ///   - calendar: The quota time zone, which decides the day of each history row.
    ///   - geminiLimits, vertexLimits: The rate-limit tables whose longest prefix names a model.
    public static func make(
        from source: ImportSource,
        calendar: QuotaCalendar,
        geminiLimits: ModelLimits,
        vertexLimits: ModelLimits
    ) -> ImportPlan {
        var plan = ImportPlan()
        plan.skipped = source.unreadable
        if let settings = source.settings {
            plan.mapSettings(settings)
        } else {
            plan.notes.append("the source has no t_settings table: no keys, tokens or settings to import")
        }
        var keyKinds: [String: KeyKind] = [:]
        for key in plan.keys { keyKinds[key.secret.hash] = key.kind }
        var mapper = UsageMapper(calendar: calendar, limits: [.gemini: geminiLimits, .vertex: vertexLimits])
        for table in source.usage {
            mapper.map(table, keyKinds: keyKinds, into: &plan)
        }
        plan.requests = mapper.requests.values.sorted {
            ($0.day, $0.model, $0.keyHash) < ($1.day, $1.model, $1.keyHash)
        }
        plan.lifetimeTokens = mapper.tokens.values.sorted {
            ($0.table, $0.model, $0.keyHash) < ($1.table, $1.model, $1.keyHash)
        }
        if !plan.requests.isEmpty || !plan.lifetimeTokens.isEmpty {
            plan.notes.append("input tokens: gemini-balance counted only totals, so imported history has none")
        }
        return plan
    }

    /// Splits a gemini-balance list value: a JSON array of strings, else comma- or newline-separated
    /// text. Brackets and quotes left around items by gemini-balance's comma split of a JSON array
    /// (`["a"` and `"b"]`) are removed, since no key or token contains them.
    static func listItems(_ text: String) -> [String] {
        if let data = text.data(using: .utf8), let array = try? JSONSerialization.jsonObject(with: data) as? [Any] {
            return array.compactMap { $0 as? String }.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        }
        let junk = CharacterSet(charactersIn: "[]\"' \t\r\n")
        return text.split(whereSeparator: { $0 == "," || $0 == "\n" })
            .map { String($0).trimmingCharacters(in: junk) }
            .filter { !$0.isEmpty }
    }
}

// MARK: - Settings

extension ImportPlan {
    /// gemini-balance settings that belong to one process (KeyRelay's instance settings, or none).
    static let instanceOnly: Set<String> = [
        "TIME_OUT", "PROXIES", "PROXIES_USE_CONSISTENCY_HASH_BY_API_KEY", "LOG_LEVEL", "DATABASE_TYPE",
        "SQLITE_DATABASE", "MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE",
        "MYSQL_SOCKET", "TIMEZONE",
    ]

    mutating func mapSettings(_ table: ImportSource.Table) {
        for column in table.columns
        where !["id", "key", "value", "description", "created_at", "updated_at"]
            .contains(column)
        {
            self.notes.append("t_settings: unknown column '\(column)' ignored")
        }
        guard table.columns.contains("key"), table.columns.contains("value") else {
            self.skipped.append(ImportSkip(item: "t_settings", reason: "has no 'key' and 'value' columns"))
            return
        }
        var values: [String: (value: String, row: Int)] = [:]
        for row in table.rows {
            guard let name = row.text("key")?.uppercased() else {
                self.skipped.append(ImportSkip(item: "t_settings row \(row.number)", reason: "has no key"))
                continue
            }
            if let earlier = values[name] {
                self.skipped.append(
                    ImportSkip(
                        item: "t_settings row \(row.number) (\(name))",
                        reason: "duplicate of row \(earlier.row)"
                    )
                )
                continue
            }
            values[name] = (row.text("value") ?? "", row.number)
        }

        var seen: [String: String] = [:]  // key hash → origin
        for (kind, name) in [(KeyKind.gemini, "API_KEYS"), (.vertex, "VERTEX_API_KEYS")] {
            guard let text = values[name]?.value else { continue }
            for (index, item) in Self.listItems(text).enumerated() {
                let origin = "\(name) entry \(index + 1)"
                let shown = Fingerprint(secret: item).description
                guard let key = APIKey(item) else {
                    self.skipped.append(
                        ImportSkip(
                            item: "\(origin) (\(shown))",
                            reason: "malformed key (whitespace, a control or a non-ASCII character)"
                        )
                    )
                    continue
                }
                if let first = seen[key.hash] {
                    self.skipped.append(ImportSkip(item: "\(origin) (\(key))", reason: "duplicate of \(first)"))
                    continue
                }
                seen[key.hash] = origin
                self.keys.append(Key(secret: key, kind: kind, origin: origin))
            }
        }

        var tokenHashes: Set<String> = []
        if let text = values["ALLOWED_TOKENS"]?.value {
            for (index, token) in Self.listItems(text).enumerated() {
                let origin = "ALLOWED_TOKENS entry \(index + 1)"
                guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                    self.skipped.append(
                        ImportSkip(item: origin, reason: "malformed token (spaces or characters outside ASCII)")
                    )
                    continue
                }
                let hash = SHA256.hex(of: token)
                guard tokenHashes.insert(hash).inserted else {
                    self.skipped.append(ImportSkip(item: origin, reason: "duplicate token"))
                    continue
                }
                self.tokens.append(Token(hash: hash, origin: origin))
            }
        }
        if let admin = values["AUTH_TOKEN"]?.value, !admin.isEmpty {
            if admin.count >= 8 {
                self.adminTokenHash = SHA256.hex(of: admin)
            } else {
                self.skipped.append(ImportSkip(item: "AUTH_TOKEN", reason: "shorter than KeyRelay's 8 characters"))
            }
        } else if values["ALLOWED_TOKENS"] != nil {
            self.notes.append(
                "AUTH_TOKEN is empty: gemini-balance let the first client token administer; "
                    + "KeyRelay keeps admin_token apart, so none is imported"
            )
        }

        let handled: Set<String> = ["API_KEYS", "VERTEX_API_KEYS", "ALLOWED_TOKENS", "AUTH_TOKEN"]
        var unmapped: [String] = []
        for (name, entry) in values.sorted(by: { $0.key < $1.key }) where !handled.contains(name) {
            if let problem = self.mapSetting(name, entry.value) {
                self.skipped.append(ImportSkip(item: "setting \(name)", reason: problem))
            } else if Self.instanceOnly.contains(name) {
                self.notes.append("setting \(name) belongs to one process: give it to keyrelay serve if needed")
            } else if !Self.mapped.contains(name) {
                unmapped.append(name)
            }
        }
        if !unmapped.isEmpty {
            self.notes.append("settings with no KeyRelay equivalent, not imported: " + unmapped.joined(separator: ", "))
        }
    }

    /// gemini-balance settings with a KeyRelay counterpart.
    static let mapped: Set<String> = [
        "MAX_FAILURES", "MAX_RETRIES", "TEST_MODEL", "CHECK_INTERVAL_HOURS", "AUTO_DELETE_REQUEST_LOGS_DAYS",
        "BASE_URL", "VERTEX_EXPRESS_BASE_URL", "PAID_KEY",
    ]

    /// Maps one setting into `settings`; returns why it cannot be, or nil.
    mutating func mapSetting(_ name: String, _ value: String) -> String? {
        func integer(_ range: ClosedRange<Int>) -> Int? {
            guard let number = Double(value), number.rounded() == number else { return nil }
            return range.contains(Int(number)) ? Int(number) : nil
        }
        func string(_ text: String) -> String { JSONValue.string(text).serialized }
        switch name {
        case "MAX_FAILURES":
            guard let number = integer(1...1000) else { return "not a whole number in 1...1000" }
            self.settings["max_failures"] = String(number)
        case "MAX_RETRIES":
            // gemini-balance counts every attempt; KeyRelay counts the further keys after the first.
            guard let number = integer(1...21) else { return "not a whole number in 1...21" }
            self.settings["max_retries"] = String(number - 1)
        case "TEST_MODEL":
            guard let model = ModelName(value) else { return "not a valid model name" }
            self.settings["test_model"] = string(model.value)
        case "CHECK_INTERVAL_HOURS":
            guard let hours = Double(value), hours >= 0 else { return "not a number of hours" }
            guard hours > 0 else {
                self.notes.append("CHECK_INTERVAL_HOURS is 0 (checks off in gemini-balance); key_check_interval_s kept")
                return nil
            }
            let seconds = Int((hours * 3600).rounded())
            guard (10...604_800).contains(seconds) else { return "outside KeyRelay's 10 s to 7 days" }
            self.settings["key_check_interval_s"] = String(seconds)
        case "AUTO_DELETE_REQUEST_LOGS_DAYS":
            guard let days = integer(1...3650) else { return "not a whole number of days in 1...3650" }
            self.settings["request_log_retention_days"] = String(days)
        case "BASE_URL":
            guard let url = Self.origin(of: value, dropping: ["/v1beta", "/v1"]) else { return "not an http(s) URL" }
            self.settings["upstream_base_url"] = string(url)
        case "VERTEX_EXPRESS_BASE_URL":
            let suffixes = ["/v1beta1/publishers/google", "/v1/publishers/google"]
            guard let url = Self.origin(of: value, dropping: suffixes) else { return "not an http(s) URL" }
            self.settings["vertex_base_url"] = string(url)
        case "PAID_KEY":
            if !value.isEmpty {
                self.notes.append(
                    "PAID_KEY served only images in gemini-balance; set paid_key yourself to pool it (not imported)"
                )
            }
        default:
            break
        }
        return nil
    }

    /// `https://host/v1beta` → `https://host`: gemini-balance's base URLs include the API version,
    /// KeyRelay's are origins.
    static func origin(of value: String, dropping suffixes: [String]) -> String? {
        var text = value.trimmingWhitespace()
        while text.hasSuffix("/") { text.removeLast() }
        for suffix in suffixes where text.hasSuffix(suffix) {
            text.removeLast(suffix.count)
            break
        }
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            return nil
        }
        return text
    }
}
