import Foundation
import KeyPool
import Logging
import Storage
import Synchronization

/// Writes the request log (one row per client request) in batches off the hot path, like
/// `RecordBatcher`: every `interval` one transaction. Losing rows is acceptable (a crash loses
/// at most one interval); a failed write keeps them for the next try, up to `maxPending`. On
/// SQLite it also deletes rows older than `request_log_retention_days` (a fleet's reset job does
/// that for PostgreSQL).
final class RequestLogWriter: Sendable {
    private struct State {
        var pending: [RequestLogEntry] = []
        var instanceID: String? = nil
        var tasks: [Task<Void, Never>] = []
        var isStopped = false
    }

    /// Rows kept while the store is unreachable; beyond this the oldest are dropped (and logged).
    static let maxPending = 50_000
    /// A batch this large is written at once rather than at the next tick.
    static let eagerBatch = 512
    /// How often a single instance deletes rows past the retention.
    static let purgeInterval = Duration.seconds(3600)

    private let state = Mutex(State())
    private let store: (any RequestLogStore)?
    private let clock: any WallClock
    private let interval: Duration
    private let logger: Logger

    /// - Parameter store: Nil (a store without a request log) makes every call do nothing.
    init(store: (any RequestLogStore)?, clock: any WallClock, interval: Duration = .milliseconds(200), logger: Logger) {
        self.store = store
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    /// Whether requests are logged at all.
    var isEnabled: Bool { self.store != nil }

    /// Starts the periodic writer, and when `purges` the hourly deletion of rows older than
    /// `retentionDays()` days (the first at once). Rows enqueued from now on carry `instanceID`.
    func start(instanceID: String, purges: Bool, retentionDays: @escaping @Sendable () -> Int) {
        guard self.isEnabled else { return }
        let interval = self.interval
        var tasks = [
            Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard let self else { return }
                    await self.flush()
                }
            }
        ]
        if purges {
            tasks.append(
                Task { [weak self] in
                    while !Task.isCancelled {
                        await self?.purge(retentionDays: retentionDays())
                        try? await Task.sleep(for: Self.purgeInterval)
                    }
                }
            )
        }
        self.state.withLock { state in
            state.instanceID = instanceID
            state.tasks = tasks
        }
    }

    /// Queues one row; written at the next tick (at once when the batch is large or the writer
    /// has stopped).
    func enqueue(_ entry: RequestLogEntry) {
        guard self.isEnabled else { return }
        let (writeNow, dropped) = self.state.withLock { state in
            var entry = entry
            if entry.instanceID == nil { entry.instanceID = state.instanceID }
            state.pending.append(entry)
            let excess = max(0, state.pending.count - Self.maxPending)
            state.pending.removeFirst(excess)
            return (state.pending.count >= Self.eagerBatch || state.isStopped, excess)
        }
        if dropped > 0 { self.logger.warning("request log rows dropped", ["rows.dropped": "\(dropped)"]) }
        if writeNow { Task { await self.flush() } }
    }

    /// Writes everything pending now.
    func flush() async {
        guard let store = self.store else { return }
        let batch = self.state.withLock { state in
            defer { state.pending.removeAll(keepingCapacity: true) }
            return state.pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.appendRequestLog(batch)
        } catch  where error.code == .conflict {
            // A row the table refuses (a key deleted behind the relay's back) would refuse the
            // batch forever: drop it rather than block the log.
            self.logger.error("request log rows refused", ["error": "\(error)", "rows": "\(batch.count)"])
        } catch {
            let dropped = self.state.withLock { state in
                state.pending.insert(contentsOf: batch, at: 0)
                let excess = max(0, state.pending.count - Self.maxPending)
                state.pending.removeFirst(excess)
                return excess
            }
            self.logger.error(
                "request log not written",
                ["error": "\(error)", "rows": "\(batch.count)", "rows.dropped": "\(dropped)"]
            )
        }
    }

    /// Deletes rows older than `retentionDays` days (at least 1) by this instance's clock.
    func purge(retentionDays: Int) async {
        guard let store = self.store else { return }
        let cutoff = self.clock.now().addingTimeInterval(-Double(max(1, retentionDays)) * 86_400)
        do {
            let deleted = try await store.deleteRequestLog(before: cutoff)
            if deleted > 0 { self.logger.debug("old request log rows deleted", ["rows": "\(deleted)"]) }
        } catch {
            self.logger.warning("request log retention failed", ["error": "\(error)"])
        }
    }

    /// Stops the periodic tasks after writing what is pending; later rows are written at once.
    func stop() async {
        let tasks = self.state.withLock { state in
            state.isStopped = true
            defer { state.tasks = [] }
            return state.tasks
        }
        for task in tasks { task.cancel() }
        await self.flush()
    }
}
