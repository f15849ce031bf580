import Foundation
import KeyPool
import Logging
import Storage
import Synchronization

/// Joins the in-memory usage matrix (selection, no I/O) with the store (atomic reservations and
/// flag changes). Selection reads memory; every reservation's returned row refreshes the cache; a
/// refused reservation refreshes its row and selects again.
final class KeyLedger: Sendable {
    /// What `acquire` found.
    enum Acquisition: Sendable {
        case reserved(KeyRecord, Reservation, overLimit: Bool)
        /// No key has headroom (or every one was tried); `retryAt` is the earliest relief, if known.
        case exhausted(retryAt: Date?)
        case noActiveKey
        case storeFailed(StoreError)
    }

    private struct State {
        var matrix: UsageMatrix
        var rng = SystemRandomNumberGenerator()
    }

    private let state: Mutex<State>
    private let store: any UsageStore
    let records: RecordBatcher
    /// The request log's batched writer (does nothing for a store without one).
    let requestLog: RequestLogWriter
    private let clock: any WallClock
    private let logger: Logger
    private let metrics: RelayMetrics
    /// The quota calendar the matrix reads windows with.
    var calendar: QuotaCalendar { self.state.withLock { $0.matrix.calendar } }

    init(store: any UsageStore, calendar: QuotaCalendar, clock: any WallClock, logger: Logger, metrics: RelayMetrics) {
        self.state = Mutex(State(matrix: UsageMatrix(calendar: calendar)))
        self.store = store
        self.metrics = metrics
        self.records = RecordBatcher(store: store, logger: logger, metrics: metrics)
        self.requestLog = RequestLogWriter(store: store as? any RequestLogStore, clock: clock, logger: logger)
        self.clock = clock
        self.logger = logger
    }

    /// Rebuilds the matrix on a new calendar (`quota_timezone` changed), keeping keys and rows.
    func setCalendar(_ calendar: QuotaCalendar) {
        self.state.withLock { state in
            var matrix = UsageMatrix(calendar: calendar)
            matrix.setKeys(Array(state.matrix.keys.values))
            matrix.replaceRows(state.matrix.rows)
            state.matrix = matrix
        }
    }

    /// Replaces the key list (rows of keys no longer listed are dropped).
    func load(keys: [KeyRecord]) {
        self.state.withLock { $0.matrix.setKeys(keys) }
    }

    /// Replaces the rows with a snapshot from the store (never moving a row's windows back).
    func load(rows: [UsageRow]) {
        self.state.withLock { $0.matrix.replaceRows(rows) }
    }

    /// Refreshes one row.
    func load(row: UsageRow) {
        self.state.withLock { $0.matrix.apply(row) }
    }

    var keys: [KeyRecord] { self.state.withLock { Array($0.matrix.keys.values) } }

    func key(_ id: Int64) -> KeyRecord? { self.state.withLock { $0.matrix.keys[id] } }

    /// Selects and reserves a key for one attempt.
    func acquire(
        _ request: SelectionRequest,
        policy: Settings.ExhaustedPolicy
    ) async -> Acquisition {
        // Each refusal refreshes a row from the store, so this converges; the bound is a guard
        // against a store that keeps refusing what the cache believes it has.
        var refused = Set<Int64>()
        for _ in 0..<32 {
            var current = request
            current.now = self.clock.now()
            // A key the store refused is not tried again in this acquisition, even when this
            // instance's clock (a second ahead of the database's) thinks its window has closed.
            current.excluding.formUnion(refused)
            let selection = self.state.withLock { state in state.matrix.select(current, using: &state.rng) }

            let key: KeyRecord
            var enforce = true
            switch selection {
            case .key(let chosen):
                key = chosen
            case .noActiveKey:
                return .noActiveKey
            case .noHeadroom(let retryAt):
                guard policy == .cycle,
                    let cycled = self.state.withLock({ $0.matrix.nextCycling(current) })
                else {
                    return .exhausted(
                        retryAt: retryAt ?? self.state.withLock { $0.matrix.earliestRelief(for: current) }
                    )
                }
                key = cycled
                enforce = false
            }

            let row = UsageRowID(model: current.quotaModel, keyID: key.id)
            let result: ReservationResult
            do {
                result = try await self.store.reserve(
                    ReservationRequest(
                        row: row,
                        limits: current.limits(for: key),
                        cost: current.cost,
                        now: current.now,
                        enforceLimits: enforce
                    )
                )
            } catch {
                self.metrics.storeFailed("reserve")
                return .storeFailed(error)
            }
            switch result {
            case .reserved(let reservation, let stored, let overLimit):
                self.state.withLock { $0.matrix.apply(stored) }
                return .reserved(key, reservation, overLimit: overLimit)
            case .refused(let stored):
                self.metrics.reservationsRefused.increment()
                self.state.withLock { $0.matrix.apply(stored) }
                refused.insert(key.id)
            }
        }
        return .exhausted(retryAt: nil)
    }

