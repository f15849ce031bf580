import Foundation
import KeyPool
import Logging
import Relay

/// Options shared by `serve`, `demo`, `migrate` and `settings`: `--config FILE`, and any setting
/// as `--name value` (`--database-url ./data/x.sqlite` sets `database_url`), which win over the
/// environment, which wins over the file.
struct SettingsArguments {
    var configFile: String? = nil
    var overrides: [(name: String, value: String)] = []
    var flags: Set<String> = []

    /// Parses `arguments`; `knownFlags` are value-less switches of the subcommand.
    static func parse(_ arguments: [String], knownFlags: Set<String> = []) throws(SettingError) -> SettingsArguments {
        var parsed = SettingsArguments()
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            guard argument.hasPrefix("--") else {
                throw SettingError(setting: argument, source: "command line", message: "is not an option")
            }
            var name = String(argument.dropFirst(2))
            var value: String? = nil
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if knownFlags.contains(name) {
                parsed.flags.insert(name)
                index += 1
                continue
            }
            if value == nil {
                guard index + 1 < arguments.count else {
                    throw SettingError(setting: name, source: "command line", message: "needs a value")
                }
                value = arguments[index + 1]
                index += 1
            }
            if name == "config" {
                parsed.configFile = value
            } else {
                parsed.overrides.append((name.replacingOccurrences(of: "-", with: "_"), value ?? ""))
            }
            index += 1
        }
        return parsed
    }

    /// Settings from defaults, file, environment and these flags, validated.
    func load(environment: [String: String]) throws(SettingError) -> (settings: Settings, warnings: [String]) {
        var (settings, warnings) = try Settings.load(environment: environment, configFile: self.configFile)
        for (name, value) in self.overrides {
            try settings.apply(
                name: name,
                text: value,
                source: "command line --\(name.replacingOccurrences(of: "_", with: "-"))"
            )
        }
        return (settings, warnings)
    }
}

extension Settings {
    /// The process logger, at the configured level.
    func makeLogger(label: String) -> Logger {
        Logger(label: label, level: Logger.Level(name: self.server.logLevel) ?? .info)
    }
}
