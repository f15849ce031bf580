import Foundation
import KeyPool

/// The simulated answer to one generate request, in Gemini API or Vertex shape: the whole
/// response, or the chunks of a stream with cumulative usage. One answer may hold several
/// candidates (`candidateCount`); the OpenAI-compatible endpoint renders the same answer.
struct GenerateAnswer: Sendable {
    /// What the candidates hold.
    enum Outcome: Sendable, Hashable {
        /// Text (an echo, or a function's result quoted back).
        case text
        /// One `functionCall` part per candidate.
        case functionCall(name: String, args: JSONValue)
        /// `finishReason: SAFETY`, no content (`[[safety]]`).
        case safety
        /// `finishReason: MAX_TOKENS`, no content: thinking used the budget (`[[max-tokens]]`).
        case thoughtsExhausted
    }

    /// `modelVersion`: the requested model without `models/`.
    var model: String
    var responseID: String
    var isVertex: Bool
    /// Vertex `createTime` (RFC 3339).
    var createTime: String
    var promptTokens: Int
    var thoughtsTokens: Int
    var outcome: Outcome
    /// The text of each candidate (empty strings unless `outcome` is `.text`).
    var texts: [String]
    /// The finish reason of every candidate.
    var finishReason: String
    var isBlocked: Bool

    /// Longest echoed text, so a huge prompt does not make a huge answer.
    static let maxEchoCharacters = 4096
    /// Thought tokens a `[[max-tokens]]` answer reports when the request sets no budget.
    static let defaultThoughtBudget = 64

    init(facts: RequestFacts, model: String, responseID: String, isVertex: Bool, createTime: String) {
        self.model = model
        self.responseID = responseID
        self.isVertex = isVertex
        self.createTime = createTime
        self.promptTokens = facts.promptTokens
        self.isBlocked = facts.markers.contains(.block)

        // Thinking models report thought tokens unless thinking is turned off with a zero budget.
        let thinks = model.contains("2.5") || model.contains("gemini-3")
        let budget = facts.thinkingBudget ?? -1
        self.thoughtsTokens = !thinks || budget == 0 ? 0 : (budget > 0 ? min(budget, 24) : 24)

        let count = facts.candidateCount
        self.texts = Array(repeating: "", count: count)
        self.finishReason = "STOP"
        if facts.markers.contains(.safety) {
            self.outcome = .safety
            self.finishReason = "SAFETY"
        } else if facts.markers.contains(.maxTokens) {
            self.outcome = .thoughtsExhausted
            self.finishReason = "MAX_TOKENS"
            let positiveBudget = facts.thinkingBudget.flatMap { $0 > 0 ? $0 : nil }
            self.thoughtsTokens = facts.maxOutputTokens ?? positiveBudget ?? Self.defaultThoughtBudget
        } else if case .call(let name, let args) = facts.toolAnswer {
            self.outcome = .functionCall(name: name, args: args)
        } else {
            self.outcome = .text
            let echoed =
                facts.lastUserText.isEmpty ? "(no text)" : String(facts.lastUserText.prefix(Self.maxEchoCharacters))
            let base = facts.toolAnswer?.resultText ?? ("Echo: " + echoed)
            self.texts = (0..<count).map { index in index == 0 ? base : base + " (\(index + 1))" }
            if let limit = facts.maxOutputTokens, limit > 0, self.texts.contains(where: { Self.tokens($0) > limit }) {
                self.texts = self.texts.map { String($0.prefix(limit * 4)) }
                self.finishReason = "MAX_TOKENS"
            }
        }
    }

    /// Output tokens of `text`: a quarter of the characters, rounded up; 0 for no text.
    static func tokens(_ text: String) -> Int { (text.count + 3) / 4 }

    /// Candidates in the answer.
    var candidateCount: Int { self.texts.count }

    /// The text of the first candidate.
    var text: String { self.texts.first ?? "" }

    /// Output tokens of all candidates.
    var candidatesTokens: Int {
        if self.isBlocked { return 0 }
        switch self.outcome {
        case .text: return self.texts.reduce(0) { $0 + Self.tokens($1) }
        case .functionCall(let name, let args):
            return self.candidateCount * Self.tokens(name + args.serialized)
        case .safety, .thoughtsExhausted: return 0
        }
    }

    var totalTokens: Int { self.promptTokens + self.candidatesTokens + (self.isBlocked ? 0 : self.thoughtsTokens) }

    /// The non-stream body.
    func response() -> JSONValue {
        if self.isBlocked { return self.blockedResponse() }
        switch self.outcome {
        case .text:
            return self.chunk(parts: self.texts.map { [["text": .string($0)]] }, isLast: true, soFar: self.texts)
        case .functionCall, .safety, .thoughtsExhausted:
            return self.wholeChunk()
        }
    }

