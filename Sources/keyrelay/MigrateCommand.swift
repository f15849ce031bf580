import Foundation
import KeyPool
import Relay
import Storage

/// `keyrelay migrate`: create or update the schema of the configured store, then exit.
enum MigrateCommand {
    static func run(_ arguments: [String]) async -> Int32 {
        let settings: Settings
        do {
            (settings, _) = try SettingsArguments.parse(arguments).load(
                environment: ProcessInfo.processInfo.environment
            )
        } catch {
            return KeyRelayCommand.fail("\(error)", status: 78)
        }
        let logger = settings.makeLogger(label: "migrate")
        do {
            let store = try await ServeCommand.openStore(settings, logger: logger)
            let report = try await store.migrate()
            await store.close()
            print(
                "schema at version \(report.currentVersion); applied \(report.applied.count): "
                    + report.applied.joined(separator: ", ")
            )
            return 0
        } catch {
            return KeyRelayCommand.fail("\(error)")
        }
    }
}

/// `keyrelay settings`: the effective settings, secrets as fingerprints.
enum SettingsCommand {
    static func run(_ arguments: [String]) -> Int32 {
        do {
            let (settings, warnings) = try SettingsArguments.parse(arguments).load(
                environment: ProcessInfo.processInfo.environment
            )
            for warning in warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            for (name, value) in settings.displayed { print("\(name) = \(value.serialized)") }
            return 0
        } catch {
            return KeyRelayCommand.fail("\(error)", status: 78)
        }
    }
}
