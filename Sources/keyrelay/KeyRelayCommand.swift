import Foundation

/// `keyrelay <subcommand> [options]`.
enum KeyRelayCommand {
    static let version = "0.1.0"

    static let usage = """
        keyrelay \(version): one endpoint in front of a pool of Gemini API keys.

        usage: keyrelay <command> [options]

        commands:
          serve      run the relay (settings from --config FILE, KEYRELAY_* variables and --name value flags)
          demo       run the relay in front of a built-in simulator, with demo keys and a demo token
          simulate   run a Gemini-compatible upstream simulator (see keyrelay simulate --help)
          migrate    create or update the database schema and exit
          settings   print the effective settings (secrets as fingerprints) and exit
          keys       print the stored keys and their state (fingerprints only) and exit
          import-v1  import keys, tokens, settings and usage history from gemini-balance (see --help)
          version    print the version

        """

    static func run(_ arguments: [String]) async -> Int32 {
        guard let command = arguments.first else {
            FileHandle.standardError.write(Data(usage.utf8))
            return 64
        }
        let rest = Array(arguments.dropFirst())
        // `simulate` has its own help; every other command takes the settings as options.
        if command == "import-v1" && (rest.contains("--help") || rest.contains("-h")) {
            print(ImportCommand.usage)
            return 0
        }
        if command != "simulate" && (rest.contains("--help") || rest.contains("-h")) {
            print(
                usage + "\noptions: --config FILE, and any setting as --name value (see the README's settings table)\n"
            )
            return 0
        }
        switch command {
        case "serve": return await ServeCommand.run(rest)
        case "demo": return await DemoCommand.run(rest)
        case "simulate": return await SimulateCommand.run(rest)
        case "migrate": return await MigrateCommand.run(rest)
        case "settings": return SettingsCommand.run(rest)
        case "keys": return await KeysCommand.run(rest)
        case "import-v1": return await ImportCommand.run(rest)
        case "version", "--version": print(version); return 0
        case "help", "--help", "-h": print(usage); return 0
        default:
            FileHandle.standardError.write(Data("keyrelay: unknown command '\(command)'\n\n\(usage)".utf8))
            return 64
        }
    }

    /// Prints `message` to standard error as `keyrelay: message`.
    static func fail(_ message: String, status: Int32 = 1) -> Int32 {
        FileHandle.standardError.write(Data("keyrelay: \(message)\n".utf8))
        return status
    }
}
