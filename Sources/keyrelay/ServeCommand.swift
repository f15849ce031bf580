import Foundation
import HTTPServer
import KeyPool
import Logging
import Relay
import Storage
import Upstream

/// `keyrelay serve`: the relay on its store (SQLite by default).
enum ServeCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        let settings: Settings
        let warnings: [String]
        var options = Relay.StartOptions()
        options.version = KeyRelayCommand.version
        do {
            let parsed = try SettingsArguments.parse(arguments, knownFlags: ["apply-settings", "no-migrate"])
            (settings, warnings) = try parsed.load(environment: ProcessInfo.processInfo.environment)
            try settings.validate()
            options.applySettings = parsed.flags.contains("apply-settings")
            options.migrate = !parsed.flags.contains("no-migrate")
        } catch {
            return KeyRelayCommand.fail("\(error)", status: 78)
        }
        let logger = settings.makeLogger(label: "relay")
        for warning in warnings { logger.warning("settings: \(warning)") }
        return await Self.serve(settings: settings, options: options, logger: logger)
    }

    /// Runs a relay with `settings` until SIGTERM or SIGINT, then drains and exits 0.
    static func serve(
        settings: Settings,
        options: Relay.StartOptions = Relay.StartOptions(),
        logger: Logger,
        onReady: @Sendable (UInt16) -> Void = { _ in }
    ) async -> Int32 {
        let store: any UsageStore
        do {
            store = try await Self.openStore(settings, logger: logger.named("store"))
        } catch {
            let url = Settings.Server.maskedDatabaseURL(settings.server.databaseURL)
            return KeyRelayCommand.fail("setting 'database_url' (\(url)): cannot open the store: \(error)")
        }
        let upstream: UpstreamClient
        do {
            upstream = try UpstreamClient(proxyURL: settings.upstream.proxyURL, logger: logger.named("upstream"))
        } catch {
            await store.close()
            return KeyRelayCommand.fail("cannot start the upstream client: \(error)")
        }

        let relay = Relay(settings: settings, store: store, upstream: upstream, logger: logger)
        let server = HTTPServer(
            configuration: HTTPServer.Configuration(
                host: settings.server.listen.host,
                port: settings.server.listen.port,
                maxBodyBytes: settings.server.maxBodyBytes
            ),
            handler: relay,
            logger: logger.named("http")
        )
        let signals = SignalWaiter()
        // Bind first, so a taken or invalid address fails before anything is written; /health
        // answers 503 until the relay is ready.
        do {
            try server.start()
        } catch {
            upstream.shutdown()
            await store.close()
            return KeyRelayCommand.fail("setting 'listen' (\(settings.server.listen)): cannot listen: \(error)")
        }
        do {
            try await relay.start(options)
        } catch {
            await server.shutdown(drainTimeout: .zero)
            upstream.shutdown()
            await store.close()
            return KeyRelayCommand.fail("cannot start: \(error)")
        }
        logger.info(
            "listening",
            [
                "address": ListenAddress(host: settings.server.listen.host, port: server.port).description,
                "store": settings.server.usesPostgres ? "postgres" : "sqlite",
            ]
        )
        onReady(server.port)

        let signal = await signals.wait()
        logger.info("draining", ["signal": signal])
        relay.beginDrain()
        await server.shutdown(drainTimeout: .seconds(30))
        await relay.shutdown()
        upstream.shutdown()
        await store.close()
        logger.info("stopped")
        return 0
    }

    /// The store `database_url` names: PostgreSQL for a `postgres://` URL, else a SQLite file.
    static func openStore(_ settings: Settings, logger: Logger) async throws(StoreError) -> any UsageStore {
        let calendar = QuotaCalendar(timeZone: settings.pool.quotaTimeZone)
        if settings.server.usesPostgres {
            return try await PostgresStore(url: settings.server.databaseURL, calendar: calendar, logger: logger)
        }
        return try await SQLiteStore(path: settings.server.databaseURL, calendar: calendar, logger: logger)
    }
}
