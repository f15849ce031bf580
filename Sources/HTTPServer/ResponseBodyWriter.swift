import CMicroHTTPD
import Synchronization

/// Where a streaming handler writes its body. Bounded: `write` waits while the client reads
/// slower than the producer writes. Once the client has disconnected, `write` throws
/// `ClientGoneError` and the handlers registered with `onClientGone` run (once each).
public final class ResponseBodyWriter: Sendable {
    /// Above this many buffered bytes `write` waits; it continues once the client has read the
    /// buffer down to half of it.
    static let highWaterBytes = 256 << 10

    private struct State {
        var chunks: [[UInt8]] = []
        /// Bytes of `chunks[0]` already handed to libmicrohttpd.
        var headOffset = 0
        var bufferedBytes = 0
        /// The producer closure returned: once the buffer is empty the body ends.
        var isFinished = false
        /// The content reader returned end-of-stream: the body ended normally.
        var hasEnded = false
        /// libmicrohttpd freed the response: the connection is done with this body.
        var isClosed = false
        var isClientGone = false
        /// The content reader suspended the connection because the buffer was empty.
        var isSuspended = false
        var goneHandlers: [@Sendable () -> Void] = []
        var spaceWaiters: [CheckedContinuation<Void, Never>] = []

        /// Marks the client gone; returns the handlers and waiters to run outside the lock.
        mutating func markGone() -> (handlers: [@Sendable () -> Void], waiters: [CheckedContinuation<Void, Never>]) {
            guard !self.isClientGone, !self.hasEnded else { return ([], self.takeWaiters()) }
            self.isClientGone = true
            let handlers = self.goneHandlers
            self.goneHandlers = []
            return (handlers, self.takeWaiters())
        }

        mutating func takeWaiters() -> [CheckedContinuation<Void, Never>] {
            let waiters = self.spaceWaiters
            self.spaceWaiters = []
            return waiters
        }
    }

    private let connection: ConnectionHandle
    private let state = Mutex(State())

    init(connection: ConnectionHandle) {
        self.connection = connection
    }

    /// Appends `bytes` to the body; returns once they are buffered (waiting while the buffer is full).
    /// - Throws: `ClientGoneError` when the client has disconnected.
    public func write(_ bytes: [UInt8]) async throws(ClientGoneError) {
        while true {
            let isBuffered = try self.state.withLock { state throws(ClientGoneError) -> Bool in
                guard !state.isClientGone, !state.isClosed else { throw ClientGoneError() }
                guard state.bufferedBytes < Self.highWaterBytes else { return false }
                if !bytes.isEmpty {
                    state.chunks.append(bytes)
                    state.bufferedBytes += bytes.count
                }
                self.resumeIfSuspended(&state)
                return true
            }
            if isBuffered { return }

            // Backpressure: park until the content reader drains the buffer or the client goes.
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let parked = self.state.withLock { state in
                    let isBlocked = state.bufferedBytes >= Self.highWaterBytes
                    guard isBlocked, !state.isClientGone, !state.isClosed else { return false }
                    state.spaceWaiters.append(continuation)
                    return true
                }
                if !parked { continuation.resume() }
            }
        }
    }

    /// True once the client has disconnected.
    public var isClientGone: Bool { self.state.withLock { $0.isClientGone } }

    /// Runs `handler` when the client disconnects (at once if it already has), to cancel
    /// upstream work. Not called after the body ended normally.
    public func onClientGone(_ handler: @escaping @Sendable () -> Void) {
        let runNow = self.state.withLock { state -> Bool in
            if state.isClientGone { return true }
            if !state.hasEnded && !state.isClosed { state.goneHandlers.append(handler) }
            return false
        }
        if runNow { handler() }
    }

    // MARK: - Called by the server

    /// The producer closure returned: end the body once the buffer is sent.
    func finish() {
        self.state.withLock { state in
            state.isFinished = true
            self.resumeIfSuspended(&state)
        }
    }

    /// The client disconnected (seen by the watchdog) or the drain timed out: wake the
    /// connection so the content reader aborts it, and tell the producer.
    func abort() {
        let (handlers, waiters) = self.state.withLock { state in
            let taken = state.markGone()
            self.resumeIfSuspended(&state)
            return taken
        }
        Self.run(handlers, waiters)
    }

    /// True while bytes may still go to the client, for the disconnect watchdog.
    var isStreaming: Bool { self.state.withLock { !$0.hasEnded && !$0.isClosed && !$0.isClientGone } }

    /// libmicrohttpd's content reader: called on an MHD thread with room for `capacity` bytes.
    func read(into destination: UnsafeMutableRawPointer, capacity: Int) -> Int {
        var waiters: [CheckedContinuation<Void, Never>] = []
        let result = self.state.withLock { state -> Int in
            if state.isClientGone { return Int(MHD_CONTENT_READER_END_WITH_ERROR) }
            if state.bufferedBytes == 0 {
                if state.isFinished {
                    state.hasEnded = true
                    return Int(MHD_CONTENT_READER_END_OF_STREAM)
                }
                // Returning 0 without suspending would make MHD poll this callback in a loop.
                // Suspending under the lock pairs every resume with exactly one suspend.
                state.isSuspended = true
                MHD_suspend_connection(self.connection.pointer)
                return 0
            }

            let copied = Self.drain(&state, into: destination, capacity: capacity)
            if state.bufferedBytes <= Self.highWaterBytes / 2 { waiters = state.takeWaiters() }
            return copied
        }
        for waiter in waiters { waiter.resume() }
        return result
    }

    /// libmicrohttpd freed the response: the connection finished or closed.
    func close() {
        let (handlers, waiters) = self.state.withLock { state in
            // A freed response's connection is no longer suspended by us, and may be gone.
            state.isSuspended = false
            let taken = state.markGone()
            state.isClosed = true
            state.chunks = []
            state.bufferedBytes = 0
            return taken
        }
        Self.run(handlers, waiters)
    }

    private func resumeIfSuspended(_ state: inout State) {
        guard state.isSuspended else { return }
        state.isSuspended = false
        MHD_resume_connection(self.connection.pointer)
    }

    private static func drain(_ state: inout State, into destination: UnsafeMutableRawPointer, capacity: Int) -> Int {
        var copied = 0
        while copied < capacity, !state.chunks.isEmpty {
            let chunk = state.chunks[0]
            let count = min(capacity - copied, chunk.count - state.headOffset)
            chunk.withUnsafeBytes { source in
                let start = source.baseAddress! + state.headOffset
                (destination + copied).copyMemory(from: start, byteCount: count)
            }
            copied += count
            state.headOffset += count
            if state.headOffset == chunk.count {
                state.chunks.removeFirst()
                state.headOffset = 0
            }
        }
        state.bufferedBytes -= copied
        return copied
    }

    private static func run(_ handlers: [@Sendable () -> Void], _ waiters: [CheckedContinuation<Void, Never>]) {
        for waiter in waiters { waiter.resume() }
        for handler in handlers { handler() }
    }
}
