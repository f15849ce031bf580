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
        do {
            let parsed = try SettingsArguments.parse(arguments)
            (settings, warnings) = try parsed.load(environment: ProcessInfo.processInfo.environment)
            try settings.validate()
        } catch {
            return KeyRelayCommand.fail("\(error)", status: 78)
        }
        let logger = settings.makeLogger(label: "relay")
        for warning in warnings { logger.warning("settings: \(warning)") }
        return await Self.serve(settings: settings, logger: logger)
    }

    /// Runs a relay with `settings` until SIGTERM or SIGINT, then drains and exits 0.
    static func serve(settings: Settings, logger: Logger, onReady: @Sendable (UInt16) -> Void = { _ in }) async -> Int32
    {
        let store: SQLiteStore
        do {
            store = try await SQLiteStore(
                path: settings.server.databaseURL,
                calendar: QuotaCalendar(timeZone: settings.pool.quotaTimeZone),
                logger: logger.named("store")
            )
        } catch {
            return KeyRelayCommand.fail("setting 'database_url' (\(settings.server.databaseURL)): cannot open the store: \(error)")
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
            try await relay.start()
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
                "store": "sqlite",
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
}
