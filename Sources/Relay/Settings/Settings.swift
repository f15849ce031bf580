import Foundation
import KeyPool

/// Every setting of KeyRelay (DESIGN.md §8), grouped by concern. Defaults live in
/// `Settings.default`; names are the same in the config file, the `KEYRELAY_<NAME>` environment,
/// the store and the admin API.
public struct Settings: Sendable {
    /// What to do when no key has headroom left for a model.
    public enum ExhaustedPolicy: String, Sendable, CaseIterable {
        /// Round-robin over active keys not under a 429 and let the upstream judge (the default).
        case cycle
        /// Answer 429 with `Retry-After` until a window resets.
        case reject
    }

    /// The key pool. Keys are inputs: they upsert rows of `api_keys`, the only place secrets live.
    public struct Keys: Sendable {
        /// `api_keys`: Gemini API keys (comma- or newline-separated).
        public var gemini: [APIKey] = []
        /// `vertex_api_keys`: Vertex AI Express keys.
        public var vertex: [APIKey] = []
        /// `paid_key`: one billed key with higher limits.
        public var paid: APIKey? = nil
    }

    /// Who may call the relay.
    public struct Access: Sendable {
        /// `allowed_tokens`: client tokens, each `label:token` or a bare token.
        public var clients: [ClientToken] = []
        /// `admin_token`: opens the admin API (unset: the admin API is closed).
        public var adminToken: HashedSecret? = nil
        /// `metrics_token`: required as `Authorization: Bearer` by `GET /metrics` (unset: open).
        public var metricsToken: HashedSecret? = nil
    }

    /// Where and how to reach Google.
    public struct Upstream: Sendable {
        /// `upstream_base_url`: origin of the Gemini API; the client's version path is kept.
        public var baseURL = "https://generativelanguage.googleapis.com"
        /// `vertex_base_url`: origin of Vertex AI Express.
        public var vertexBaseURL = "https://aiplatform.googleapis.com"
        /// `proxy_url`: optional outbound HTTP proxy.
        public var proxyURL: String? = nil
        /// `connect_timeout_s`, default 10.
        public var connectTimeout: Duration = .seconds(10)
        /// `first_byte_timeout_s`, default 120.
        public var firstByteTimeout: Duration = .seconds(120)
        /// `idle_timeout_s`: between stream chunks, default 120.
        public var idleTimeout: Duration = .seconds(120)
        /// `request_deadline_s`: all tries of one request together, default 600.
        public var requestDeadline: Duration = .seconds(600)
    }

    /// Limits, windows and the retry policy.
    public struct Pool: Sendable {
        /// `quota_tier`: which tier of the rate-limit table applies, default "Free Tier".
        public var quotaTier = "Free Tier"
        /// `quota_timezone`: where the quota day starts at midnight, default America/Los_Angeles.
        public var quotaTimeZone = TimeZone(identifier: "America/Los_Angeles")!
        /// `rate_limits`: tier → model prefix → limits; default the bundled table (DESIGN.md Appendix A).
        public var rateLimits = RateLimitTable.bundled()
        /// `vertex_rate_limits`: the same shape for Vertex rows; default none (unknown-model limits).
        public var vertexRateLimits: RateLimitTable? = nil
        /// `unknown_model_limits`: limits for a model no prefix matches; default unlimited.
        public var unknownModelLimits = Limits.unlimited
        /// `exhausted_policy`: `cycle` (default) or `reject`.
        public var exhaustedPolicy = ExhaustedPolicy.cycle
        /// `max_retries`: further keys tried after the first, 0...20, default 3.
        public var maxRetries = 3
        /// `max_failures`: unexplained failures in a row before a key is deactivated, default 3.
        public var maxFailures = 3
        /// `paid_tier`: the tier whose limits apply to the paid key, default "Tier 1".
        public var paidTier = "Tier 1"
        /// `paid_models`: model prefixes the paid key serves first.
        public var paidModels: [String] = []
        /// `paid_fallback`: let the paid key serve what the free pool cannot, default false.
        public var paidFallback = false
    }

    /// The process itself.
    public struct Server: Sendable {
        /// `listen`: `host:port`, default `127.0.0.1:8000`.
        public var listen = ListenAddress(host: "127.0.0.1", port: 8000)
        /// `database_url`: a SQLite file path (default `./data/keyrelay.sqlite`), or
        /// `postgres://user:password@host:port/database` for a fleet.
        public var databaseURL = "./data/keyrelay.sqlite"

        /// True when `databaseURL` names a PostgreSQL server.
        public var usesPostgres: Bool {
            self.databaseURL.hasPrefix("postgres://") || self.databaseURL.hasPrefix("postgresql://")
        }

        /// `url` with any password replaced by `****`, for logs and displays.
        public static func maskedDatabaseURL(_ url: String) -> String {
            guard let schemeEnd = url.range(of: "://"), let at = url[schemeEnd.upperBound...].lastIndex(of: "@") else {
                return url
            }
            let credentials = url[schemeEnd.upperBound..<at]
            guard let colon = credentials.firstIndex(of: ":") else { return url }
            return String(url[..<colon]) + ":****" + String(url[at...])
        }
        /// `max_body_bytes`: largest request body accepted, default 32 MiB.
        public var maxBodyBytes = 32 << 20
        /// `log_level`: `trace` … `error`, default `info`.
        public var logLevel = "info"
    }

