import KeyPool

/// What the simulator reads from a request body: its text (for token estimates, markers and the
/// echoed answer) and the few generation settings it honours.
struct RequestFacts: Sendable {
    /// Prompt markers that trigger simulated behaviour.
    enum Marker: String, Sendable, CaseIterable {
        case invalidArgument = "[[invalid-argument]]"
        case block = "[[block]]"
        case streamError = "[[stream-error]]"
        /// A candidate stopped for safety: `finishReason: SAFETY`, no content.
        case safety = "[[safety]]"
        /// Thinking used the whole output budget: `finishReason: MAX_TOKENS`, no content.
        case maxTokens = "[[max-tokens]]"
        /// The stream ends after its first chunk, without a finishReason or terminator.
        case streamDrop = "[[stream-drop]]"
        /// Each SSE event is sent in two writes, split inside its JSON.
        case sseSplit = "[[sse-split]]"
    }

    /// Most candidates one answer holds (Google's own limit is 8).
    static let maxCandidates = 8

    /// Characters of every `text` value in the body.
    var inputCharacters: Int
    /// The text parts of the last user turn, joined; empty when there is none.
    var lastUserText: String
    /// Markers found in any text of the body.
    var markers: Set<Marker>
    /// `thinkingConfig.thinkingBudget`, nil when absent.
    var thinkingBudget: Int?
    /// `generationConfig.maxOutputTokens`, nil when absent.
    var maxOutputTokens: Int?
    /// Input tokens of each inner request of `batchEmbedContents` (one entry per text).
    var batchTokens: [Int]
    /// `generationConfig.candidateCount` (OpenAI `n`), 1...`maxCandidates`; default 1.
    var candidateCount: Int
    /// A function call or function result to answer with instead of an echo; nil without tools.
    var toolAnswer: ToolAnswer?

    /// The estimate used throughout: a quarter of the characters, at least 1.
    static func tokens(characters: Int) -> Int { max(1, characters / 4) }

    /// Input tokens of the whole request.
    var promptTokens: Int { Self.tokens(characters: self.inputCharacters) }

    init(body: JSONValue) {
        var texts: [String] = []
        Self.collectTexts(body, into: &texts)
        self.inputCharacters = texts.reduce(0) { $0 + $1.count }
        self.markers = Set(Marker.allCases.filter { marker in texts.contains { $0.contains(marker.rawValue) } })

        let request = body["generateContentRequest"] ?? body
        self.lastUserText = Self.lastUserText(request["contents"])
        let config = request["generationConfig"] ?? request["generation_config"]
        let thinking = config?["thinkingConfig"] ?? config?["thinking_config"]
        self.thinkingBudget = (thinking?["thinkingBudget"] ?? thinking?["thinking_budget"])?.intValue
        self.maxOutputTokens = (config?["maxOutputTokens"] ?? config?["max_output_tokens"])?.intValue
        let count = (config?["candidateCount"] ?? config?["candidate_count"])?.intValue ?? 1
        self.candidateCount = min(max(count, 1), Self.maxCandidates)
        self.toolAnswer = ToolAnswer.native(request)

        self.batchTokens = (body["requests"]?.arrayValue ?? []).map { inner in
            var innerTexts: [String] = []
            Self.collectTexts(inner, into: &innerTexts)
            return Self.tokens(characters: innerTexts.reduce(0) { $0 + $1.count })
        }
    }

    /// Facts assembled by another request shape (the OpenAI-compatible endpoint).
    init(
        texts: [String],
        lastUserText: String,
        thinkingBudget: Int?,
        maxOutputTokens: Int?,
        batchTokens: [Int],
        candidateCount: Int,
        toolAnswer: ToolAnswer?
    ) {
        self.inputCharacters = texts.reduce(0) { $0 + $1.count }
        self.markers = Set(Marker.allCases.filter { marker in texts.contains { $0.contains(marker.rawValue) } })
        self.lastUserText = lastUserText
        self.thinkingBudget = thinkingBudget
        self.maxOutputTokens = maxOutputTokens
        self.batchTokens = batchTokens
        self.candidateCount = min(max(candidateCount, 1), Self.maxCandidates)
        self.toolAnswer = toolAnswer
    }

    private static func collectTexts(_ value: JSONValue, into texts: inout [String]) {
        switch value {
        case .object(let members):
            for (name, member) in members {
                if name == "text", let text = member.stringValue {
                    texts.append(text)
                } else {
                    Self.collectTexts(member, into: &texts)
                }
            }
        case .array(let items):
            for item in items { Self.collectTexts(item, into: &texts) }
        default:
            break
        }
    }

    private static func lastUserText(_ contents: JSONValue?) -> String {
        let turns = contents?.arrayValue ?? contents.map { [$0] } ?? []
        for turn in turns.reversed() {
            let role = turn["role"]?.stringValue ?? "user"
            guard role == "user" else { continue }
            let parts = turn["parts"]?.arrayValue ?? []
            let text = parts.compactMap { $0["text"]?.stringValue }.joined()
            if !text.isEmpty { return text }
        }
        return ""
    }
}
