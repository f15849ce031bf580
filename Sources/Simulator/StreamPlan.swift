import KeyPool

/// The bytes of a streamed answer, framed the way Google frames them, and how to pace them.
/// Kept apart from the HTTP server so the exact bytes can be tested without a socket.
struct StreamPlan: Sendable {
    enum Format: Sendable, Hashable {
        /// `?alt=sse`: one `data: {one-line JSON}\r\n\r\n` event per chunk.
        case serverSentEvents
        /// No `alt=sse`: one JSON array of pretty-printed elements separated by `\r\n,\r\n`.
        case jsonArray
    }

    var format: Format
    /// The chunk payloads in order (a stream error is the last one).
    var events: [JSONValue]
    /// Wait between two chunks.
    var chunkDelay: Duration

    /// The writes, in order. The JSON-array form sends its separator with the element that
    /// follows it, and the closing bracket as a last write of its own.
    func frames() -> [[UInt8]] {
        switch self.format {
        case .serverSentEvents:
            return self.events.map { Array(("data: " + GoogleJSON.line($0) + "\r\n\r\n").utf8) }
        case .jsonArray:
            var frames = self.events.enumerated().map { offset, event in
                Array(((offset == 0 ? "[" : "\r\n,\r\n") + GoogleJSON.pretty(event)).utf8)
            }
            frames.append(Array((self.events.isEmpty ? "[]" : "\r\n]").utf8))
            return frames
        }
    }

    /// Hands every frame to `sink`, waiting `chunkDelay` between chunks. Stops early, without
    /// error, when the task is cancelled; rethrows what `sink` throws (a client that went away).
    func write(to sink: (_ bytes: [UInt8]) async throws -> Void) async throws {
        for (offset, frame) in self.frames().enumerated() {
            if offset > 0, offset < self.events.count, self.chunkDelay > .zero {
                do {
                    try await Task.sleep(for: self.chunkDelay)
                } catch {
                    return
                }
            }
            try await sink(frame)
        }
    }
}