    /// Gives back a reservation whose attempt never reached the upstream.
    func release(_ reservation: Reservation) async {
        do {
            try await self.store.release(reservation)
        } catch {
            self.metrics.storeFailed("release")
            self.logger.error("release failed", ["error": "\(error)", "model": reservation.row.model])
        }
    }

    /// Records the attempt's tokens and outcome (history and TPM).
    func record(_ reservation: Reservation, tokens: TokenUsage?, outcome: UsageRecord.Outcome) {
        let record = UsageRecord(
            reservation: reservation,
            inputTokens: tokens?.inputTokens ?? 0,
            totalTokens: tokens?.totalTokens ?? 0,
            outcome: outcome,
            at: self.clock.now()
        )
        self.records.enqueue(record)
        RequestLogTrace.current?.recorded(tokens: tokens)
        if let tokens, tokens.inputTokens > 0 {
            self.state.withLock { state in
                guard var row = state.matrix.row(reservation.row), row.minuteStart == reservation.minuteStart else {
                    return
                }
                row.tpm += tokens.inputTokens
                state.matrix.apply(row)
            }
        }
    }

    /// Keeps the key off `row`'s model until `until` (a 429).
    func exhaust(_ row: UsageRowID, until: Date) async {
        self.state.withLock { state in
            if var cached = state.matrix.row(row) {
                cached.exhaustedUntil = max(cached.exhaustedUntil ?? until, until)
                state.matrix.apply(cached)
            }
        }
        do {
            try await self.store.exhaust(row, until: until)
        } catch {
            self.metrics.storeFailed("exhaust")
            self.logger.error("exhaust failed", ["error": "\(error)", "model": row.model])
        }
    }

    /// Takes the key out of service for every model.
    func deactivate(_ keyID: Int64, reason: String) async {
        self.updateKey(keyID) { key in
            key.isActive = false
            key.deactivationReason = reason
        }
        do {
            try await self.store.deactivate(keyID: keyID, reason: reason, at: self.clock.now())
        } catch {
            self.metrics.storeFailed("deactivate")
            self.logger.error("deactivate failed", ["error": "\(error)", "key.id": "\(keyID)"])
        }
    }

    /// Counts an unexplained failure; the store deactivates at `maxFailures`.
    func recordFailure(_ keyID: Int64, error: String, maxFailures: Int) async -> KeyRecord? {
        do {
            let key = try await self.store.recordFailure(
                keyID: keyID,
                error: error,
                maxFailures: maxFailures,
                at: self.clock.now()
            )
            self.state.withLock { $0.matrix.updateKey(key) }
            return key
        } catch {
            self.metrics.storeFailed("record_failure")
            self.logger.error("failure record failed", ["error": "\(error)", "key.id": "\(keyID)"])
            return nil
        }
    }

    /// Notes a transient error as the key's last error.
    func noteError(_ keyID: Int64, error: String) async {
        self.updateKey(keyID) { $0.lastError = error }
        do {
            try await self.store.noteError(keyID: keyID, error: error)
        } catch {
            self.metrics.storeFailed("note_error")
            self.logger.error("error note failed", ["error": "\(error)", "key.id": "\(keyID)"])
        }
    }

    /// Clears the failure count after a success; a write only when there was something to clear.
    func recordSuccess(_ keyID: Int64) async {
        let hadFailures = self.state.withLock { ($0.matrix.keys[keyID]?.failureCount ?? 0) > 0 }
        guard hadFailures else { return }
        self.updateKey(keyID) { $0.failureCount = 0 }
        do {
            try await self.store.recordSuccess(keyID: keyID)
        } catch {
            self.metrics.storeFailed("record_success")
            self.logger.error("success record failed", ["error": "\(error)", "key.id": "\(keyID)"])
        }
    }

    /// Runs `body` on the matrix under the lock.
    func withMatrix<T>(_ body: (inout UsageMatrix) -> T) -> T {
        self.state.withLock { body(&$0.matrix) }
    }

    private func updateKey(_ keyID: Int64, _ change: (inout KeyRecord) -> Void) {
        self.state.withLock { state in
            guard var key = state.matrix.keys[keyID] else { return }
            change(&key)
            state.matrix.updateKey(key)
        }
    }
}
