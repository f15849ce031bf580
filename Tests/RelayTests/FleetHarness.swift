import Foundation
import HTTPServer
import KeyPool
import KeyRelayTestSupport
import Logging
import Relay
import Simulator
import Storage
import Upstream

/// Several relays on one fresh PostgreSQL database, in front of one simulator, each with its own
/// store connections and HTTP server, as separate instances of a fleet would be.
final class FleetHarness: Sendable {
    let database: TestDatabase
    let simulatorServer: HTTPServer
    let relays: [Relay]
    let servers: [HTTPServer]
    let stores: [PostgresStore]
    let upstreams: [UpstreamClient]
    let client: UpstreamClient
    let logs: CapturingLogHandler
    static let token = "fleet-client-token"
    static let adminToken = "fleet-admin-token"

    var simulatorURL: String { "http://127.0.0.1:\(self.simulatorServer.port)" }
    func url(_ instance: Int) -> String { "http://127.0.0.1:\(self.servers[instance].port)" }

    /// - Parameter environments: one per instance, merged over the common settings.
    init(
        instances: Int,
        keys: [String],
        environment: [String: String] = [:],
        environments: [[String: String]] = [],
        configureSimulator: (inout SimulatorOptions) -> Void = { _ in }
    ) async throws {
        self.database = try await TestDatabase.create()
        self.logs = CapturingLogHandler()
        var options = SimulatorOptions(keys: keys.compactMap(APIKey.init))
        options.host = "127.0.0.1"
        options.port = 0
        configureSimulator(&options)
        self.simulatorServer = HTTPServer(
            configuration: .init(host: "127.0.0.1", port: 0),
            handler: GeminiSimulator(options: options),
            logger: .silent
        )
        try self.simulatorServer.start()
        self.client = try UpstreamClient(logger: .silent)

        var relays: [Relay] = []
        var servers: [HTTPServer] = []
        var stores: [PostgresStore] = []
        var upstreams: [UpstreamClient] = []
        for index in 0..<instances {
            var env = [
                "KEYRELAY_API_KEYS": keys.joined(separator: ","),
                "KEYRELAY_ALLOWED_TOKENS": "fleet:\(Self.token)",
                "KEYRELAY_ADMIN_TOKEN": Self.adminToken,
                "KEYRELAY_UPSTREAM_BASE_URL": "http://127.0.0.1:\(self.simulatorServer.port)",
                "KEYRELAY_DATABASE_URL": self.database.url,
            ]
            env.merge(environment) { _, new in new }
            if index < environments.count { env.merge(environments[index]) { _, new in new } }
            let (settings, _) = try Settings.load(environment: env)
            let logger = self.logs.logger(label: "relay\(index)", level: .debug)
            let store = try await PostgresStore(
                url: self.database.url,
                calendar: QuotaCalendar(timeZone: settings.pool.quotaTimeZone),
                logger: logger.named("store")
            )
            let upstream = try UpstreamClient(logger: .silent)
            let relay = Relay(settings: settings, store: store, upstream: upstream, logger: logger)
            try await relay.start()
            let server = HTTPServer(configuration: .init(host: "127.0.0.1", port: 0), handler: relay, logger: .silent)
            try server.start()
            relays.append(relay)
            servers.append(server)
            stores.append(store)
            upstreams.append(upstream)
        }
        self.relays = relays
        self.servers = servers
        self.stores = stores
        self.upstreams = upstreams
    }

    /// One more instance on the same database and simulator, as a late-starting member of the fleet.
    static func joining(_ fleet: FleetHarness, keys: [String]) async throws -> Relay {
        let env = [
            "KEYRELAY_API_KEYS": keys.joined(separator: ","),
            "KEYRELAY_ALLOWED_TOKENS": "fleet:\(Self.token)",
            "KEYRELAY_UPSTREAM_BASE_URL": fleet.simulatorURL,
            "KEYRELAY_DATABASE_URL": fleet.database.url,
        ]
        let (settings, _) = try Settings.load(environment: env)
        let logger = fleet.logs.logger(label: "relay-late", level: .debug)
        let store = try await PostgresStore(url: fleet.database.url, logger: logger.named("store"))
        let relay = Relay(settings: settings, store: store, upstream: fleet.client, logger: logger)
        try await relay.start()
        return relay
    }

    func shutdown() async {
        for (index, server) in self.servers.enumerated() {
            await server.shutdown(drainTimeout: .seconds(1))
            await self.relays[index].shutdown()
            self.upstreams[index].shutdown()
            await self.stores[index].close()
        }
        await self.simulatorServer.shutdown(drainTimeout: .seconds(1))
        self.client.shutdown()
        try? await self.database.drop()
    }

    func request(
        _ method: String,
        _ url: String,
        body: String = "",
        headers: [(name: String, value: String)] = []
    ) async throws -> RelayHarness.Reply {
        let response = try await self.client.send(
            UpstreamRequest(method: method, url: url, headers: headers, body: Array(body.utf8))
        )
        return RelayHarness.Reply(
            status: response.status,
            headers: response.headers,
            body: try await response.collectBody(limit: 16 << 20)
        )
    }

    func generate(on instance: Int, model: String = "gemini-2.5-flash") async throws -> RelayHarness.Reply {
        try await self.request(
            "POST",
            self.url(instance) + "/v1beta/models/\(model):generateContent",
            body: #"{"contents":[{"parts":[{"text":"fleet"}]}]}"#,
            headers: [("x-goog-api-key", Self.token), ("Content-Type", "application/json")]
        )
    }

    func admin(_ method: String, on instance: Int, _ path: String, body: String = "") async throws -> RelayHarness.Reply
    {
        try await self.request(
            method,
            self.url(instance) + path,
            body: body,
            headers: [("Authorization", "Bearer \(Self.adminToken)")]
        )
    }

    /// Polls until `condition` holds for every instance; returns how long each took.
    func waitOnEveryInstance(
        timeout: Duration = .seconds(3),
        _ condition: (Relay) async -> Bool
    ) async -> [Duration?] {
        let started = ContinuousClock.now
        var took: [Duration?] = Array(repeating: nil, count: self.relays.count)
        while started.duration(to: .now) < timeout && took.contains(where: { $0 == nil }) {
            for (index, relay) in self.relays.enumerated() where took[index] == nil {
                if await condition(relay) { took[index] = started.duration(to: .now) }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return took
    }

    func admitted(model: String = "gemini-2.5-flash") async throws -> [Int] {
        let stats = try await self.request("GET", self.simulatorURL + "/simulator/stats").json
        return (stats?["keys"]?.arrayValue ?? []).map { $0["models"]?[model]?["admitted"]?.intValue ?? 0 }
    }
}
