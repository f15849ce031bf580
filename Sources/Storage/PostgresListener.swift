import CPostgres
import Foundation
import KeyPool
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The fleet's change feed: a dedicated connection that `LISTEN`s on `keyrelay_config` from its
/// own thread (`poll` on `PQsocket`, then `PQconsumeInput` and `PQnotifies`) and hands each
/// notification, decoded, to every subscriber's `AsyncStream`.
///
/// Every stream starts with `.resync` once the subscription is live, and gets another one after
/// each reconnect (notifications sent while disconnected are lost). A dropped connection is
/// reopened with a backoff from 100 ms doubling to 2 s.
package final class PostgresListener: Sendable {
    /// The notification channel the triggers of `0007_notify_config_changes.sql` use.
    package static let channel = "keyrelay_config"
    /// How long one `poll` waits before the thread checks whether it should stop, in milliseconds.
    static let pollTimeoutMilliseconds: Int32 = 200

    private struct State {
        var subscribers: [UInt64: AsyncStream<StoreChange>.Continuation] = [:]
        var nextID: UInt64 = 0
        var isListening = false
        var isStarted = false
        var isStopped = false
        var hasExited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    private let shouldStop = Atomic<Bool>(false)
    private let url: String
    private let logger: Logger

    package init(url: String, logger: Logger) {
        self.url = url
        self.logger = logger
    }

    /// A new stream of changes. The first call starts the listening thread; a stream made after
    /// `stop()` is finished at once.
    package func subscribe() -> AsyncStream<StoreChange> {
        let (stream, continuation) = AsyncStream<StoreChange>.makeStream()
        let (id, start, stopped, listening) = self.state.withLock { state in
            state.nextID += 1
            if !state.isStopped { state.subscribers[state.nextID] = continuation }
            let start = !state.isStarted && !state.isStopped
            state.isStarted = true
            return (state.nextID, start, state.isStopped, state.isListening)
        }
        if stopped {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        if listening { continuation.yield(.resync) }
        if start {
            let thread = Thread { [self] in self.run() }
            thread.name = "keyrelay.postgres.listener"
            thread.start()
        }
        return stream
    }

    /// Stops the thread (within one poll interval), closes its connection and finishes every
    /// stream. Idempotent.
    package func stop() async {
        self.shouldStop.store(true, ordering: .relaxed)
        let (subscribers, mustWait) = self.state.withLock { state in
            state.isStopped = true
            defer { state.subscribers.removeAll() }
            return (Array(state.subscribers.values), state.isStarted && !state.hasExited)
        }
        for continuation in subscribers { continuation.finish() }
        guard mustWait else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let exited = self.state.withLock { state in
                if !state.hasExited { state.exitWaiters.append(continuation) }
                return state.hasExited
            }
            if exited { continuation.resume() }
        }
    }

    /// Decodes a payload: `setting:<name>`, `key:<id>`, `row:<key_id>:<model>`, `reset`; anything
    /// else (including `resync`, sent for names too long for a payload) asks for a full reload.
    package static func change(fromPayload payload: String) -> StoreChange {
        if payload == "reset" { return .reset }
        if payload.hasPrefix("setting:") { return .setting(String(payload.dropFirst("setting:".count))) }
        if payload.hasPrefix("key:"), let id = Int64(payload.dropFirst("key:".count)) { return .key(id) }
        if payload.hasPrefix("row:") {
            let rest = payload.dropFirst("row:".count)
            if let colon = rest.firstIndex(of: ":"), let keyID = Int64(rest[..<colon]) {
                let model = String(rest[rest.index(after: colon)...])
                if !model.isEmpty { return .row(UsageRowID(model: model, keyID: keyID)) }
            }
        }
        return .resync
    }

    // MARK: - Thread

    private func run() {
        var backoffMilliseconds = 100
        var hasListened = false
        while !self.shouldStop.load(ordering: .relaxed) {
            guard let handle = self.openListening() else {
                self.pause(milliseconds: backoffMilliseconds)
                backoffMilliseconds = min(backoffMilliseconds * 2, 2000)
                continue
            }
            backoffMilliseconds = 100
            if hasListened { self.logger.notice("listener reconnected", ["store.channel": Self.channel]) }
            hasListened = true
            self.setListening(true)

            self.receive(on: handle)

            self.setListening(false)
            PQfinish(handle)
            if !self.shouldStop.load(ordering: .relaxed) {
                self.logger.notice("listener connection lost", ["store.channel": Self.channel])
                self.pause(milliseconds: backoffMilliseconds)
            }
        }
        let waiters = self.state.withLock { state in
            state.hasExited = true
            defer { state.exitWaiters.removeAll() }
            return state.exitWaiters
        }
        for waiter in waiters { waiter.resume() }
    }

    private func openListening() -> OpaquePointer? {
        let handle: OpaquePointer
        do {
            handle = try PostgresConnection.open(
                url: self.url,
                applicationName: "keyrelay-listener",
                operation: "listen"
            )
        } catch {
            self.logger.debug("listener could not connect", ["store.error": error.description])
            return nil
        }
        let result = PQexec(handle, "LISTEN \(Self.channel)")
        let isListening = result.map { PQresultStatus($0) == PGRES_COMMAND_OK } ?? false
        result.map { PQclear($0) }
        guard isListening else {
            PQfinish(handle)
            return nil
        }
        return handle
    }

    /// Delivers notifications until the connection fails or the listener stops.
    private func receive(on handle: OpaquePointer) {
        let socket = PQsocket(handle)
        guard socket >= 0 else { return }
        while !self.shouldStop.load(ordering: .relaxed) {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, Self.pollTimeoutMilliseconds)
            if ready < 0 && errno != EINTR { return }
            if ready > 0 && PQconsumeInput(handle) == 0 { return }
            var changes: [StoreChange] = []
            while let notification = PQnotifies(handle) {
                let payload = notification.pointee.extra.map { String(cString: $0) } ?? ""
                changes.append(Self.change(fromPayload: payload))
                PQfreemem(notification)
            }
            if !changes.isEmpty { self.deliver(changes) }
            if PQstatus(handle) != CONNECTION_OK { return }
        }
    }

    private func setListening(_ listening: Bool) {
        let subscribers = self.state.withLock { state in
            state.isListening = listening
            return Array(state.subscribers.values)
        }
        if listening {
            for continuation in subscribers { continuation.yield(.resync) }
        }
    }

    private func deliver(_ changes: [StoreChange]) {
        let subscribers = self.state.withLock { Array($0.subscribers.values) }
        for continuation in subscribers {
            for change in changes { continuation.yield(change) }
        }
    }

    /// Sleeps in short steps so that `stop()` is not held up by a long backoff.
    private func pause(milliseconds: Int) {
        var left = milliseconds
        while left > 0, !self.shouldStop.load(ordering: .relaxed) {
            let step = min(left, 50)
            usleep(useconds_t(step * 1000))
            left -= step
        }
    }
}
