import KeyPool

/// The bytes of a streamed answer, framed the way Google frames them, and how to pace them.
/// Kept apart from the HTTP server so the exact bytes can be tested without a socket.
struct StreamPlan: Sendable {
    enum Format: Sendable, Hashable {
        /// `?alt=sse`: one `data: {one-line JSON}\r\n\r\n` event per chunk.
        case serverSentEvents
        /// No `alt=sse`: one JSON array of pretty-printed elements separated by `\r\n,\r\n`.
        case jsonArray
        /// The OpenAI-compatible endpoint: `data: {compact JSON}\n\n` per chunk, then `data: [DONE]\n\n`.
        case openAIEvents
    }

    /// One write and the wait before it.
    struct Write: Sendable {
        var bytes: [UInt8]
        var pause: Duration
    }

    var format: Format
    /// The chunk payloads in order (a stream error is the last one).
    var events: [JSONValue]
    /// Wait between two chunks.
    var chunkDelay: Duration
    /// The body ends after the events, without the closing `]` or `data: [DONE]`, as a
    /// connection that just stops (`[[stream-drop]]`).
    var isCutShort = false
    /// When set, each event of an SSE format goes out in two writes split inside its JSON,
    /// this far apart (`[[sse-split]]`).
    var splitPause: Duration?

    /// The writes, in order. The JSON-array form sends its separator with the element that
    /// follows it, and the closing bracket as a last write of its own.
    func frames() -> [[UInt8]] {
        self.writes().map(\.bytes)
    }

    /// The writes with the pause before each.
    func writes() -> [Write] {
        var writes: [Write] = []
        for (offset, event) in self.events.enumerated() {
            let pause = offset > 0 ? self.chunkDelay : .zero
            let text: String
            switch self.format {
            case .serverSentEvents: text = "data: " + GoogleJSON.line(event) + "\r\n\r\n"
            case .openAIEvents: text = "data: " + event.serialized + "\n\n"
            case .jsonArray: text = (offset == 0 ? "[" : "\r\n,\r\n") + GoogleJSON.pretty(event)
            }
            let bytes = Array(text.utf8)
            if let splitPause = self.splitPause, self.format != .jsonArray, bytes.count > 1 {
                // Split between two bytes of the JSON, away from the `data: ` prefix and the
                // terminator, so a reader must join two reads to get one event.
                let middle = 6 + (bytes.count - 6) / 2
                writes.append(Write(bytes: Array(bytes[..<middle]), pause: pause))
                writes.append(Write(bytes: Array(bytes[middle...]), pause: splitPause))
            } else {
                writes.append(Write(bytes: bytes, pause: pause))
            }
        }
        guard !self.isCutShort else { return writes }
        switch self.format {
        case .serverSentEvents:
            break
        case .openAIEvents:
            writes.append(Write(bytes: Array("data: [DONE]\n\n".utf8), pause: .zero))
        case .jsonArray:
            writes.append(Write(bytes: Array((self.events.isEmpty ? "[]" : "\r\n]").utf8), pause: .zero))
        }
        return writes
    }

    /// Hands every frame to `sink`, waiting the planned pauses. Stops early, without error,
    /// when the task is cancelled; rethrows what `sink` throws (a client that went away).
    func write(to sink: (_ bytes: [UInt8]) async throws -> Void) async throws {
        for write in self.writes() {
            if write.pause > .zero {
                do {
                    try await Task.sleep(for: write.pause)
                } catch {
                    return
                }
            }
            try await sink(write.bytes)
        }
    }
}
