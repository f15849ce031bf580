import Foundation
import KeyPool

/// Counts of one (key, quota model) shown by `/simulator/stats`.
struct ModelStats: Sendable, Hashable {
    /// Request units admitted (one per inner request of `batchEmbedContents`).
    var admitted = 0
    /// Requests refused with a quota 429 (limits, daily-exhausted or no-quota keys).
    var rejected = 0
    /// Requests answered with an injected error.
    var injectedErrors = 0
    /// Input tokens of admitted requests (what TPM counts).
    var inputTokens = 0
    /// `totalTokenCount` of admitted generate requests (thinking included).
    var totalTokens = 0
}

/// The last model request as received, for `/simulator/last-request`. Holds no key: only whether
/// the request carried one, where, and whether it was a configured key.
struct RecordedRequest: Sendable {
    var method: String
    var path: String
    /// Query parameters other than `key`.
    var query: [(name: String, value: String)]
    /// Header names in arrival order, lowercased.
    var headerNames: [String]
    /// Values of the headers in `GeminiSimulator.reportedHeaders` that were present.
    var selectedHeaders: [(name: String, value: String)]
    /// `header`, `query`, `both`, `bearer` (OpenAI-compatible endpoint) or `none`.
    var keySource: String
    /// Index of the configured key the request used; nil for none or an unknown key.
    var keyIndex: Int?
    var body: [UInt8]
}

/// Everything the simulator changes while it runs, kept behind one Mutex.
struct SimulatorState: Sendable {
    var ledger = QuotaLedger()
    /// Key index → quota model → counts.
    var stats: [Int: [String: ModelStats]] = [:]
    var isKeyInURLSeen = false
    var requestsTotal = 0
    var unknownKeyRequests = 0
    var lastRequest: RecordedRequest?
    var errorRate: Double
    var errorStatus: Int
    let seed: UInt64
    var generator: SplitMix64
    var responseSerial: UInt64 = 0

    init(errorRate: Double, errorStatus: Int, seed: UInt64) {
        self.errorRate = errorRate
        self.errorStatus = errorStatus
        self.seed = seed
        self.generator = SplitMix64(seed: seed)
    }

    /// Clears counters, stats and the recorded request and restarts the generator from the seed;
    /// the fault settings stay as they are.
    mutating func reset() {
        self.ledger.removeAll()
        self.stats = [:]
        self.isKeyInURLSeen = false
        self.requestsTotal = 0
        self.unknownKeyRequests = 0
        self.lastRequest = nil
        self.generator = SplitMix64(seed: self.seed)
        self.responseSerial = 0
    }

    mutating func updateStats(key: Int, model: String, _ change: (inout ModelStats) -> Void) {
        change(&self.stats[key, default: [:]][model, default: ModelStats()])
    }

    /// Draws once per model request, whatever the rate, so a seed gives the same sequence.
    mutating func shouldInjectError() -> Bool {
        let draw = self.generator.nextUnit()
        return draw < self.errorRate
    }

    /// A ~22-character URL-safe id, distinct per answer and repeatable for a seed.
    mutating func nextResponseID() -> String {
        self.responseSerial += 1
        let digest = SHA256.digest(Array("simulator-\(self.seed)-\(self.responseSerial)".utf8))
        return Data(digest.prefix(16)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
