import Foundation
import KeyPool

/// Settings of `keyrelay simulate`: the keys it accepts, their limits, latency, stream shape and
/// injected faults. Build one with `parse(arguments:)` or `init(keys:)` and adjust the fields.
public struct SimulatorOptions: Sendable {
    /// Address to listen on. Default `127.0.0.1`.
    public var host: String
    /// Port to listen on; 0 picks a free one. Default 18080.
    public var port: UInt16
    /// The keys the simulated Google accepts, in order; stats name them by index and fingerprint.
    public var keys: [APIKey]
    /// Keys accepted only on Vertex AI Express paths (`/v1|v1beta1/publishers/google/models/…`),
    /// where `keys` are then refused with 400 API_KEY_INVALID, as Google refuses a key of the
    /// other service. Empty (the default): Vertex paths accept `keys`, as before this option.
    public var vertexKeys: [APIKey]
    /// Per-key limits for every model when `rateLimits` is nil. Default unlimited.
    public var defaultLimits: Limits
    /// Tier → model prefix → limits, the same shape as the relay's `rate_limits`; when set,
    /// models it does not list are unlimited and `defaultLimits` is not used. Default nil.
    public var rateLimits: RateLimitTable?
    /// The tier of `rateLimits` to apply (the first tier when absent). Default `Free Tier`.
    public var quotaTier: String
    /// Wait before answering any model request. Default zero.
    public var latency: Duration
    /// Content chunks per stream (the last carries `finishReason`). Default 3, 1...1000.
    public var chunkCount: Int
    /// Wait between stream chunks. Default zero.
    public var chunkDelay: Duration
    /// Probability (0...1) that a model request is answered with an injected error. Default 0.
    public var errorRate: Double
    /// HTTP status of injected errors: 429, 500, 503 or 504, with Google's body. Default 503.
    public var errorStatus: Int
    /// Keys that answer every quota-counted request with a per-day 429.
    public var dailyExhaustedKeys: Set<APIKey>
    /// Keys that answer every quota-counted request with a 429 quoting quotaValue `"0"`.
    public var noQuotaKeys: Set<APIKey>
    /// Keys that answer 403 `CONSUMER_SUSPENDED`.
    public var suspendedKeys: Set<APIKey>
    /// Seed of the error-injection generator; nil draws a random one. Default nil.
    public var seed: UInt64?

    /// Options with every default and the given keys.
    public init(keys: [APIKey]) {
        self.host = "127.0.0.1"
        self.port = 18080
        self.keys = keys
        self.vertexKeys = []
        self.defaultLimits = .unlimited
        self.rateLimits = nil
        self.quotaTier = "Free Tier"
        self.latency = .zero
        self.chunkCount = 3
        self.chunkDelay = .zero
        self.errorRate = 0
        self.errorStatus = 503
        self.dailyExhaustedKeys = []
        self.noQuotaKeys = []
        self.suspendedKeys = []
        self.seed = nil
    }

    /// Statuses `--error-status` accepts.
    public static let injectableStatuses: Set<Int> = [429, 500, 503, 504]

    /// The limits per quota model these options describe.
    var modelLimits: ModelLimits {
        guard let table = self.rateLimits else { return ModelLimits(models: [:], unknownModel: self.defaultLimits) }
        return ModelLimits(models: table.models(forTier: self.quotaTier).models, unknownModel: .unlimited)
    }
}

/// A command line `keyrelay simulate` cannot run with. The description names the option and
/// never quotes a key.
public struct SimulatorOptionsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong; extensible.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The code's name, e.g. `invalidValue`.
        public let description: String
        /// `--help` or `-h` was given: print `SimulatorOptions.helpText` and exit 0.
        public static let helpRequested = Code(description: "helpRequested")
        /// An option this command does not know, or a stray positional argument.
        public static let unknownOption = Code(description: "unknownOption")
        /// An option given last, without its value.
        public static let missingValue = Code(description: "missingValue")
        /// A value of the wrong form or range.
        public static let invalidValue = Code(description: "invalidValue")
        /// A required option is absent (`--keys`).
        public static let missingOption = Code(description: "missingOption")
        /// Two options that cannot be combined.
        public static let conflictingOptions = Code(description: "conflictingOptions")
    }

    /// The kind of failure.
    public var code: Code
    /// The option at fault, e.g. `--rpm`.
    public var flag: String
    /// What is wrong with it, lowercase, without a trailing period.
    public var message: String

    /// An error about `flag`; `message` follows the flag in `description`.
    public init(code: Code, flag: String, message: String) {
        self.code = code
        self.flag = flag
        self.message = message
    }

    /// `option '--rpm' must be a whole number ≥ 0, got 'ten'`.
    public var description: String { "option '\(self.flag)' \(self.message)" }
}

