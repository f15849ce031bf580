import Foundation
import KeyPool
import Logging
import Storage

extension Relay {
    /// How `start` treats the schema and the stored settings.
    public struct StartOptions: Sendable {
        /// Apply pending migrations (default); otherwise only refuse a schema newer than this build.
        public var migrate = true
        /// In a fleet, write this process's explicit pool settings to the store
        /// (`keyrelay serve --apply-settings`).
        public var applySettings = false
        /// This instance's id in `instances` (fleet only).
        public var instanceID = UUID().uuidString.lowercased()
        public var version = "dev"

        public init() {}
    }

    /// Brings the store up to date, writes the configured keys (and, on SQLite, the settings) to
    /// it, loads the usage matrix and starts answering `/health` with 200. In a fleet it also
    /// seeds or reads the shared settings and starts following the fleet's changes.
    public func start(_ options: StartOptions = StartOptions()) async throws(StoreError) {
        self.metrics.setVersion(options.version)
        if options.migrate {
            // The store logs what it applied.
            _ = try await self.store.migrate()
        } else {
            try await self.store.verifySchema()
        }

        let now = self.clock.now()
        let settings = self.baseSettings
        var gemini = settings.keys.gemini.map { ConfiguredKey(secret: $0) }
        if let paid = settings.keys.paid {
            gemini.append(ConfiguredKey(secret: paid, label: "paid", isPaid: true))
        }
        let vertex = settings.keys.vertex.map { ConfiguredKey(secret: $0) }

        if let fleet = self.store as? any FleetStore {
            // Keys given to one instance join the pool; removing one is done once, through the
            // admin API or SQL, not by each instance's own list.
            for (kind, configured) in [(KeyKind.gemini, gemini), (.vertex, vertex)] where !configured.isEmpty {
                let inUse = try await self.store.addKeys(configured, kind: kind, restoreRemoved: false, at: now)
                let inUseHashes = Set(inUse.map(\.secret.hash))
                for key in configured where !inUseHashes.contains(key.secret.hash) {
                    self.logger.warning(
                        "configured key was removed from the fleet and is not restored; add it through the admin API to use it again",
                        ["key.fingerprint": key.secret.fingerprint.description]
                    )
                }
            }
            try await self.adoptFleetSettings(fleet, options: options)
        } else {
            _ = try await self.store.syncKeys(gemini, kind: .gemini, at: now)
            _ = try await self.store.syncKeys(vertex, kind: .vertex, at: now)
            // One instance on SQLite: the file and environment win at start (DESIGN.md §8).
            try await self.store.saveSettings(settings.storedPoolSettings, by: "startup", at: now)
        }

        // Keys and their usage rows.
        try await self.reloadKeys()
        let keys = self.ledger.keys
        self.logger.info(
            "key pool loaded",
            ["keys.active": "\(keys.filter(\.isActive).count)", "keys.total": "\(keys.count)"]
        )
        self.ledger.records.start()
        // A fleet's reset job applies the retention; a single instance does it itself.
        self.ledger.requestLog.start(instanceID: options.instanceID, purges: !(self.store is any FleetStore)) {
            [weak self] in self?.settings.requestLogRetentionDays ?? 30
        }

        if let fleetStore = self.store as? any FleetStore {
            try await fleetStore.registerInstance(
                id: options.instanceID,
                host: ProcessInfo.processInfo.hostName,
                version: options.version
            )
            let coordinator = FleetCoordinator(
                relay: self,
                store: fleetStore,
                instanceID: options.instanceID,
                version: options.version
            )
            self.fleet.withLock { $0 = coordinator }
            coordinator.start()
        }
        // Always running: it does nothing until `test_model` is set, which may happen at run time.
        let rechecker = KeyRechecker(relay: self)
        self.rechecker.withLock { $0 = rechecker }
        rechecker.start()
        self.phase.store(Phase.ready.rawValue, ordering: .releasing)
    }

    /// Stops following the fleet and writes pending usage records; call after the server drained.
    public func shutdown() async {
        self.rechecker.withLock { rechecker in
            rechecker?.stop()
            rechecker = nil
        }
        let coordinator = self.fleet.withLock { fleet in
            defer { fleet = nil }
            return fleet
        }
        await coordinator?.stop()
        await self.ledger.records.stop()
        await self.ledger.requestLog.stop()
    }

    /// Writes usage records still waiting in the batch (history and tokens) to the store.
    public func flushUsageRecords() async {
        await self.ledger.records.flush()
    }

    /// Seeds an empty settings table with this process's pool settings, or (once seeded) takes
    /// the stored ones as the truth, warning about explicit local values that differ.
    private func adoptFleetSettings(_ fleet: any FleetStore, options: StartOptions) async throws(StoreError) {
        let settings = self.baseSettings
        if options.applySettings {
            try await self.store.saveSettings(settings.explicitPoolSettings, by: "apply-settings", at: self.clock.now())
            self.logger.info("settings applied to the fleet", ["count": "\(settings.explicitPoolSettings.count)"])
        } else if try await fleet.seedSettings(settings.storedPoolSettings, by: "seed") {
            self.logger.info("fleet settings seeded from this instance")
        }
        let stored = try await self.store.loadSettings()
        for name in settings.differences(from: stored) {
            self.logger.warning(
                "local setting differs from the fleet's and is not applied; use keyrelay serve --apply-settings, "
                    + "the admin API or SQL to change it",
                ["setting": name]
            )
        }
        self.applyStored(stored)
    }

    /// Puts the stored pool settings in force over this process's own.
    func applyStored(_ stored: [String: String]) {
        // Over the settings in force, so a stored value that does not parse keeps the fleet's
        // previous value rather than this instance's start-up one.
        let (merged, problems) = self.settings.applyingStored(stored)
        for problem in problems { self.logger.warning("stored setting refused", ["problem": problem]) }
        self.apply(merged)
    }

    /// Reloads the fleet's settings from the store.
    func reloadSettings() async throws(StoreError) {
        self.applyStored(try await self.store.loadSettings())
        self.logger.info("settings reloaded")
    }

    /// Reloads the keys from the store now (tests change them behind the relay's back).
    public func reloadKeysForTests() async throws {
        try await self.reloadKeys()
    }

    /// Reloads the key list (health included) and rebuilds what depends on it.
    func reloadKeys() async throws(StoreError) {
        let keys = try await self.store.loadKeys()
        self.ledger.load(keys: keys)
        // A restored key brings its rows back (setKeys dropped them when it was removed).
        self.ledger.load(rows: try await self.store.snapshot())
        self.apply(self.settings)
    }
}
