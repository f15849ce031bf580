import CCurl
import Foundation
import Logging
import Synchronization

/// One thread driving one curl multi handle: it adds, unpauses, cancels and finishes transfers,
/// enforces the first-byte and idle deadlines, and sleeps in `curl_multi_poll` otherwise.
///
/// Confinement (why `@unchecked Sendable` holds): `multi`, `active` and `nextCheck` are touched
/// only by the loop thread once `start()` has run (`init` sets them up before the thread exists).
/// Other threads reach the loop only through `inbox` (a `Mutex`) and `curl_multi_wakeup`, which
/// curl documents as callable from any thread; the wakeup happens under the inbox lock, so it
/// can never race with `curl_multi_cleanup`.
final class CurlLoop: @unchecked Sendable {
    private enum Command {
        case add(CurlTransfer)
        case cancel(CurlTransfer)
        case unpause(CurlTransfer)
    }

    private struct Inbox {
        var commands: [Command] = []
        var isShutDown = false
    }

    private let inbox = Mutex(Inbox())
    private let multi: UnsafeMutableRawPointer
    private let logger: Logger
    private let stopped = DispatchSemaphore(value: 0)
    private let isRunning = Atomic<Bool>(false)
    /// The loop thread's id, so that a shutdown from the loop itself does not wait for itself.
    private let loopThreadID = Atomic<UInt>(0)
    /// Easy handles created and not yet freed; read for metrics and tests.
    let liveHandles = Atomic<Int>(0)

    // Loop-confined.
    private var active: [ObjectIdentifier: CurlTransfer] = [:]
    private var nextCheck = UInt64.max

