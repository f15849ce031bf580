import CCurl
import Synchronization

/// Status and headers of a response, as delivered to `send`.
struct ResponseHead: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
}

/// One HTTP transfer: a curl easy handle plus the buffer its body flows through.
///
/// Confinement (why `@unchecked Sendable` holds): the easy handle, its header list and every
/// `var` below `shared` are touched by the thread that builds the transfer until it is submitted,
/// and from then on only by the `CurlLoop` thread (curl calls the callbacks there, and the loop
/// alone adds, pauses, removes and frees the handle). Readers and the loop meet only in `shared`,
/// behind a `Mutex`.
final class CurlTransfer: @unchecked Sendable {
    typealias HeadWaiter = CheckedContinuation<Result<ResponseHead, UpstreamError>, Never>
    typealias BodyWaiter = CheckedContinuation<Result<[UInt8]?, UpstreamError>, Never>

    /// Where the transfer is, as seen by the loop.
    enum Phase {
        /// Resolving, connecting, TLS; curl's connect timeout applies.
        case connecting
        /// The request is going out or out; the first-byte deadline applies.
        case awaitingHead
        /// The head was delivered; the idle deadline applies between chunks.
        case streaming
    }

    /// State shared by the loop thread (producer) and the one reader (consumer).
    struct Shared {
        var headWaiter: HeadWaiter?
        var bodyWaiter: BodyWaiter?
        /// Body bytes received and not yet read, oldest first.
        var chunks: [[UInt8]] = []
        var bufferedBytes = 0
        /// Set once: success at the end of the body, or the failure (a cancel wins over later results).
        var end: Result<Void, UpstreamError>?
        /// The write callback refused a chunk because the buffer is full; the loop must unpause.
        var isPaused = false
        var isUnpauseQueued = false
    }

    /// Above this many buffered bytes the transfer pauses until the reader drains the buffer.
    static let pauseThreshold = 1 << 20

    let shared = Mutex(Shared())
    let loop: CurlLoop

    // Loop-confined after submission (see the type's comment).
    var handle: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var phase = Phase.connecting
    var requestStarted = false
    var isPausedByLoop = false
    var headDeadline: UInt64 = 0
    var lastActivity: UInt64 = 0
    var pendingStatus = 0
    var pendingHeaders: [(name: String, value: String)] = []
    let firstByteTimeoutNanos: UInt64
    let idleTimeoutNanos: UInt64

    init(request: UpstreamRequest, proxyURL: String?, loop: CurlLoop) throws(UpstreamError) {
        self.loop = loop
        self.firstByteTimeoutNanos = request.firstByteTimeout.nanoseconds
        self.idleTimeoutNanos = request.idleTimeout.nanoseconds
        try self.configure(request: request, proxyURL: proxyURL)
    }

    deinit {
        // Normally the loop has freed the handle already; this covers a transfer that failed to build.
        self.releaseHandle()
    }

    /// Frees the easy handle and header list once. Only the loop thread calls this after submission,
    /// and only after removing the handle from the multi handle.
    func releaseHandle() {
        if let handle = self.handle {
            curl_easy_cleanup(handle)
            self.handle = nil
            self.loop.liveHandles.subtract(1, ordering: .relaxed)
        }
        if let list = self.headerList {
            curl_slist_free_all(list)
            self.headerList = nil
        }
    }

    // MARK: - Reader side

    /// Hands the transfer to the loop and waits for the response head.
    func start() async -> Result<ResponseHead, UpstreamError> {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: HeadWaiter) in
                let early: Result<ResponseHead, UpstreamError>? = self.shared.withLock { shared in
                    if case .failure(let error)? = shared.end { return .failure(error) }
                    shared.headWaiter = waiter
                    return nil
                }
                if let early {
                    waiter.resume(returning: early)
                }
                // Submitted even when already cancelled, so that the loop frees the handle.
                if !self.loop.submit(self) {
                    self.releaseHandle()
                    self.finish(.failure(UpstreamError(.clientShutDown, requestWasSent: false)))
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// The next body bytes: everything buffered, in arrival order; nil at the end.
    func nextChunk() async -> Result<[UInt8]?, UpstreamError> {
        if let ready = self.takeBuffered() {
            return ready
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: BodyWaiter) in
                if let ready = self.takeBuffered(orInstall: waiter) {
                    waiter.resume(returning: ready)
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Takes the buffered bytes or the end; with `waiter`, installs it when there is nothing yet.
    private func takeBuffered(orInstall waiter: BodyWaiter? = nil) -> Result<[UInt8]?, UpstreamError>? {
        var needsUnpause = false
        let taken: (chunks: [[UInt8]], total: Int, end: Result<Void, UpstreamError>?)? = self.shared.withLock {
            shared in
            if !shared.chunks.isEmpty {
                let chunks = shared.chunks
                let total = shared.bufferedBytes
                shared.chunks.removeAll(keepingCapacity: true)
                shared.bufferedBytes = 0
                if shared.isPaused && !shared.isUnpauseQueued {
                    shared.isUnpauseQueued = true
                    needsUnpause = true
                }
                return (chunks, total, nil)
            }
            if let end = shared.end {
                return ([], 0, end)
            }
            precondition(shared.bodyWaiter == nil, "nextChunk called concurrently on one response")
            shared.bodyWaiter = waiter
            return nil
        }
        guard let taken else { return nil }

        if needsUnpause {
            self.loop.requestUnpause(self)
        }
        if let end = taken.end {
            return end.map { nil }
        }
        // Everything that is already here goes out at once: never wait for more, never reorder.
        if taken.chunks.count == 1 {
            return .success(taken.chunks[0])
        }
        var joined = [UInt8]()
        joined.reserveCapacity(taken.total)
        for chunk in taken.chunks {
            joined.append(contentsOf: chunk)
        }
        return .success(joined)
    }

    /// Ends the transfer as cancelled (no-op once it has ended); buffered bytes are dropped.
    func cancel() {
        let error = UpstreamError(.cancelled, requestWasSent: true)
        let ended = self.finish(.failure(error), dropBuffered: true)
        if ended {
            self.loop.requestCancel(self)
        }
    }

    /// Records the end once and wakes a waiting reader. Returns false if the transfer had ended.
    @discardableResult
    func finish(_ end: Result<Void, UpstreamError>, dropBuffered: Bool = false) -> Bool {
        let waiters: (head: HeadWaiter?, body: BodyWaiter?)? = self.shared.withLock { shared in
            guard shared.end == nil else { return nil }
            shared.end = end
            if dropBuffered {
                shared.chunks = []
                shared.bufferedBytes = 0
            }
            defer {
                shared.headWaiter = nil
                shared.bodyWaiter = nil
            }
            return (shared.headWaiter, shared.bodyWaiter)
        }
        guard let waiters else { return false }

        if let head = waiters.head {
            switch end {
            case .failure(let error): head.resume(returning: .failure(error))
            // A transfer ends successfully only after its head, so no head waiter is left then.
            case .success: preconditionFailure("transfer ended before its head")
            }
        }
        waiters.body?.resume(returning: end.map { nil })
        return true
    }

    /// Whether the transfer has ended (cancelled, failed or complete).
    var hasEnded: Bool {
        self.shared.withLock { $0.end != nil }
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to 0 for negative durations.
    var nanoseconds: UInt64 {
        let (seconds, attoseconds) = self.components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return UInt64.max / 2 }
        return whole + UInt64(attoseconds / 1_000_000_000)
    }
}