    public var keys = Keys()
    public var access = Access()
    public var upstream = Upstream()
    public var pool = Pool()
    public var server = Server()
    /// `test_model`: model used to re-check inactive keys; unset disables the check.
    public var testModel: String? = nil
    /// `key_check_interval_s`: how often inactive keys are re-checked, default 3600.
    public var keyCheckIntervalSeconds = 3600
    /// `request_log_retention_days`, default 30.
    public var requestLogRetentionDays = 30
    /// Names set by the config file, the environment or flags (not left at their default).
    public internal(set) var explicitlySet: Set<String> = []

    public init() {}

    /// The built-in defaults.
    public static let `default` = Settings()

    /// Every configured secret (keys and tokens), for scrubbing upstream errors.
    public var allSecrets: [String] {
        var secrets = self.keys.gemini.map(\.revealedForUpstream) + self.keys.vertex.map(\.revealedForUpstream)
        if let paid = self.keys.paid { secrets.append(paid.revealedForUpstream) }
        secrets += self.access.clients.compactMap(\.token)
        if let admin = self.access.adminToken?.secret { secrets.append(admin) }
        if let metrics = self.access.metricsToken?.secret { secrets.append(metrics) }
        return secrets
    }

    /// The model limits that apply to `kind` rows, for the configured tier.
    public func modelLimits(for kind: KeyKind) -> ModelLimits {
        switch kind {
        case .gemini:
            return ModelLimits(
                models: self.pool.rateLimits.models(forTier: self.pool.quotaTier).models,
                unknownModel: self.pool.unknownModelLimits,
                knownPrefixes: self.pool.rateLimits.allPrefixes
            )
        case .vertex:
            let table = self.pool.vertexRateLimits
            let models = table?.models(forTier: self.pool.quotaTier).models ?? [:]
            return ModelLimits(
                models: models,
                unknownModel: self.pool.unknownModelLimits,
                knownPrefixes: table?.allPrefixes ?? []
            )
        }
    }

    /// The limits that apply to the paid key: the `paid_tier` of the rate-limit table.
    public var paidModelLimits: ModelLimits {
        let table = self.pool.rateLimits
        return ModelLimits(
            models: table.models(forTier: self.pool.paidTier).models,
            unknownModel: self.pool.unknownModelLimits,
            knownPrefixes: table.allPrefixes
        )
    }

    /// Checks that span settings; throws the first problem found.
    public func validate() throws(SettingError) {
        // A fleet instance may bring neither: the shared store already holds the keys and tokens.
        guard !self.server.usesPostgres else { return }
        if self.access.clients.isEmpty {
            throw SettingError(
                setting: "allowed_tokens",
                message: "is empty: set at least one client token (KEYRELAY_ALLOWED_TOKENS=label:token)"
            )
        }
        if self.keys.gemini.isEmpty && self.keys.vertex.isEmpty && self.keys.paid == nil {
            throw SettingError(setting: "api_keys", message: "is empty: configure at least one upstream key")
        }
    }
}

/// A client allowed to call the relay: a label for logs and metrics, and its token — known in
/// full when it came from the file or environment, or only as its SHA-256 when it came from the
/// store (tokens are stored as hashes).
public struct ClientToken: Sendable, Hashable, CustomStringConvertible {
    public var label: String
    /// Lower-case hex SHA-256 of the token.
    public let tokenHash: String
    /// The token itself when this process was given it; printed nowhere.
    public let token: String?

    public init(label: String, token: String) {
        self.label = label
        self.token = token
        self.tokenHash = SHA256.hex(of: token)
    }

    public init(label: String, tokenHash: String) {
        self.label = label
        self.token = nil
        self.tokenHash = tokenHash
    }

    /// The stored form: `label:sha256:<hex>`.
    public var storedForm: String { "\(self.label):sha256:\(self.tokenHash)" }

    public var description: String { "\(self.label)(sha256:\(self.tokenHash.prefix(8)))" }
}

/// A secret given either in full or only as its SHA-256 (as stored): `sha256:<64 hex digits>`.
public struct HashedSecret: Sendable, Hashable {
    public let hash: String
    public let secret: String?

    /// Parses a stored `sha256:<hex>` form, or takes a raw secret and hashes it.
    public init(_ text: String) {
        if let hash = HashedSecret.storedHash(text) {
            self.hash = hash
            self.secret = nil
        } else {
            self.hash = SHA256.hex(of: text)
            self.secret = text
        }
    }

    /// The hex digest of a `sha256:<64 hex>` text, or nil.
    static func storedHash(_ text: String) -> String? {
        guard text.hasPrefix("sha256:") else { return nil }
        let hex = text.dropFirst("sha256:".count)
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else { return nil }
        return String(hex)
    }

    /// True when `candidate` is this secret (compared by hash).
    public func matches(_ candidate: String) -> Bool {
        SHA256.hex(of: candidate).utf8.elementsEqual(self.hash.utf8)
    }
}

/// `host:port` to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (loopback). Nil when malformed.
    public init?(parsing text: String) {
        let trimmed = text.trimmingWhitespace()
        guard let colon = trimmed.lastIndex(of: ":"), let port = UInt16(trimmed[trimmed.index(after: colon)...]) else {
            return nil
        }
        var host = String(trimmed[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "127.0.0.1" : host
        self.port = port
    }

    public var description: String {
        self.host.contains(":") ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}