    init(maxIdleConnections: Int, logger: Logger) throws(UpstreamError) {
        guard keyrelay_curl_global_init_once() == CURLE_OK, let multi = curl_multi_init() else {
            throw UpstreamError(.transport, requestWasSent: false)
        }
        self.multi = multi
        self.logger = logger
        let maxConnects = max(0, min(maxIdleConnections, Int(Int32.max)))
        _ = keyrelay_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, maxConnects)
    }

    func start() {
        self.isRunning.store(true, ordering: .sequentiallyConsistent)
        let thread = Thread { [self] in
            self.run()
        }
        thread.name = "keyrelay-upstream"
        thread.start()
    }

    // MARK: - Any thread

    /// Queues a transfer; false once the loop is shut down (the caller then still owns the handle).
    func submit(_ transfer: CurlTransfer) -> Bool {
        self.enqueue(.add(transfer))
    }

    func requestCancel(_ transfer: CurlTransfer) {
        _ = self.enqueue(.cancel(transfer))
    }

    func requestUnpause(_ transfer: CurlTransfer) {
        _ = self.enqueue(.unpause(transfer))
    }

    private func enqueue(_ command: Command) -> Bool {
        self.inbox.withLock { inbox in
            guard !inbox.isShutDown else { return false }
            inbox.commands.append(command)
            // Only the first command of a batch wakes the loop; it drains the whole batch.
            if inbox.commands.count == 1 {
                _ = curl_multi_wakeup(self.multi)
            }
            return true
        }
    }

    /// Fails every transfer with `.clientShutDown`, frees all handles and stops the thread; waits
    /// until that is done (a few milliseconds). Idempotent.
    func shutdown() {
        let isFirst = self.inbox.withLock { inbox in
            guard !inbox.isShutDown else { return false }
            inbox.isShutDown = true
            _ = curl_multi_wakeup(self.multi)
            return true
        }
        guard self.isRunning.load(ordering: .sequentiallyConsistent) else {
            if isFirst { curl_multi_cleanup(self.multi) }
            return
        }
        if self.loopThreadID.load(ordering: .sequentiallyConsistent) == UInt(pthread_self()) { return }
        // Every caller waits, then lets the next waiter through.
        self.stopped.wait()
        self.stopped.signal()
    }

    // MARK: - Loop thread

    private func run() {
        self.loopThreadID.store(UInt(pthread_self()), ordering: .sequentiallyConsistent)
        var running: Int32 = 0
        while true {
            let (commands, isShutDown) = self.inbox.withLock { inbox in
                defer { inbox.commands.removeAll(keepingCapacity: true) }
                return (inbox.commands, inbox.isShutDown)
            }
            for command in commands {
                self.apply(command)
            }
            if isShutDown { break }

            let performed = curl_multi_perform(self.multi, &running)
            if performed != CURLM_OK {
                self.logger.error("curl multi perform failed", ["curl.code": "\(performed.rawValue)"])
            }
            self.collectFinished()

            let now = monotonicNanos()
            if now >= self.nextCheck {
                self.expireDeadlines(now: now)
            }
            // curl_multi_poll also returns early for curl's own timers and for wakeups.
            let waitNanos = self.nextCheck == .max ? 1_000_000_000 : self.nextCheck &- min(now, self.nextCheck)
            let waitMillis = Int32(min(1_000, (waitNanos + 999_999) / 1_000_000))
            _ = curl_multi_poll(self.multi, nil, 0, waitMillis, nil)
        }

        for transfer in Array(self.active.values) {
            self.detach(transfer)
            transfer.finish(.failure(UpstreamError(.clientShutDown, requestWasSent: transfer.requestStarted)))
        }
        curl_multi_cleanup(self.multi)
        self.logger.debug("upstream loop stopped")
        self.stopped.signal()
    }

    private func apply(_ command: Command) {
        switch command {
        case .add(let transfer):
            guard let handle = transfer.handle else { return }
            // Cancelled before the loop saw it: free without touching the network.
            if transfer.hasEnded {
                transfer.releaseHandle()
                return
            }
            guard curl_multi_add_handle(self.multi, handle) == CURLM_OK else {
                transfer.releaseHandle()
                transfer.finish(.failure(UpstreamError(.transport, requestWasSent: false)))
                return
            }
            self.active[ObjectIdentifier(transfer)] = transfer

        case .cancel(let transfer):
            // Only running transfers are known here; `transfer.handle` is read only after this check.
            if self.active[ObjectIdentifier(transfer)] != nil {
                self.detach(transfer)
            }

        case .unpause(let transfer):
            if self.active[ObjectIdentifier(transfer)] != nil {
                transfer.unpause()
            }
        }
    }

    /// Removes a running transfer from the multi handle and frees its handle (exactly once).
    private func detach(_ transfer: CurlTransfer) {
        guard let handle = transfer.handle else { return }
        self.active[ObjectIdentifier(transfer)] = nil
        _ = curl_multi_remove_handle(self.multi, handle)
        transfer.releaseHandle()
    }

    private func collectFinished() {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(self.multi, &remaining) {
            var context: UnsafeMutableRawPointer?
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle,
                keyrelay_curl_easy_getinfo_pointer(handle, CURLINFO_PRIVATE, &context) == CURLE_OK,
                let context
            else { continue }
            let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
            guard self.active[ObjectIdentifier(transfer)] === transfer else { continue }
            // Read before detaching: the message belongs to the handle being freed.
            let result = message.pointee.data.result

            if result == CURLE_OK {
                // A body without a blank line before it (never for HTTP/1.1) still gets its head.
                transfer.deliverHead()
                self.detach(transfer)
                transfer.finish(.success(()))
            } else {
                let error = UpstreamError.fromCurl(result, requestStarted: transfer.requestStarted)
                self.detach(transfer)
                transfer.finish(.failure(error))
            }
        }
    }

    private func expireDeadlines(now: UInt64) {
        var next = UInt64.max
        var expired: [(CurlTransfer, UpstreamError)] = []
        for transfer in self.active.values {
            if let error = transfer.expiredDeadline(now: now, next: &next) {
                expired.append((transfer, error))
            }
        }
        self.nextCheck = next
        for (transfer, error) in expired {
            self.detach(transfer)
            transfer.finish(.failure(error))
        }
    }

    /// A transfer has a deadline at `deadline`; deadlines only move later otherwise, so the
    /// earliest one noted stays a lower bound until the next scan.
    func noteDeadline(_ deadline: UInt64) {
        self.nextCheck = min(self.nextCheck, deadline)
    }

    /// Easy handles alive: built, queued, running, or held by an unread response.
    var liveHandleCount: Int {
        self.liveHandles.load(ordering: .relaxed)
    }
}

/// Monotonic time in nanoseconds (CLOCK_MONOTONIC, unaffected by wall-clock changes).
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}

/// curl_global_init must run once before any other curl call; Swift runs a global's initializer once.
private let curlGlobalInitResult: CURLcode = keyrelay_curl_global_init()

private func keyrelay_curl_global_init_once() -> CURLcode {
    curlGlobalInitResult
}
