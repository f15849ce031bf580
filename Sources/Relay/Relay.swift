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
    /// The settings this process was started with (file, environment, flags); in a fleet the
    /// store's pool settings are applied over them.
    let baseSettings: Settings
    let ledger: KeyLedger
    let store: any UsageStore
    let upstream: UpstreamClient
    let clock: any WallClock
    let logger: Logger
    let phase = Atomic<Int>(Phase.starting.rawValue)
    /// False while the store is unreachable: `/health` answers 503 so load balancers look elsewhere.
    let isStoreReachable = Atomic<Bool>(true)
    let fleet = Mutex<FleetCoordinator?>(nil)
    let rechecker = Mutex<KeyRechecker?>(nil)
    /// Counters, gauges and histograms served at `GET /metrics`.
    public let metrics: RelayMetrics

    enum Phase: Int {
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
        self.baseSettings = settings
        self.store = store
        self.upstream = upstream
        self.clock = clock
        self.logger = logger
        self.metrics = RelayMetrics()
        self.metrics.setKnownModels(settings)
        self.ledger = KeyLedger(
            store: store,
            calendar: QuotaCalendar(timeZone: settings.pool.quotaTimeZone),
            clock: clock,
            logger: logger,
            metrics: self.metrics
        )
    }

    /// The settings in force. Requests read them as they start; a change applies to later requests.
    public var settings: Settings { self.configuration.withLock { $0.settings } }
    var scrubber: SecretScrubber { self.configuration.withLock { $0.scrubber } }
    var authenticator: ClientAuthenticator { self.configuration.withLock { $0.authenticator } }

    /// The time zone of the quota day this instance counts in (the fleet's `quota_timezone`).
    public var quotaCalendarZone: String { self.ledger.calendar.timeZone.identifier }

    /// The keys this instance currently selects from (health included).
    public var keysInUse: [KeyRecord] { self.ledger.keys.sorted { $0.id < $1.id } }

    /// Puts new settings in force for every request that starts from now on.
    public func apply(_ settings: Settings) {
        let next = RelayConfiguration(settings: settings, extraSecrets: self.knownSecrets(settings))
        self.configuration.withLock { $0 = next }
        self.metrics.setKnownModels(settings)
        let zone = settings.pool.quotaTimeZone
        if zone.identifier != self.ledger.calendar.timeZone.identifier {
            // The day window of every instance follows the fleet's setting, not its own start-up value.
            let calendar = QuotaCalendar(timeZone: zone)
            self.ledger.setCalendar(calendar)
            self.store.setCalendar(calendar)
            self.logger.notice("quota time zone changed", ["quota.timezone": zone.identifier])
        }
    }

    /// Every secret worth scrubbing: the given settings', those this process started with, and
    /// every key of the pool (keys added at run time included).
    private func knownSecrets(_ settings: Settings) -> [String] {
        self.baseSettings.allSecrets + self.ledger.keys.map(\.secret.revealedForUpstream)
    }

    /// Stops answering `/health` with 200 so load balancers move traffic away before shutdown.
    public func beginDrain() {
        self.phase.store(Phase.draining.rawValue, ordering: .releasing)
    }

    public var isReady: Bool {
        self.phase.load(ordering: .acquiring) == Phase.ready.rawValue && self.isStoreReachable.load(ordering: .relaxed)
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let route = Self.route(of: request)
        let tally = RequestTally(route: route)
        let response = await self.respond(to: request, route: route, tally: tally)
        self.metrics.requestAnswered(tally, status: response.status)
        return response
    }

    private func respond(to request: HTTPRequest, route: Route, tally: RequestTally) async -> HTTPResponse {
        let requestID = Self.makeRequestID()
        let shape = Route.isOpenAIPath(request.path) ? ErrorShape.openAI : route.errorShape
        switch route {
        case .metrics:
            return self.metricsResponse(request, settings: self.settings, requestID: requestID)
        case .health:
            let ready = self.isReady
            return Self.json(status: ready ? 200 : 503, ["status": ready ? "ok" : "unavailable"], requestID: requestID)
        case .livez:
            return Self.json(status: 200, ["status": "alive"], requestID: requestID)
        case .keyPage(let asset):
            return KeyPage.response(for: asset, requestID: requestID)
        case .notFound:
            return APIError.notFound("no such route: \(request.method) \(Self.safePath(request.path))")
                .response(requestID: requestID, shape: shape)
        case .methodNotAllowed(let allowed):
            var response = APIError.methodNotAllowed().response(requestID: requestID, shape: shape)
            response.headers.add("Allow", allowed)
            return response
        default:
            break
        }

        let configuration = self.configuration.withLock { $0 }
        if case .admin(let adminRoute) = route {
            guard self.isAdmin(request, settings: configuration.settings) else {
                return APIError.adminUnauthenticated().response(requestID: requestID)
            }
            if request.bodyTooLarge {
                return APIError.payloadTooLarge(limit: configuration.settings.server.maxBodyBytes)
                    .response(requestID: requestID)
            }
            return await self.handleAdmin(adminRoute, request: request, requestID: requestID)
        }
        guard let client = configuration.authenticator.authenticate(request) else {
            return APIError.unauthenticated().response(requestID: requestID, shape: shape)
        }
        tally.client = client
        let logger = self.logger.with(["request.id": requestID, "client": client])
        if request.bodyTooLarge {
            return APIError.payloadTooLarge(limit: configuration.settings.server.maxBodyBytes)
                .response(requestID: requestID, shape: shape)
        }

        switch route {
        case .invalidModel:
            return APIError.invalidArgument("invalid model name: use letters, digits, '.', '_' and '-' (at most 128)")
                .response(requestID: requestID, shape: shape)
        case .unknownMethod:
            return APIError.notFound(
                "unsupported model method; supported: generateContent, streamGenerateContent, "
                    + "countTokens, embedContent, batchEmbedContents (Vertex: the first three)"
            ).response(requestID: requestID, shape: shape)
        case .notImplemented(let feature):
            return APIError.notImplemented(feature).response(requestID: requestID, shape: shape)
        case .listModels, .getModel, .generate, .vertex, .openAIChat, .openAIEmbeddings, .openAIModels,
            .openAIPassthrough:
            do {
                let plan = try await Self.plan(
                    route,
                    request: request,
                    requestID: requestID,
                    configuration: configuration
                )
                tally.model = plan.quotaModel
                return await self.forwardLogged(
                    plan,
                    route: route,
                    client: client,
                    requestID: requestID,
                    logger: logger,
                    metricsRoute: tally.route
                )
            } catch {
                return error.response(requestID: requestID, shape: shape)
            }
        case .health, .livez, .keyPage, .metrics, .notFound, .methodNotAllowed, .admin:
            preconditionFailure("route answered above: \(route)")
        }
    }

    /// Bodies above this are parsed and translated off Swift's cooperative threads.
    static let largeBodyBytes = 256 << 10

    /// The request's plan. A large body (a chat with images, say) is parsed and translated on a
    /// dispatch queue: on the cooperative pool (as many threads as cores) it would stall every
    /// other request, `/health` included, for as long as it takes.
    static func plan(
        _ route: Route,
        request: HTTPRequest,
        requestID: String,
        configuration: RelayConfiguration
    ) async throws(APIError) -> ForwardPlan {
        let build = { @Sendable () throws(APIError) -> ForwardPlan in
            try ForwardPlan(
                route: route,
                request: request,
                requestID: requestID,
                settings: configuration.settings,
                scrubber: configuration.scrubber
            )
        }
        guard request.body.count > Self.largeBodyBytes else { return try build() }
        let result: Result<ForwardPlan, APIError> = await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: Result { () throws(APIError) -> ForwardPlan in try build() })
            }
        }
        return try result.get()
    }

    /// Refuses a request without a valid client token from its head alone (its body is discarded).
    public func respondBeforeBody(to head: HTTPRequest) -> HTTPResponse? {
        let route = Self.route(of: head)
        let refusal = self.refusal(of: head, route: route)
        if let refusal { self.metrics.requestAnswered(RequestTally(route: route), status: refusal.status) }
        return refusal
    }

    private func refusal(of head: HTTPRequest, route: Route) -> HTTPResponse? {
        switch route {
        case .health, .livez, .keyPage, .metrics, .notFound, .methodNotAllowed:
            return nil
        case .admin:
            let settings = self.configuration.withLock { $0.settings }
            guard !self.isAdmin(head, settings: settings) else { return nil }
            return APIError.adminUnauthenticated().response(requestID: Self.makeRequestID())
        default:
            let authenticator = self.configuration.withLock { $0.authenticator }
            guard authenticator.authenticate(head) == nil else { return nil }
            return APIError.unauthenticated().response(requestID: Self.makeRequestID(), shape: route.errorShape)
        }
    }

    /// The route of a request; a Gemini client (token in `x-goog-api-key` or `?key=`) asking for
    /// `GET /v1/models` gets Gemini's list, anyone else OpenAI's.
    static func route(of request: HTTPRequest) -> Route {
        let isGeminiClient = request.headers["x-goog-api-key"] != nil || request.queryValue("key") != nil
        return Route(method: request.method, path: request.path, isGeminiClient: isGeminiClient)
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

    init(settings: Settings, extraSecrets: [String] = []) {
        self.settings = settings
        self.scrubber = SecretScrubber(secrets: settings.allSecrets + extraSecrets)
        self.authenticator = ClientAuthenticator(clients: settings.access.clients)
    }
}
