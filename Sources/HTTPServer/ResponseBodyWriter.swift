/// Where a streaming handler writes its body. Bounded: `write` waits while the client reads
/// slower than the producer writes. Once the client has disconnected, `write` throws
/// `ClientGoneError` and the handlers registered with `onClientGone` run (once each).
public final class ResponseBodyWriter: Sendable {
    /// Appends `bytes` to the body; returns once they are buffered (waiting while the buffer is full).
    /// - Throws: `ClientGoneError` when the client has disconnected.
    public func write(_ bytes: [UInt8]) async throws(ClientGoneError) {
        fatalError("unimplemented")
    }

    /// True once the client has disconnected.
    public var isClientGone: Bool { fatalError("unimplemented") }

    /// Runs `handler` when the client disconnects (at once if it already has), to cancel
    /// upstream work. Not called after the body ended normally.
    public func onClientGone(_ handler: @escaping @Sendable () -> Void) {
        fatalError("unimplemented")
    }
}
