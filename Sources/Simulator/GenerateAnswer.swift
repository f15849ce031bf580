import Foundation
import KeyPool

/// The simulated answer to one generate request, in Gemini API or Vertex shape: the whole
/// response, or the chunks of a stream with cumulative usage.
struct GenerateAnswer: Sendable {
    /// `modelVersion`: the requested model without `models/`.
    var model: String
    var responseID: String
    var isVertex: Bool
    /// Vertex `createTime` (RFC 3339).
    var createTime: String
    var promptTokens: Int
    var thoughtsTokens: Int
    var text: String
    var finishReason: String
    var isBlocked: Bool

    /// Longest echoed text, so a huge prompt does not make a huge answer.
    static let maxEchoCharacters = 4096

    init(facts: RequestFacts, model: String, responseID: String, isVertex: Bool, createTime: String) {
        self.model = model
        self.responseID = responseID
        self.isVertex = isVertex
        self.createTime = createTime
        self.promptTokens = facts.promptTokens
        self.isBlocked = facts.markers.contains(.block)

        let echoed =
            facts.lastUserText.isEmpty ? "(no text)" : String(facts.lastUserText.prefix(Self.maxEchoCharacters))
        var text = "Echo: " + echoed
        var finishReason = "STOP"
        if let limit = facts.maxOutputTokens, limit > 0, Self.tokens(text) > limit {
            text = String(text.prefix(limit * 4))
            finishReason = "MAX_TOKENS"
        }
        self.text = text
        self.finishReason = finishReason

        // Thinking models report thought tokens unless thinking is turned off with a zero budget.
        let thinks = model.contains("2.5") || model.contains("gemini-3")
        let budget = facts.thinkingBudget ?? -1
        self.thoughtsTokens = !thinks || budget == 0 ? 0 : (budget > 0 ? min(budget, 24) : 24)
    }

    /// Output tokens of `text`: a quarter of the characters, rounded up; 0 for no text.
    static func tokens(_ text: String) -> Int { (text.count + 3) / 4 }

    var candidatesTokens: Int { self.isBlocked ? 0 : Self.tokens(self.text) }
    var totalTokens: Int { self.promptTokens + self.candidatesTokens + (self.isBlocked ? 0 : self.thoughtsTokens) }

    /// The non-stream body.
    func response() -> JSONValue {
        if self.isBlocked { return self.blockedResponse() }
        return self.chunk(text: self.text, isLast: true, candidatesSoFar: self.candidatesTokens)
    }

    /// Stream payloads: `count` text deltas (the last with `finishReason`), or the blocked
    /// response alone. With `failAfterFirst`, the first delta and then Google's INTERNAL error.
    func streamEvents(count: Int, failAfterFirst: Bool) -> [JSONValue] {
        if self.isBlocked { return [self.blockedResponse()] }
        let pieceCount = failAfterFirst ? max(2, count) : count
        let pieces = Self.split(self.text, into: pieceCount)
        var events: [JSONValue] = []
        var soFar = ""
        for (offset, piece) in pieces.enumerated() {
            soFar += piece
            let isLast = offset == pieces.count - 1
            events.append(self.chunk(text: piece, isLast: isLast, candidatesSoFar: Self.tokens(soFar)))
            if failAfterFirst {
                events.append(GoogleError.internalError().body)
                break
            }
        }
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

    private func chunk(text: String, isLast: Bool, candidatesSoFar: Int) -> JSONValue {
        let parts: JSONValue = [["text": .string(text)]]
        let content: JSONValue = self.isVertex ? ["role": "model", "parts": parts] : ["parts": parts, "role": "model"]
        var candidate: [(String, JSONValue)] = [("content", content)]
        if isLast { candidate.append(("finishReason", .string(self.finishReason))) }
        if !self.isVertex { candidate.append(("index", 0)) }

        let usage: JSONValue
        if self.isVertex && !isLast {
            // Vertex streams carry counts only on the final chunk.
            usage = ["trafficType": "ON_DEMAND"]
        } else {
            usage = self.usage(candidates: candidatesSoFar)
        }
        return self.envelope([("candidates", .array([.object(candidate)])), ("usageMetadata", usage)])
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
