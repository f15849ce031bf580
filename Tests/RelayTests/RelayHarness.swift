import Foundation
import HTTPServer
import KeyPool
import KeyRelayTestSupport
import Logging
import Relay
import Simulator
import Storage
import Upstream

/// A live stack on 127.0.0.1: the simulator as upstream, and a relay on a real SQLite file in a
/// temporary directory, each behind its own HTTPServer. Requests go over real sockets.
final class RelayHarness: Sendable {
    static let token = "harness-client-token"
    static let adminToken = "harness-admin-token"

    let simulatorServer: HTTPServer
    let relayServer: HTTPServer
    let relay: Relay
    let store: SQLiteStore
    let client: UpstreamClient
    let upstream: UpstreamClient
    let logs: CapturingLogHandler
    let directory: TemporaryDirectory
    let keys: [String]

    var relayURL: String { "http://127.0.0.1:\(self.relayServer.port)" }
    var simulatorURL: String { "http://127.0.0.1:\(self.simulatorServer.port)" }

    /// - Parameters:
    ///   - keys: the relay's keys; `simulatorKeys` (default the same) are those the simulator accepts.
    ///   - environment: extra `KEYRELAY_*` settings for the relay.
    ///   - configureSimulator: changes to the simulator's options.
    init(
        keys: [String],
        simulatorKeys: [String]? = nil,
        vertexKeys: [String] = [],
        environment: [String: String] = [:],
        configureSimulator: (inout SimulatorOptions) -> Void = { _ in }
    ) async throws {
        self.keys = keys
        self.logs = CapturingLogHandler()
        let logger = self.logs.logger(label: "relay", level: .debug)
        self.directory = try TemporaryDirectory(prefix: "relay-harness")

        var options = SimulatorOptions(keys: (simulatorKeys ?? keys).compactMap(APIKey.init))
        options.vertexKeys = vertexKeys.compactMap(APIKey.init)
        options.host = "127.0.0.1"
        options.port = 0
        options.chunkCount = 3
        configureSimulator(&options)
        self.simulatorServer = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0, maxBodyBytes: 64 << 20),
            handler: GeminiSimulator(options: options),
            logger: Logger.silent
        )
        try self.simulatorServer.start()

        var env = [
            "KEYRELAY_API_KEYS": keys.joined(separator: ","),
            "KEYRELAY_ALLOWED_TOKENS": "harness:\(Self.token)",
            "KEYRELAY_ADMIN_TOKEN": Self.adminToken,
            "KEYRELAY_UPSTREAM_BASE_URL": "http://127.0.0.1:\(self.simulatorServer.port)",
            "KEYRELAY_VERTEX_BASE_URL": "http://127.0.0.1:\(self.simulatorServer.port)",
            "KEYRELAY_VERTEX_API_KEYS": vertexKeys.joined(separator: ","),
            "KEYRELAY_DATABASE_URL": self.directory.path("relay.sqlite"),
            "KEYRELAY_MAX_RETRIES": "3",
        ]
        env.merge(environment) { _, new in new }
        let (settings, _) = try Settings.load(environment: env)
        try settings.validate()

        self.store = try await SQLiteStore(
            path: settings.server.databaseURL,
            calendar: QuotaCalendar(timeZone: settings.pool.quotaTimeZone),
            logger: logger.named("store")
        )
        self.upstream = try UpstreamClient(logger: logger.named("upstream"))
        self.client = try UpstreamClient(logger: Logger.silent)
        self.relay = Relay(settings: settings, store: self.store, upstream: self.upstream, logger: logger)
        try await self.relay.start()
        self.relayServer = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0, maxBodyBytes: settings.server.maxBodyBytes),
            handler: self.relay,
            logger: logger.named("http")
        )
        try self.relayServer.start()
    }

    func shutdown() async {
        await self.relayServer.shutdown(drainTimeout: .seconds(2))
        await self.relay.shutdown()
        await self.simulatorServer.shutdown(drainTimeout: .seconds(2))
        self.client.shutdown()
        self.upstream.shutdown()
        await self.store.close()
    }

    struct Reply: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var text: String { String(decoding: self.body, as: UTF8.self) }
        var json: JSONValue? { try? JSONValue.parse(self.body) }
        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// Sends a request to the relay with the client token in `x-goog-api-key` (unless `token` is nil).
    func send(
        _ path: String,
        body: String,
        token: String? = RelayHarness.token,
        headers: [(name: String, value: String)] = []
    ) async throws -> Reply {
        try await self.send("POST", path, body: body, token: token, headers: headers)
    }

    /// Sends `method` to the relay's `path`, with the client token in `x-goog-api-key` (unless nil).
    func send(
        _ method: String,
        _ path: String,
        body: String = "",
        token: String? = RelayHarness.token,
        headers: [(name: String, value: String)] = []
    ) async throws -> Reply {
        var allHeaders = headers
        if let token { allHeaders.append(("x-goog-api-key", token)) }
        if !body.isEmpty { allHeaders.append(("Content-Type", "application/json")) }
        return try await self.request(method, self.relayURL + path, body: Array(body.utf8), headers: allHeaders)
    }

    /// A `generateContent` call for `model` with `text`.
    func generate(_ text: String = "hello", model: String = "gemini-2.5-flash") async throws -> Reply {
        try await self.send(
            "/v1beta/models/\(model):generateContent",
            body: #"{"contents":[{"parts":[{"text":"\#(text)"}]}]}"#
        )
    }

    func request(
        _ method: String,
        _ url: String,
        body: [UInt8] = [],
        headers: [(name: String, value: String)] = []
    ) async throws -> Reply {
        let response = try await self.client.send(
            UpstreamRequest(method: method, url: url, headers: headers, body: body, firstByteTimeout: .seconds(60))
        )
        let bytes = try await response.collectBody(limit: 64 << 20)
        return Reply(status: response.status, headers: response.headers, body: bytes)
    }

    /// Requests the simulator admitted, per key index, for `model`.
    func admitted(model: String = "gemini-2.5-flash") async throws -> [Int] {
        let stats = try await self.request("GET", self.simulatorURL + "/simulator/stats").json
        let keys = (stats?["keys"]?.arrayValue ?? []).filter { ($0["kind"]?.stringValue ?? "gemini") == "gemini" }
        return keys.map { $0["models"]?[model]?["admitted"]?.intValue ?? 0 }
    }

    func simulatorRequestsTotal() async throws -> Int {
        try await self.request("GET", self.simulatorURL + "/simulator/stats").json?["requests_total"]?.intValue ?? -1
    }

    /// An admin API call with the admin token.
    func admin(_ method: String, _ path: String, body: String = "", token: String? = RelayHarness.adminToken)
        async throws -> Reply
    {
        let headers = token.map { [("Authorization", "Bearer \($0)")] } ?? []
        return try await self.request(method, self.relayURL + path, body: Array(body.utf8), headers: headers)
    }

    func setFaults(_ json: String) async throws {
        _ = try await self.request("POST", self.simulatorURL + "/simulator/faults", body: Array(json.utf8))
    }

    /// The key rows as the store has them, by position in `keys`.
    func storedKeys() async throws -> [KeyRecord] {
        let records = try await self.store.loadKeys()
        return self.keys.compactMap { raw in records.first { $0.secret.revealedForUpstream == raw } }
    }

    /// Waits until at least `seconds` remain in the current UTC minute, so a test whose counts
    /// depend on one window runs inside it (DESIGN.md §10). Returns the minute's start.
    static func startOfUsableMinute(needing seconds: Double = 20) async throws -> Date {
        let now = Date().timeIntervalSince1970
        let intoMinute = now.truncatingRemainder(dividingBy: 60)
        if 60 - intoMinute < seconds {
            try await Task.sleep(for: .milliseconds(Int((60 - intoMinute) * 1000) + 50))
        }
        return QuotaCalendar.pacific.minuteStart(of: Date())
    }
}

