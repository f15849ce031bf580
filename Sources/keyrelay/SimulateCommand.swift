import Foundation
import HTTPServer
import Logging
import Simulator

/// `keyrelay simulate`: a Gemini-compatible upstream for demos, tests and benchmarks.
enum SimulateCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        let options: SimulatorOptions
        do {
            options = try SimulatorOptions.parse(arguments: arguments)
        } catch {
            if error.code == .helpRequested {
                print(SimulatorOptions.helpText)
                return 0
            }
            return KeyRelayCommand.fail("simulate: \(error)", status: 64)
        }
        let logger = Logger(label: "simulator", level: .info)
        let server = HTTPServer(
            configuration: HTTPServer.Configuration(host: options.host, port: options.port, maxBodyBytes: 64 << 20),
            handler: GeminiSimulator(options: options),
            logger: logger.named("http")
        )
        let signals = SignalWaiter()
        do {
            try server.start()
        } catch {
            return KeyRelayCommand.fail("simulate: \(error)")
        }
        logger.info(
            "simulator listening",
            ["address": "\(options.host):\(server.port)", "keys": "\(options.keys.count)"]
        )
        _ = await signals.wait()
        await server.shutdown(drainTimeout: .seconds(5))
        return 0
    }
}
