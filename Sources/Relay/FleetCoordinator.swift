import Foundation
import KeyPool
import Logging
import Storage
import Synchronization

/// Keeps one instance of a fleet in step with the shared store: follows the change feed
/// (settings, keys, exhausted rows), runs the window resets when it wins the advisory lock,
/// refreshes the usage matrix from a periodic snapshot, and keeps the instance's heartbeat.
final class FleetCoordinator: Sendable {
    /// How often the whole matrix is refreshed from the store (other instances' reservations).
    static let snapshotInterval = Duration.seconds(2)
    static let heartbeatInterval = Duration.seconds(10)

    private let relay: Relay
    private let store: any FleetStore
    private let instanceID: String
    private let version: String
    private let logger: Logger
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(relay: Relay, store: any FleetStore, instanceID: String, version: String) {
        self.relay = relay
        self.version = version
        self.store = store
        self.instanceID = instanceID
        self.logger = relay.logger.named("fleet")
    }

    func start() {
        let loops = [
            Task { await self.followChanges() },
            Task { await self.runResetsAtBoundaries() },
            Task { await self.refreshSnapshots() },
            Task { await self.keepHeartbeat() },
        ]
        self.tasks.withLock { $0 = loops }
    }

    /// Stops the loops and removes the instance's row.
    func stop() async {
        let loops = self.tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in loops { task.cancel() }
        do {
            try await self.store.deregisterInstance(id: self.instanceID)
        } catch {
            self.logger.warning("instance not deregistered", ["error": "\(error)"])
        }
    }

    private func followChanges() async {
        for await change in self.store.changes() {
            if Task.isCancelled { return }
            do {
                switch change {
                case .setting:
                    try await self.relay.reloadSettings()
                case .key:
                    try await self.relay.reloadKeys()
                case .row(let id):
                    if let row = try await self.store.loadRow(id) { self.relay.ledger.load(row: row) }
                case .reset:
                    self.relay.ledger.load(rows: try await self.store.snapshot())
                case .resync:
                    // Listening (re)started: anything may have changed while nobody listened.
                    self.relay.metrics.listenerResynced()
                    try await self.relay.reloadSettings()
                    // Reloading the keys brings the rows with them.
                    try await self.relay.reloadKeys()
                    self.logger.notice("resynchronised with the fleet")
                }
            } catch {
                self.relay.metrics.storeFailed("follow_changes")
                self.logger.error("fleet change not applied", ["error": "\(error)"])
            }
        }
    }

    /// Every instance wakes just after each minute boundary (the quota day starts on one too);
    /// the one that gets the advisory lock zeroes closed windows, the others skip.
    private func runResetsAtBoundaries() async {
        while !Task.isCancelled {
            let now = Date().timeIntervalSince1970
            let untilBoundary = 60 - now.truncatingRemainder(dividingBy: 60)
            // A little jitter so the fleet does not hit the lock in the same millisecond.
            let jitter = Double.random(in: 0.05...0.3)
            try? await Task.sleep(for: .milliseconds(Int((untilBoundary + jitter) * 1000)))
            if Task.isCancelled { return }
            do {
                let retention = self.relay.settings.requestLogRetentionDays
                if case .ran(let zeroed) = try await self.store.runResets(retentionDays: retention), zeroed > 0 {
                    self.logger.debug("closed windows reset", ["rows": "\(zeroed)"])
                }
            } catch {
                self.relay.metrics.storeFailed("reset")
                self.logger.error("reset job failed", ["error": "\(error)"])
            }
        }
    }

    private func refreshSnapshots() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.snapshotInterval)
            if Task.isCancelled { return }
            do {
                if self.relay.isStoreReachable.load(ordering: .relaxed) {
                    self.relay.ledger.load(rows: try await self.store.snapshot())
                } else {
                    // Back after an outage: keys (and with them the rows) may have changed meanwhile.
                    try await self.relay.reloadKeys()
                    self.relay.isStoreReachable.store(true, ordering: .relaxed)
                    self.logger.notice("store reachable again")
                }
            } catch {
                self.relay.metrics.storeFailed("snapshot")
                if self.relay.isStoreReachable.exchange(false, ordering: .relaxed) {
                    self.logger.error("store unreachable", ["error": "\(error)"])
                }
            }
        }
    }

    private func keepHeartbeat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: Self.heartbeatInterval)
            if Task.isCancelled { return }
            do {
                try await self.store.heartbeat(instanceID: self.instanceID)
            } catch  where error.code == .notFound {
                // A reset removed the row as stale (a long outage): register again.
                try? await self.store.registerInstance(
                    id: self.instanceID,
                    host: ProcessInfo.processInfo.hostName,
                    version: self.version
                )
            } catch {
                self.relay.metrics.storeFailed("heartbeat")
                self.logger.warning("heartbeat failed", ["error": "\(error)"])
            }
        }
    }
}
