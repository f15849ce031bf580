import Foundation
import KeyPool

// The table of settings. Each entry parses one name into `Settings` and shows it back.
extension SettingSpec {
    static let keySettings: [SettingSpec] = [
        SettingSpec(
            name: "api_keys",
            scope: .keys,
            apply: { text, settings throws(SettingError) in
                settings.keys.gemini = try apiKeys(text, setting: "api_keys")
            },
            show: { fingerprints($0.keys.gemini) }
        ),
        SettingSpec(
            name: "vertex_api_keys",
            scope: .keys,
            apply: { text, settings throws(SettingError) in
                settings.keys.vertex = try apiKeys(text, setting: "vertex_api_keys")
            },
            show: { fingerprints($0.keys.vertex) }
        ),
        SettingSpec(
            name: "paid_key",
            scope: .keys,
            apply: { text, settings throws(SettingError) in
                let keys = try apiKeys(text, setting: "paid_key")
                guard keys.count <= 1 else {
                    throw SettingError(setting: "paid_key", message: "takes one key, got \(keys.count)")
                }
                settings.keys.paid = keys.first
            },
            show: { $0.keys.paid.map { .string($0.fingerprint.description) } ?? .null }
        ),
    ]

    static let accessSettings: [SettingSpec] = [
        SettingSpec(
            name: "allowed_tokens",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                var clients: [ClientToken] = []
                for (index, entry) in listEntries(text).enumerated() {
                    let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
                    let (label, token) = parts.count == 2 ? (parts[0], parts[1]) : ("client\(index + 1)", entry)
                    if let hash = HashedSecret.storedHash(token) {
                        // The stored form: the token is known only by its hash.
                        clients.append(ClientToken(label: label, tokenHash: hash))
                        continue
                    }
                    guard !token.isEmpty, token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }),
                        label.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
                    else {
                        throw SettingError(
                            setting: "allowed_tokens",
                            message: "entry \(index + 1) must be 'label:token' or a token without spaces"
                        )
                    }
                    clients.append(ClientToken(label: label, token: token))
                }
                // An empty list would refuse every client; a fleet edit to it is refused instead.
                guard !clients.isEmpty else {
                    throw SettingError(setting: "allowed_tokens", message: "must hold at least one token")
                }
                settings.access.clients = clients
            },
            show: { settings in .array(settings.access.clients.map { .string($0.storedForm) }) }
        ),
        SettingSpec(
            name: "admin_token",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                let token = text.trimmingWhitespace()
                guard token.isEmpty || token.count >= 8 else {
                    throw SettingError(setting: "admin_token", message: "must be at least 8 characters")
                }
                settings.access.adminToken = token.isEmpty ? nil : HashedSecret(token)
            },
            show: { $0.access.adminToken.map { .string("sha256:\($0.hash)") } ?? .null }
        ),
        SettingSpec(
            name: "metrics_token",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                let token = text.trimmingWhitespace()
                guard token.isEmpty || token.count >= 8 else {
                    throw SettingError(setting: "metrics_token", message: "must be at least 8 characters")
                }
                settings.access.metricsToken = token.isEmpty ? nil : HashedSecret(token)
            },
            show: { $0.access.metricsToken.map { .string("sha256:\($0.hash)") } ?? .null }
        ),
    ]

    static let upstreamSettings: [SettingSpec] = [
        SettingSpec(
            name: "upstream_base_url",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                settings.upstream.baseURL = try baseURL(text, setting: "upstream_base_url")
            },
            show: { .string($0.upstream.baseURL) }
        ),
        SettingSpec(
            name: "vertex_base_url",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                settings.upstream.vertexBaseURL = try baseURL(text, setting: "vertex_base_url")
            },
            show: { .string($0.upstream.vertexBaseURL) }
        ),
        SettingSpec(
            name: "proxy_url",
            scope: .instance,
            apply: { text, settings throws(SettingError) in
                let url = text.trimmingWhitespace()
                guard url.isEmpty || URL(string: url)?.host != nil else {
                    throw SettingError(setting: "proxy_url", message: "must be a URL such as http://proxy:3128")
                }
                settings.upstream.proxyURL = url.isEmpty ? nil : url
            },
            // A proxy URL may carry a password: show only its host.
            show: { $0.upstream.proxyURL.flatMap { URL(string: $0)?.host }.map { .string($0) } ?? .null }
        ),
        durationSpec("connect_timeout_s", 0.1...300, \.upstream.connectTimeout),
        durationSpec("first_byte_timeout_s", 0.1...3600, \.upstream.firstByteTimeout),
        durationSpec("idle_timeout_s", 0.1...3600, \.upstream.idleTimeout),
        durationSpec("request_deadline_s", 0.1...7200, \.upstream.requestDeadline),
    ]

    static let poolSettings: [SettingSpec] = [
        integerSpec("max_retries", 0...20, \.pool.maxRetries),
        integerSpec("max_failures", 1...1000, \.pool.maxFailures),
        SettingSpec(
            name: "quota_tier",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                let tier = text.trimmingWhitespace()
                guard !tier.isEmpty else { throw SettingError(setting: "quota_tier", message: "must not be empty") }
                settings.pool.quotaTier = tier
            },
            show: { .string($0.pool.quotaTier) }
        ),
        SettingSpec(
            name: "quota_timezone",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                guard let zone = TimeZone(identifier: text.trimmingWhitespace()) else {
                    throw SettingError(
                        setting: "quota_timezone",
                        message: "must be an IANA time zone such as America/Los_Angeles"
                    )
                }
                settings.pool.quotaTimeZone = zone
            },
            show: { .string($0.pool.quotaTimeZone.identifier) }
        ),
        SettingSpec(
            name: "rate_limits",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                settings.pool.rateLimits = try RateLimitTable(json: jsonText(text, setting: "rate_limits"))
            },
            show: { tableJSON($0.pool.rateLimits) }
        ),
        SettingSpec(
            name: "vertex_rate_limits",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                let json = try jsonText(text, setting: "vertex_rate_limits")
                settings.pool.vertexRateLimits =
                    json.isEmpty
                    ? nil : try RateLimitTable(json: json, setting: "vertex_rate_limits")
            },
            show: { $0.pool.vertexRateLimits.map(tableJSON) ?? .null }
        ),
        SettingSpec(
            name: "unknown_model_limits",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                let json = try jsonText(text, setting: "unknown_model_limits")
                let value: JSONValue
                do { value = try JSONValue.parse(json) } catch {
                    throw SettingError(setting: "unknown_model_limits", message: "is not valid JSON (\(error))")
                }
                settings.pool.unknownModelLimits = try Limits(json: value, setting: "unknown_model_limits")
            },
            show: { limitsJSON($0.pool.unknownModelLimits) }
        ),
        SettingSpec(
            name: "exhausted_policy",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                guard let policy = Settings.ExhaustedPolicy(rawValue: text.trimmingWhitespace().lowercased()) else {
                    throw SettingError(setting: "exhausted_policy", message: "must be 'cycle' or 'reject'")
                }
                settings.pool.exhaustedPolicy = policy
            },
            show: { .string($0.pool.exhaustedPolicy.rawValue) }
        ),
        SettingSpec(
            name: "paid_tier",
            scope: .pool,
            apply: { text, settings throws(SettingError) in settings.pool.paidTier = text.trimmingWhitespace() },
            show: { .string($0.pool.paidTier) }
        ),
        SettingSpec(
            name: "paid_models",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                let models = listEntries(text)
                for model in models where ModelName(model) == nil {
                    throw SettingError(
                        setting: "paid_models",
                        message: "'\(model.prefix(64))' is not a valid model name"
                    )
                }
                settings.pool.paidModels = models.compactMap { ModelName($0)?.value }
            },
            show: { .array($0.pool.paidModels.map { .string($0) }) }
        ),
        SettingSpec(
            name: "paid_fallback",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                settings.pool.paidFallback = try boolean(text, setting: "paid_fallback")
            },
            show: { .bool($0.pool.paidFallback) }
        ),
        SettingSpec(
            name: "test_model",
            scope: .pool,
            apply: { text, settings throws(SettingError) in
                let name = text.trimmingWhitespace()
                guard name.isEmpty || ModelName(name) != nil else {
                    throw SettingError(setting: "test_model", message: "is not a valid model name")
                }
                settings.testModel = name.isEmpty ? nil : ModelName(name)?.value
            },
            show: { $0.testModel.map { .string($0) } ?? .null }
        ),
        integerSpec("key_check_interval_s", 10...86_400 * 7, \.keyCheckIntervalSeconds),
        integerSpec("request_log_retention_days", 1...3650, \.requestLogRetentionDays),
    ]

    static let serverSettings: [SettingSpec] = [
        SettingSpec(
            name: "listen",
            scope: .instance,
            apply: { text, settings throws(SettingError) in
                guard let address = ListenAddress(parsing: text) else {
                    throw SettingError(setting: "listen", message: "must be host:port such as 127.0.0.1:8000")
                }
                settings.server.listen = address
            },
            show: { .string($0.server.listen.description) }
        ),
        SettingSpec(
            name: "database_url",
            scope: .instance,
            apply: { text, settings throws(SettingError) in
                let url = text.trimmingWhitespace()
                guard !url.isEmpty else { throw SettingError(setting: "database_url", message: "must not be empty") }
                if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
                    guard URL(string: url)?.host != nil else {
                        throw SettingError(
                            setting: "database_url",
                            message: "must be postgres://user:password@host:port/database or a SQLite file path"
                        )
                    }
                }
                settings.server.databaseURL = url
            },
            show: { .string(Settings.Server.maskedDatabaseURL($0.server.databaseURL)) }
        ),
        integerSpec("max_body_bytes", 1024...(1 << 30), \.server.maxBodyBytes, scope: .instance),
        SettingSpec(
            name: "log_level",
            scope: .instance,
            apply: { text, settings throws(SettingError) in
                let level = text.trimmingWhitespace().lowercased()
                guard ["trace", "debug", "info", "notice", "warning", "error"].contains(level) else {
                    throw SettingError(
                        setting: "log_level",
                        message: "must be trace, debug, info, notice, warning or error"
                    )
                }
                settings.server.logLevel = level
            },
            show: { .string($0.server.logLevel) }
        ),
    ]

    private static func integerSpec(
        _ name: String,
        _ range: ClosedRange<Int>,
        _ path: WritableKeyPath<Settings, Int> & Sendable,
        scope: Scope = .pool
    ) -> SettingSpec {
        SettingSpec(
            name: name,
            scope: scope,
            apply: { text, settings throws(SettingError) in
                settings[keyPath: path] = try integer(text, setting: name, range: range)
            },
            show: { JSONValue($0[keyPath: path]) }
        )
    }

    private static func durationSpec(
        _ name: String,
        _ range: ClosedRange<Double>,
        _ path: WritableKeyPath<Settings, Duration> & Sendable
    ) -> SettingSpec {
        SettingSpec(
            name: name,
            scope: .instance,
            apply: { text, settings throws(SettingError) in
                settings[keyPath: path] = try seconds(text, setting: name, range: range)
            },
            show: { settings in
                let duration = settings[keyPath: path]
                let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
                return .number(seconds.rounded() == seconds ? String(Int(seconds)) : String(seconds))
            }
        )
    }

    static func limitsJSON(_ limits: Limits) -> JSONValue {
        .object([
            ("rpm", limits.rpm.map { JSONValue($0) } ?? .null),
            ("tpm", limits.tpm.map { JSONValue($0) } ?? .null),
            ("rpd", limits.rpd.map { JSONValue($0) } ?? .null),
        ])
    }

    static func tableJSON(_ table: RateLimitTable) -> JSONValue {
        .object(
            table.tiers.map { tier in
                (tier.name, .object(tier.models.keys.sorted().map { ($0, limitsJSON(tier.models[$0]!)) }))
            }
        )
    }
}
