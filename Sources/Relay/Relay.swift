import Foundation
import HTTPServer
import KeyPool
import Logging
import Storage
import Synchronization
import Upstream

/// The relay: routes client requests, picks and reserves a key per attempt, forwards to Google,
/// counts what the key spent and fails over (DESIGN.md §3–4, §7).
public final class Relay: HTTPHandler {
    private let configuration: Mutex<RelayConfiguration>
    let ledger: KeyLedger
    let store: any UsageStore
    let upstream: UpstreamClient
    let clock: any WallClock
    let logger: Logger
    private let phase = Atomic<Int>(Phase.starting.rawValue)

    private enum Phase: Int {
        case starting, ready, draining
    }

    public init(
        settings: Settings,
        store: any UsageStore,
        upstream: UpstreamClient,
        clock: any WallClock = SystemClock(),
        logger: Logger
    ) {
        self.configuration = Mutex(RelayConfiguration(settings: settings))
        self.store = store
        self.upstream = upstream
        self.clock = clock
        self.logger = logger
        self.ledger = KeyLedger(
            store: store,
            calendar: QuotaCalendar(timeZone: settings.pool.quotaTimeZone),
            clock: clock,
            logger: logger
        )
    }

    /// The settings in force. Requests read them as they start; a change applies to later requests.
    public var settings: Settings { self.configuration.withLock { $0.settings } }
    var scrubber: SecretScrubber { self.configuration.withLock { $0.scrubber } }
    var authenticator: ClientAuthenticator { self.configuration.withLock { $0.authenticator } }

    /// Puts new settings in force for every request that starts from now on.
    public func apply(_ settings: Settings) {
        let next = RelayConfiguration(settings: settings)
        self.configuration.withLock { $0 = next }
    }

    /// Brings the store up to date, writes the configured keys and pool settings to it, loads the
    /// usage matrix and starts answering `/health` with 200.
    public func start() async throws(StoreError) {
        let report = try await self.store.migrate()
        if !report.applied.isEmpty {
            self.logger.info(
                "migrations applied",
                ["count": "\(report.applied.count)", "version": "\(report.currentVersion)"]
            )
        }

        let now = self.clock.now()
        var gemini = self.settings.keys.gemini.map { ConfiguredKey(secret: $0) }
        if let paid = self.settings.keys.paid {
            gemini.append(ConfiguredKey(secret: paid, label: "paid", isPaid: true))
        }
        _ = try await self.store.syncKeys(gemini, kind: .gemini, at: now)
        _ = try await self.store.syncKeys(
            self.settings.keys.vertex.map { ConfiguredKey(secret: $0) },
            kind: .vertex,
            at: now
        )
        // One instance on SQLite: the file and environment win at start (DESIGN.md §8).
        try await self.store.saveSettings(self.settings.storedPoolSettings, by: "startup", at: now)

        let keys = try await self.store.loadKeys()
        self.ledger.load(keys: keys, rows: try await self.store.snapshot())
        let active = keys.filter(\.isActive).count
        self.logger.info("key pool loaded", ["keys.active": "\(active)", "keys.total": "\(keys.count)"])
        self.ledger.records.start()
        self.phase.store(Phase.ready.rawValue, ordering: .releasing)
    }

    /// Writes usage records still waiting in the batch (history and tokens) to the store.
    public func flushUsageRecords() async {
        await self.ledger.records.flush()
    }

    /// Stops the background writers after flushing them; call after the server has drained.
    public func shutdown() async {
        await self.ledger.records.stop()
    }

    /// Stops answering `/health` with 200 so load balancers move traffic away before shutdown.
    public func beginDrain() {
        self.phase.store(Phase.draining.rawValue, ordering: .releasing)
    }

    public var isReady: Bool { self.phase.load(ordering: .acquiring) == Phase.ready.rawValue }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let requestID = Self.makeRequestID()
        let route = Route(method: request.method, path: request.path)
        switch route {
        case .health:
            let ready = self.isReady
            return Self.json(status: ready ? 200 : 503, ["status": ready ? "ok" : "unavailable"], requestID: requestID)
        case .livez:
            return Self.json(status: 200, ["status": "alive"], requestID: requestID)
        case .notFound:
            return APIError.notFound("no such route: \(request.method) \(Self.safePath(request.path))").response(
                requestID: requestID
            )
        case .methodNotAllowed(let allowed):
            var response = APIError.methodNotAllowed().response(requestID: requestID)
            response.headers.add("Allow", allowed)
            return response
        default:
            break
        }

        let configuration = self.configuration.withLock { $0 }
        guard let client = configuration.authenticator.authenticate(request) else {
            return APIError.unauthenticated().response(requestID: requestID)
        }
        let logger = self.logger.with(["request.id": requestID, "client": client])
        if request.bodyTooLarge {
            return APIError.payloadTooLarge(limit: configuration.settings.server.maxBodyBytes).response(requestID: requestID)
        }

        switch route {
        case .invalidModel:
            return APIError.invalidArgument("invalid model name: use letters, digits, '.', '_' and '-' (at most 128)")
                .response(requestID: requestID)
        case .unknownMethod:
            return APIError.notFound(
                "unsupported model method; supported: generateContent, streamGenerateContent, "
                    + "countTokens, embedContent, batchEmbedContents"
            ).response(requestID: requestID)
        case .notImplemented(let feature):
            return APIError.notImplemented(feature).response(requestID: requestID)
        case .listModels, .getModel, .generate:
            do {
                let plan = try ForwardPlan(
                    route: route,
                    request: request,
                    settings: configuration.settings,
                    scrubber: configuration.scrubber
                )
                return await self.forward(plan, requestID: requestID, logger: logger)
            } catch {
                return error.response(requestID: requestID)
            }
        case .health, .livez, .notFound, .methodNotAllowed:
            preconditionFailure("route answered above: \(route)")
        }
    }

    /// Refuses a request without a valid client token before its body is read.
    public func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? {
        switch Route(method: head.method, path: head.path) {
        case .health, .livez, .notFound, .methodNotAllowed:
            return nil
        default:
            let authenticator = self.configuration.withLock { $0.authenticator }
            guard authenticator.authenticate(head) == nil else { return nil }
            return APIError.unauthenticated().response(requestID: Self.makeRequestID())
        }
    }

    static func json(status: Int, _ value: JSONValue, requestID: String) -> HTTPResponse {
        HTTPResponse(
            status: status,
            headers: ["Content-Type": "application/json; charset=UTF-8", "x-request-id": requestID],
            body: .bytes(value.serializedBytes)
        )
    }

    /// A path fit for an error message: bounded, printable ASCII only.
    static func safePath(_ path: String) -> String {
        String(path.unicodeScalars.prefix(200).map { $0.value >= 0x20 && $0.value < 0x7F ? Character($0) : "?" })
    }

    static func makeRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// The settings and what is derived from them, swapped whole so a request never sees half of a
/// change.
final class RelayConfiguration: Sendable {
    let settings: Settings
    let scrubber: SecretScrubber
    let authenticator: ClientAuthenticator

    init(settings: Settings) {
        self.settings = settings
        self.scrubber = SecretScrubber(secrets: settings.allSecrets)
        self.authenticator = ClientAuthenticator(clients: settings.access.clients)
    }
}