    /// Stream payloads: `count` deltas of every candidate (the last with `finishReason`), a
    /// function call whole in one chunk, a content-less stop in one chunk, or the blocked response.
    /// - Parameters:
    ///   - failAfterFirst: the first delta, then Google's INTERNAL error event.
    ///   - dropAfterFirst: the first delta only (the caller ends the body there).
    func streamEvents(count: Int, failAfterFirst: Bool, dropAfterFirst: Bool = false) -> [JSONValue] {
        if self.isBlocked { return [self.blockedResponse()] }
        guard case .text = self.outcome else {
            let chunk = self.wholeChunk()
            return failAfterFirst ? [chunk, GoogleError.internalError().body] : [chunk]
        }

        let cutsShort = failAfterFirst || dropAfterFirst
        let pieceCount = cutsShort ? max(2, count) : count
        let pieces = self.texts.map { Self.split($0, into: pieceCount) }
        var events: [JSONValue] = []
        var soFar = Array(repeating: "", count: self.candidateCount)
        for offset in 0..<pieceCount {
            let deltas = pieces.map { $0[offset] }
            soFar = zip(soFar, deltas).map { $0 + $1 }
            let isLast = offset == pieceCount - 1
            events.append(self.chunk(parts: deltas.map { [["text": .string($0)]] }, isLast: isLast, soFar: soFar))
            if cutsShort { break }
        }
        if failAfterFirst { events.append(GoogleError.internalError().body) }
        return events
    }

    /// `text` in `count` consecutive pieces that are non-empty when the text is long enough;
    /// a shorter text is padded with spaces so no chunk is empty.
    static func split(_ text: String, into count: Int) -> [String] {
        var characters = Array(text)
        if characters.count < count { characters += Array(repeating: " ", count: count - characters.count) }
        return (0..<count).map { index in
            String(characters[index * characters.count / count..<(index + 1) * characters.count / count])
        }
    }

    /// The one chunk of a non-text outcome: function calls, or candidates without content.
    private func wholeChunk() -> JSONValue {
        let parts: [JSONValue?]
        switch self.outcome {
        case .functionCall(let name, let args):
            let call: JSONValue = ["functionCall": ["name": .string(name), "args": args]]
            parts = Array(repeating: [call], count: self.candidateCount)
        case .text, .safety, .thoughtsExhausted:
            parts = Array(repeating: nil, count: self.candidateCount)
        }
        return self.envelope([
            ("candidates", .array(parts.enumerated().map { self.candidate($1, index: $0, isLast: true) })),
            ("usageMetadata", self.usage(candidates: self.candidatesTokens)),
        ])
    }

    private func chunk(parts: [JSONValue], isLast: Bool, soFar: [String]) -> JSONValue {
        let candidates = parts.enumerated().map { self.candidate($1, index: $0, isLast: isLast) }
        let usage: JSONValue
        if self.isVertex && !isLast {
            // Vertex streams carry counts only on the final chunk.
            usage = ["trafficType": "ON_DEMAND"]
        } else {
            usage = self.usage(candidates: soFar.reduce(0) { $0 + Self.tokens($1) })
        }
        return self.envelope([("candidates", .array(candidates)), ("usageMetadata", usage)])
    }

    private func candidate(_ parts: JSONValue?, index: Int, isLast: Bool) -> JSONValue {
        var candidate: [(String, JSONValue)] = []
        if let parts {
            let content: JSONValue =
                self.isVertex ? ["role": "model", "parts": parts] : ["parts": parts, "role": "model"]
            candidate.append(("content", content))
        }
        if isLast { candidate.append(("finishReason", .string(self.finishReason))) }
        // Vertex writes proto3 JSON, which leaves out an index of 0.
        if !self.isVertex || index > 0 { candidate.append(("index", JSONValue(index))) }
        if self.outcome == .safety {
            candidate.append(
                (
                    "safetyRatings",
                    [
                        ["category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": true],
                        ["category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"],
                    ]
                )
            )
        }
        return .object(candidate)
    }

    private func blockedResponse() -> JSONValue {
        var usage: [(String, JSONValue)] = [
            ("promptTokenCount", JSONValue(self.promptTokens)), ("totalTokenCount", JSONValue(self.promptTokens)),
        ]
        if self.isVertex { usage.append(("trafficType", "ON_DEMAND")) }
        return self.envelope([
            ("promptFeedback", ["blockReason": "PROHIBITED_CONTENT"]), ("usageMetadata", .object(usage)),
        ])
    }

    private func usage(candidates: Int) -> JSONValue {
        var members: [(String, JSONValue)] = [("promptTokenCount", JSONValue(self.promptTokens))]
        // Google omits zero counts.
        if candidates > 0 { members.append(("candidatesTokenCount", JSONValue(candidates))) }
        members.append(("totalTokenCount", JSONValue(self.promptTokens + candidates + self.thoughtsTokens)))
        if self.isVertex { members.append(("trafficType", "ON_DEMAND")) }
        members.append(("promptTokensDetails", [["modality": "TEXT", "tokenCount": JSONValue(self.promptTokens)]]))
        if self.thoughtsTokens > 0 { members.append(("thoughtsTokenCount", JSONValue(self.thoughtsTokens))) }
        return .object(members)
    }

    private func envelope(_ members: [(String, JSONValue)]) -> JSONValue {
        var all = members
        all.append(("modelVersion", .string(self.model)))
        if self.isVertex { all.append(("createTime", .string(self.createTime))) }
        all.append(("responseId", .string(self.responseID)))
        // A field no Google API has: the relay must pass unknown fields through untouched.
        all.append(("simulatorExtension", ["kept": true]))
        return .object(all)
    }
}