extension SimulatorOptions {
    /// Parses the arguments that follow `simulate` (`--flag value` or `--flag=value`).
    /// - Throws: `SimulatorOptionsError` naming the flag; code `.helpRequested` for `--help`.
    public static func parse(arguments: [String]) throws(SimulatorOptionsError) -> SimulatorOptions {
        var values: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" {
                throw SimulatorOptionsError(code: .helpRequested, flag: argument, message: "asks for help")
            }
            var flag = argument
            var value: String?
            if let equals = argument.firstIndex(of: "="), argument.hasPrefix("--") {
                flag = String(argument[..<equals])
                value = String(argument[argument.index(after: equals)...])
            }
            guard Self.knownFlags.contains(flag) else {
                let what = argument.hasPrefix("-") ? "is not an option of simulate" : "is not expected here"
                // A stray word could be a key pasted in the wrong place, so it is never echoed.
                let shown = argument.hasPrefix("-") ? flag : "(positional argument)"
                throw SimulatorOptionsError(code: .unknownOption, flag: shown, message: what)
            }
            if value == nil {
                guard index < arguments.count else {
                    throw SimulatorOptionsError(code: .missingValue, flag: flag, message: "needs a value")
                }
                value = arguments[index]
                index += 1
            }
            values[flag] = value
        }
        return try Self.build(from: values)
    }

    private static let knownFlags: Set<String> = [
        "--listen", "--keys", "--vertex-keys", "--rpm", "--tpm", "--rpd", "--rate-limits", "--quota-tier",
        "--latency-ms", "--chunks", "--chunk-delay-ms", "--error-rate", "--error-status", "--daily-exhausted-keys",
        "--no-quota-keys", "--suspended-keys", "--seed",
    ]

    private static func build(from values: [String: String]) throws(SimulatorOptionsError) -> SimulatorOptions {
        let vertexText = values["--vertex-keys"]
        guard let keyText = values["--keys"] ?? (vertexText == nil ? nil : "") else {
            throw SimulatorOptionsError(code: .missingOption, flag: "--keys", message: "is required (K1,K2,… or @file)")
        }
        var options = SimulatorOptions(keys: try Self.keyList(keyText, flag: "--keys"))
        guard !options.keys.isEmpty || vertexText != nil else {
            throw SimulatorOptionsError(code: .invalidValue, flag: "--keys", message: "must list at least one key")
        }
        if let vertexText {
            options.vertexKeys = try Self.keyList(vertexText, flag: "--vertex-keys")
            guard !options.vertexKeys.isEmpty else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: "--vertex-keys",
                    message: "must list at least one key"
                )
            }
        }

        if let listen = values["--listen"] {
            (options.host, options.port) = try Self.hostAndPort(listen)
        }
        options.defaultLimits = Limits(
            rpm: try values["--rpm"].map { v throws(SimulatorOptionsError) in try Self.count(v, flag: "--rpm") },
            tpm: try values["--tpm"].map { v throws(SimulatorOptionsError) in try Self.count(v, flag: "--tpm") },
            rpd: try values["--rpd"].map { v throws(SimulatorOptionsError) in try Self.count(v, flag: "--rpd") }
        )
        if let table = values["--rate-limits"] {
            if let flag = ["--rpm", "--tpm", "--rpd"].first(where: { values[$0] != nil }) {
                throw SimulatorOptionsError(
                    code: .conflictingOptions,
                    flag: flag,
                    message: "cannot be combined with --rate-limits (the table gives every model's limits)"
                )
            }
            options.rateLimits = try Self.table(table)
        }
        if let tier = values["--quota-tier"] {
            guard options.rateLimits != nil else {
                throw SimulatorOptionsError(
                    code: .conflictingOptions,
                    flag: "--quota-tier",
                    message: "needs --rate-limits"
                )
            }
            options.quotaTier = tier
        }

        if let text = values["--latency-ms"] {
            options.latency = .milliseconds(try Self.count(text, flag: "--latency-ms"))
        }
        if let text = values["--chunk-delay-ms"] {
            options.chunkDelay = .milliseconds(try Self.count(text, flag: "--chunk-delay-ms"))
        }
        if let text = values["--chunks"] {
            let chunks = try Self.count(text, flag: "--chunks")
            guard (1...1000).contains(chunks) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: "--chunks",
                    message: "must be 1...1000, got \(chunks)"
                )
            }
            options.chunkCount = chunks
        }
        try Self.applyFaults(values, to: &options)
        try Self.applyKeyStates(values, to: &options)
        return options
    }

    private static func applyFaults(
        _ values: [String: String],
        to options: inout SimulatorOptions
    ) throws(SimulatorOptionsError) {
        if let text = values["--error-rate"] {
            guard let rate = Double(text), (0...1).contains(rate) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: "--error-rate",
                    message: "must be a number in 0...1, got '\(text)'"
                )
            }
            options.errorRate = rate
        }
        if let text = values["--error-status"] {
            guard let status = Int(text), Self.injectableStatuses.contains(status) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: "--error-status",
                    message: "must be one of 429, 500, 503, 504, got '\(text)'"
                )
            }
            options.errorStatus = status
        }
        if let text = values["--seed"] {
            guard let seed = UInt64(text) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: "--seed",
                    message: "must be a whole number ≥ 0, got '\(text)'"
                )
            }
            options.seed = seed
        }
    }

    private static func applyKeyStates(
        _ values: [String: String],
        to options: inout SimulatorOptions
    ) throws(SimulatorOptionsError) {
        let known = Set(options.keys + options.vertexKeys)
        func subset(_ flag: String) throws(SimulatorOptionsError) -> Set<APIKey> {
            guard let text = values[flag] else { return [] }
            let keys = try Self.keyList(text, flag: flag)
            if let position = keys.firstIndex(where: { !known.contains($0) }) {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: flag,
                    message: "entry \(position + 1) (\(keys[position].fingerprint)) "
                        + "is not one of --keys or --vertex-keys"
                )
            }
            return Set(keys)
        }
        options.dailyExhaustedKeys = try subset("--daily-exhausted-keys")
        options.noQuotaKeys = try subset("--no-quota-keys")
        options.suspendedKeys = try subset("--suspended-keys")
    }

    /// Keys separated by commas or newlines, trimmed; `@path` reads them from a file.
    private static func keyList(_ text: String, flag: String) throws(SimulatorOptionsError) -> [APIKey] {
        var source = text
        if text.hasPrefix("@") {
            guard let contents = try? String(contentsOfFile: String(text.dropFirst()), encoding: .utf8) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: flag,
                    message: "cannot read file '\(text.dropFirst())'"
                )
            }
            source = contents
        }
        let entries = source.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == "\r\n" })
            .map { String($0).trimmingWhitespace() }
            .filter { !$0.isEmpty }
        var keys: [APIKey] = []
        for (position, entry) in entries.enumerated() {
            guard let key = APIKey(entry) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: flag,
                    message: "entry \(position + 1) is not a key (it holds spaces or control characters)"
                )
            }
            guard !keys.contains(key) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: flag,
                    message: "lists entry \(position + 1) twice"
                )
            }
            keys.append(key)
        }
        return keys
    }

    private static func hostAndPort(_ text: String) throws(SimulatorOptionsError) -> (String, UInt16) {
        let invalid = SimulatorOptionsError(
            code: .invalidValue,
            flag: "--listen",
            message: "must be HOST:PORT with a port 0...65535, got '\(text)'"
        )
        guard let colon = text.lastIndex(of: ":") else { throw invalid }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = UInt16(text[text.index(after: colon)...]) else { throw invalid }
        return (host, port)
    }

    private static func count(_ text: String, flag: String) throws(SimulatorOptionsError) -> Int {
        guard let value = Int(text), value >= 0 else {
            throw SimulatorOptionsError(
                code: .invalidValue,
                flag: flag,
                message: "must be a whole number ≥ 0, got '\(text)'"
            )
        }
        return value
    }

    private static func table(_ text: String) throws(SimulatorOptionsError) -> RateLimitTable {
        var json = text
        if text.hasPrefix("@") {
            let path = String(text.dropFirst())
            guard let contents = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw SimulatorOptionsError(
                    code: .invalidValue,
                    flag: "--rate-limits",
                    message: "cannot read file '\(path)'"
                )
            }
            json = contents
        }
        do {
            return try RateLimitTable(json: json, setting: "--rate-limits")
        } catch {
            let flag = "--rate-limits"
            let entry = error.setting == flag ? "" : "entry '\(error.setting.dropFirst(flag.count + 1))' "
            throw SimulatorOptionsError(code: .invalidValue, flag: flag, message: entry + error.message)
        }
    }
}
