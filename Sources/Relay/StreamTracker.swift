import KeyPool

/// Watches a streamed Gemini answer on its way to the client: cuts SSE streams into whole events
/// (so an event split across network reads is relayed intact), notices `{"error":…}` events,
/// scrubs them, and keeps the last `usageMetadata` (streams repeat it cumulatively; take the
/// last, never the sum).
struct StreamTracker: Sendable {
    let isSSE: Bool
    let scrubber: SecretScrubber
    private var scanner = SSEScanner()
    private var lastUsagePayload: [UInt8]? = nil
    /// The streamed JSON array form is parsed once at the end; beyond this size usage is not read.
    private var collected: [UInt8] = []
    private var collectedOverflow = false
    private static let maxCollectedBytes = 16 << 20
    private static let usageMarker = Array("\"usageMetadata\"".utf8)

    /// Events (or array bytes) passed on so far.
    private(set) var eventsSeen = 0
    /// Whether the upstream put an error object in the stream.
    private(set) var sawErrorEvent = false
    /// The scrubbed error event, when the stream's first event was one.
    private(set) var firstEventError: [UInt8]? = nil

    init(isSSE: Bool, scrubber: SecretScrubber) {
        self.isSSE = isSSE
        self.scrubber = scrubber
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
                let scrubbedData = self.scrubber.scrubErrorBody(event.data)
                let scrubbed = Array("data: ".utf8) + scrubbedData + Array("\r\n\r\n".utf8)
                if self.eventsSeen == 1 { self.firstEventError = scrubbedData }
                out += scrubbed
            } else {
                if event.data.contains(bytes: Self.usageMarker) { self.lastUsagePayload = event.data }
                out += event.raw
            }
        }
        return out
    }

    /// Bytes of an unfinished last event, passed on when the stream ended cleanly.
    mutating func remainder() -> [UInt8] {
        self.isSSE ? self.scanner.remainder() : []
    }

    /// The tokens the stream reported last.
    var usage: TokenUsage? {
        if self.isSSE {
            return self.lastUsagePayload.flatMap { try? JSONValue.parse($0) }.flatMap(TokenUsage.from(response:))
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
        if self.isSSE { return Array("data: ".utf8) + error.serializedBytes + Array("\r\n\r\n".utf8) }
        return Array("\r\n,\r\n".utf8) + error.serializedBytes + Array("\r\n]".utf8)
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
