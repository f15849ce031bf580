import KeyPool
import Logging
import Storage
import Synchronization

/// Writes usage records (tokens and history) in batches off the hot path, so a request costs one
/// synchronous store write: its reservation. A crash loses at most one interval of history, never
/// a reservation; a failed write keeps its records for the next try.
final class RecordBatcher: Sendable {
    private struct State {
        var pending: [UsageRecord] = []
        var loop: Task<Void, Never>? = nil
        var isStopped = false
    }

    /// Records kept while the store is unreachable; beyond this the oldest are dropped (and logged).
    static let maxPending = 100_000
    /// A batch this large is written at once rather than at the next tick.
    static let eagerBatch = 512

    private let state = Mutex(State())
    private let store: any UsageStore
    private let interval: Duration
    private let logger: Logger
    private let metrics: RelayMetrics

    init(store: any UsageStore, interval: Duration = .milliseconds(200), logger: Logger, metrics: RelayMetrics) {
        self.store = store
        self.interval = interval
        self.logger = logger
        self.metrics = metrics
    }

    /// Records waiting to be written (`keyrelay_usage_records_pending`).
    var pendingCount: Int { self.state.withLock { $0.pending.count } }

    /// Starts the periodic writer.
    func start() {
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: self?.interval ?? .seconds(1))
                guard let self else { return }
                await self.flush()
            }
        }
        self.state.withLock { $0.loop = task }
    }

    func enqueue(_ record: UsageRecord) {
        let (isFull, stopped) = self.state.withLock { state in
            state.pending.append(record)
            return (state.pending.count >= Self.eagerBatch, state.isStopped)
        }
        if isFull || stopped {
            Task { await self.flush() }
        }
    }

    /// Writes everything pending now.
    func flush() async {
        let batch = self.state.withLock { state in
            defer { state.pending.removeAll(keepingCapacity: true) }
            return state.pending
        }
        guard !batch.isEmpty else { return }
        do {
            try await self.store.record(batch: batch)
        } catch {
            // Keep them for the next tick; records are sums, so a later write in any order is right.
            self.metrics.storeFailed("record_usage")
            let dropped = self.state.withLock { state in
                state.pending.insert(contentsOf: batch, at: 0)
                let excess = max(0, state.pending.count - Self.maxPending)
                state.pending.removeFirst(excess)
                return excess
            }
            self.logger.error(
                "usage records not written",
                [
                    "error": "\(error)", "records": "\(batch.count)",
                    "records.dropped": "\(dropped)",
                ]
            )
        }
    }

    /// Stops the periodic writer after writing what is pending.
    func stop() async {
        let task = self.state.withLock { state in
            state.isStopped = true
            defer { state.loop = nil }
            return state.loop
        }
        task?.cancel()
        await self.flush()
    }
}
