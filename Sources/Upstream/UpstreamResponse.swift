/// A response whose head has arrived; the body is read chunk by chunk.
///
/// Dropping the response before its body ended cancels the transfer, so an unread body never
/// holds a connection.
public final class UpstreamResponse: Sendable {
    private let transfer: CurlTransfer
    private let head: ResponseHead

    init(transfer: CurlTransfer, head: ResponseHead) {
        self.transfer = transfer
        self.head = head
    }

    deinit {
        self.transfer.cancel()
    }

    /// The final (non-1xx) status code.
    public var status: Int { self.head.status }

    /// Response headers in arrival order, names and values trimmed; repeated names stay repeated.
    public var headers: [(name: String, value: String)] { self.head.headers }

    /// The first value of header `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        self.head.headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The next chunk of the body as it arrived from the network; nil at the end. Bytes already
    /// received are returned at once (several network reads may come joined), never held back
    /// waiting for more. Only one read may be in progress at a time. Cancelling the calling task
    /// cancels the transfer.
    /// - Throws: `UpstreamError` on a transport failure (`.transport`), an idle timeout
    ///   (`.idleTimeout`), cancellation (`.cancelled`) or shutdown (`.clientShutDown`); bytes
    ///   received before a failure are returned first.
    public func nextChunk() async throws(UpstreamError) -> [UInt8]? {
        try await self.transfer.nextChunk().get()
    }

    /// The rest of the body. - Throws: `UpstreamError` (code `.tooLarge` past `limit` bytes, which
    /// also cancels the transfer), or any error of `nextChunk()`.
    public func collectBody(limit: Int) async throws(UpstreamError) -> [UInt8] {
        var body = [UInt8]()
        if let length = self.header("content-length").flatMap({ Int($0) }), length <= limit {
            body.reserveCapacity(length)
        }
        while let chunk = try await self.nextChunk() {
            guard body.count + chunk.count <= limit else {
                self.transfer.cancel()
                throw UpstreamError(.tooLarge, requestWasSent: true)
            }
            if body.isEmpty {
                body = chunk
            } else {
                body.append(contentsOf: chunk)
            }
        }
        return body
    }

    /// Body bytes received and not yet read (bounded by the pause threshold plus one network read).
    var bufferedByteCount: Int {
        self.transfer.shared.withLock { $0.bufferedBytes }
    }

    /// Whether the transfer is paused because the reader fell behind.
    var isPausedForBackpressure: Bool {
        self.transfer.shared.withLock { $0.isPaused }
    }

    /// Aborts the transfer (the client went away). Later reads throw `.cancelled`. No-op once the
    /// body has ended.
    public func cancel() {
        self.transfer.cancel()
    }
}