/// A rate-limit table with one model, for relay and simulator alike.
func singleModelTable(_ model: String = "gemini-2.5-flash", rpm: Int?, tpm: Int? = nil, rpd: Int? = nil) -> String {
    func value(_ number: Int?) -> String { number.map(String.init) ?? "null" }
    return #"{"Free Tier": {"\#(model)": {"rpm": \#(value(rpm)), "tpm": \#(value(tpm)), "rpd": \#(value(rpd))}}}"#
}

/// Distinct, realistic-looking test keys.
func testKeys(_ count: Int, tag: String = "A") -> [String] {
    (1...count).map { "AIzaSyTEST\(tag)" + String(repeating: "0", count: 26) + String(format: "%03d", $0) }
}

extension RelayHarness {
    /// A port on 127.0.0.1 that nothing listens on (bound, then closed).
    static func closedPort() async throws -> UInt16 {
        let server = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            handler: ClosedHandler(),
            logger: Logger.silent
        )
        try server.start()
        let port = server.port
        await server.shutdown(drainTimeout: .zero)
        return port
    }

    private struct ClosedHandler: HTTPHandler {
        func handle(_ request: HTTPRequest) async -> HTTPResponse { HTTPResponse(status: 500) }
    }
}

/// Opens an existing relay database the way a restarted relay does.
enum SQLiteStoreReopened {
    static func open(_ path: String) async throws -> SQLiteStore {
        let store = try await SQLiteStore(path: path, calendar: .pacific, logger: Logger.silent)
        _ = try await store.migrate()
        return store
    }
}
