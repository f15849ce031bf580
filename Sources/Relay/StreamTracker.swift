import KeyPool

/// Watches a streamed answer on its way to the client: cuts SSE streams into whole events (so an
/// event split across network reads is relayed intact), notices `{"error":…}` events and scrubs
/// them, keeps the last usage (streams repeat it cumulatively; take the last, never the sum), and
/// for OpenAI chat clients translates each Gemini event into `chat.completion.chunk` frames.
struct StreamTracker: Sendable {
    let isSSE: Bool
    let scrubber: SecretScrubber
    /// Usage comes as OpenAI's `usage` (Gemini's OpenAI endpoint) rather than `usageMetadata`.
    let reportsOpenAIUsage: Bool
    /// Set for `/v1/chat/completions`: Gemini events become OpenAI chunks.
    private var chat: ChatStreamTranslator?
    private let errorShape: ErrorShape
    private var scanner = SSEScanner()
    private var lastUsagePayload: [UInt8]? = nil
    /// The streamed JSON array form is parsed once at the end; beyond this size usage is not read.
    private var collected: [UInt8] = []
    private var collectedOverflow = false
    private static let maxCollectedBytes = 16 << 20

    /// Events (or array bytes) passed on so far.
    private(set) var eventsSeen = 0
    /// Whether the upstream put an error object in the stream.
    private(set) var sawErrorEvent = false
    /// The scrubbed error event (Google's shape), when the stream's first event was one.
    private(set) var firstEventError: [UInt8]? = nil
    /// Whether an event said the answer is complete (`finishReason`, a blocked prompt's
    /// `blockReason`, or OpenAI's `finish_reason`); a stream that ends without one was cut short.
    private(set) var sawFinish = false
    private static let finishMarkers = [
        "\"finishReason\"", "\"blockReason\"", "\"finish_reason\":\"", "\"finish_reason\": \"",
    ]
    .map { Array($0.utf8) }

    init(plan: ForwardPlan) {
        self.isSSE = plan.isSSE
        self.scrubber = plan.scrubber
        self.reportsOpenAIUsage = plan.reportsOpenAIUsage
        self.errorShape = plan.errorShape
        if case .openAIChat(let model, let id, let created, let includeUsage) = plan.adapter {
            self.chat = ChatStreamTranslator(model: model, id: id, created: created, includeUsage: includeUsage)
        }
    }

    private var usageMarker: [UInt8] {
        Array((self.reportsOpenAIUsage ? "\"usage\"" : "\"usageMetadata\"").utf8)
    }

    /// Adds upstream bytes; returns the bytes ready to go to the client.
    mutating func feed(_ chunk: [UInt8]) -> [UInt8] {
        guard self.isSSE else {
            self.collect(chunk)
            self.eventsSeen += chunk.isEmpty ? 0 : 1
            return chunk
        }
        var out: [UInt8] = []
        for event in self.scanner.feed(chunk) {
            self.eventsSeen += 1
            if event.data.startsWithErrorObject {
                self.sawErrorEvent = true
                let scrubbed = self.scrubber.scrubErrorBody(event.data)
                if self.eventsSeen == 1 { self.firstEventError = scrubbed }
                out += self.errorFrame(googleError: scrubbed)
                continue
            }
            if event.data.contains(bytes: self.usageMarker) { self.lastUsagePayload = event.data }
            if !self.sawFinish { self.sawFinish = Self.finishMarkers.contains { event.data.contains(bytes: $0) } }
            if self.chat != nil {
                // An event that does not parse is dropped rather than passed to an OpenAI client.
                guard let document = try? JSONValue.parse(event.data) else { continue }
                for frame in self.chat!.translate(event: document) { out += frame }
            } else {
                out += event.raw
            }
        }
        return out
    }

    /// What ends a stream whose upstream closed cleanly: an unfinished last event passed on as it
    /// came, or for OpenAI chat clients the usage chunk (when asked for) and `data: [DONE]`. A
    /// stream that closed before saying it was finished gets an error event instead, so the
    /// client's SDK raises rather than taking a truncated answer as whole.
    mutating func finish() -> [UInt8] {
        if !self.isSSE {
            self.sawFinish =
                self.collected.contains(bytes: Self.finishMarkers[0])
                || self.collected.contains(bytes: Self.finishMarkers[1]) || self.collectedOverflow
            return []
        }
        let rest = self.scanner.remainder()
        // An error event already told the client the answer failed; one is enough.
        guard self.sawFinish || self.sawErrorEvent else {
            return self.errorTrailer(message: "upstream stream ended before the answer was complete")
        }
        guard self.chat != nil else { return rest }
        guard !self.sawErrorEvent else { return [] }
        return self.chat!.finish().flatMap { $0 }
    }

    /// The tokens the stream reported last.
    var usage: TokenUsage? {
        if self.isSSE {
            guard let payload = self.lastUsagePayload, let document = try? JSONValue.parse(payload) else { return nil }
            return self.reportsOpenAIUsage ? Relay.openAIUsage(document) : TokenUsage.from(response: document)
        }
        guard !self.collectedOverflow, let items = (try? JSONValue.parse(self.collected))?.arrayValue else {
            return nil
        }
        return items.reversed().lazy.compactMap(TokenUsage.from(response:)).first
    }

    /// Whether a streamed JSON array held an error element (checked at the end).
    var arrayHeldError: Bool {
        guard !self.isSSE, !self.collectedOverflow, let items = (try? JSONValue.parse(self.collected))?.arrayValue
        else {
            return false
        }
        return items.contains { $0["error"] != nil }
    }

    /// The event the relay appends when the upstream failed after the client got bytes.
    func errorTrailer(message: String) -> [UInt8] {
        let error: JSONValue = ["error": ["code": 502, "message": .string(message), "status": "UNAVAILABLE"]]
        if self.isSSE { return self.errorFrame(googleError: error.serializedBytes) }
        return Array("\r\n,\r\n".utf8) + error.serializedBytes + Array("\r\n]".utf8)
    }

    /// One SSE event carrying a (scrubbed) Google error, in the client's shape.
    private func errorFrame(googleError: [UInt8]) -> [UInt8] {
        switch self.errorShape {
        case .google:
            return Array("data: ".utf8) + googleError + Array("\r\n\r\n".utf8)
        case .openAI:
            let status = (try? JSONValue.parse(googleError))?["error"]?["code"]?.intValue ?? 502
            return Array("data: ".utf8) + OpenAIError.fromGoogle(status: status, body: googleError).body
                + Array("\n\n".utf8)
        }
    }

    private mutating func collect(_ chunk: [UInt8]) {
        guard !self.collectedOverflow else { return }
        if self.collected.count + chunk.count > Self.maxCollectedBytes {
            self.collectedOverflow = true
            self.collected = []
        } else {
            self.collected += chunk
        }
    }
}
