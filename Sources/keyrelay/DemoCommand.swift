import Foundation
import HTTPServer
import KeyPool
import Logging
import Relay
import Simulator

/// `keyrelay demo`: the relay in front of the built-in simulator, so someone without Gemini keys
/// can watch selection, limits and failover work. Simulator and relay share one rate-limit table.
enum DemoCommand {
    static let demoToken = "demo-token"

    static func run(_ arguments: [String]) async -> Int32 {
        var environment = ProcessInfo.processInfo.environment
        environment["KEYRELAY_ALLOWED_TOKENS"] = environment["KEYRELAY_ALLOWED_TOKENS"] ?? "demo:\(demoToken)"
        environment["KEYRELAY_DATABASE_URL"] = environment["KEYRELAY_DATABASE_URL"] ?? "./data/demo.sqlite"
        var generator = SystemRandomNumberGenerator()
        // Random hex, so each demo key has its own fingerprint in the logs.
        let keys = (1...3).map { _ in
            "AIzaDEMO"
                + [generator.next() as UInt64, generator.next() as UInt64]
                .map { String($0, radix: 16).leftPadded(to: 16) }.joined()
        }
        environment["KEYRELAY_API_KEYS"] = keys.joined(separator: ",")

        var loaded: Settings
        do {
            (loaded, _) = try SettingsArguments.parse(arguments).load(environment: environment)
        } catch {
            return KeyRelayCommand.fail("\(error)", status: 78)
        }
        let logger = loaded.makeLogger(label: "relay")

        var options = SimulatorOptions(keys: keys.compactMap(APIKey.init))
        options.host = "127.0.0.1"
        options.port = 0
        options.rateLimits = loaded.pool.rateLimits
        options.quotaTier = loaded.pool.quotaTier
        options.latency = .milliseconds(40)
        options.chunkCount = 5
        options.chunkDelay = .milliseconds(150)
        let simulator = HTTPServer(
            configuration: HTTPServer.Configuration(host: "127.0.0.1", port: 0),
            handler: GeminiSimulator(options: options),
            logger: logger.named("simulator")
        )
        do {
            try simulator.start()
            try loaded.apply(name: "upstream_base_url", text: "http://127.0.0.1:\(simulator.port)", source: "demo")
        } catch {
            return KeyRelayCommand.fail("demo: cannot start the simulator: \(error)")
        }

        let settings = loaded
        let token = settings.access.clients.first?.token == demoToken ? demoToken : "<your token>"
        let status = await ServeCommand.serve(settings: settings, logger: logger) { port in
            let base = "http://127.0.0.1:\(port)"
            print(
                """

                KeyRelay demo: 3 simulated keys behind \(base) (limits: '\(settings.pool.quotaTier)' table).
                Try:
                  curl -s \(base)/v1beta/models/gemini-2.5-flash:generateContent \\
                    -H 'x-goog-api-key: \(token)' -H 'content-type: application/json' \\
                    -d '{"contents":[{"parts":[{"text":"Hello"}]}]}'
                  curl -sN '\(base)/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse' \\
                    -H 'x-goog-api-key: \(token)' -H 'content-type: application/json' \\
                    -d '{"contents":[{"parts":[{"text":"Stream please"}]}]}'
                Send 31 requests and watch the keys fill up (10 RPM each on gemini-2.5-flash). Ctrl-C stops.

                """
            )
            // Standard output may be a pipe: show the instructions now, not at exit.
            fflush(nil)
        }
        await simulator.shutdown(drainTimeout: .seconds(1))
        return status
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - self.count)) + self
    }
}
