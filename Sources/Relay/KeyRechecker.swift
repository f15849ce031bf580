import Foundation
import KeyPool
import Logging
import Storage
import Synchronization
import Upstream

/// Gives deactivated keys a second chance (off by default): every `key_check_interval_s` each
/// inactive key sends one one-token request to `test_model`; a key that answers 200 is put back
/// in service for every model. A key that still fails stays out, and nothing is counted against
/// any quota row.
final class KeyRechecker: Sendable {
    private let relay: Relay
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(relay: Relay) {
        self.relay = relay
    }

    func start() {
        let loop = Task { [relay] in
            var lastRun = ContinuousClock.now
            while !Task.isCancelled {
                // Short naps, so a changed `key_check_interval_s` or `test_model` counts at once.
                try? await Task.sleep(for: .seconds(5))
                if Task.isCancelled { return }
                let settings = relay.settings
                guard settings.testModel != nil,
                    lastRun.duration(to: .now) >= .seconds(settings.keyCheckIntervalSeconds)
                else { continue }
                lastRun = .now
                _ = await relay.recheckInactiveKeys()
            }
        }
        self.task.withLock { $0 = loop }
    }

    func stop() {
        self.task.withLock { task in
            task?.cancel()
            task = nil
        }
    }
}

extension Relay {
    /// Tries every inactive key once with a one-token request to `test_model`; reactivates the
    /// ones that answer 200. Returns the ids reactivated (none when `test_model` is unset).
    @discardableResult
    public func recheckInactiveKeys() async -> [Int64] {
        let settings = self.settings
        guard let model = settings.testModel else { return [] }
        var revived: [Int64] = []
        for key in self.keysInUse where !key.isActive {
            let base = key.kind == .vertex ? settings.upstream.vertexBaseURL : settings.upstream.baseURL
            let path = key.kind == .vertex ? "v1beta1/publishers/google/models" : "v1beta/models"
            let request = UpstreamRequest(
                method: "POST",
                url: "\(base)/\(path)/\(model):generateContent",
                headers: [("Content-Type", "application/json"), ("x-goog-api-key", key.secret.revealedForUpstream)],
                body: Array(
                    #"{"contents":[{"role":"user","parts":[{"text":"ping"}]}],"generationConfig":{"maxOutputTokens":1}}"#
                        .utf8
                ),
                connectTimeout: settings.upstream.connectTimeout,
                firstByteTimeout: settings.upstream.firstByteTimeout,
                idleTimeout: settings.upstream.idleTimeout
            )
            let status: Int
            do {
                let response = try await self.upstream.send(request)
                _ = try? await response.collectBody(limit: 1 << 20)
                status = response.status
            } catch {
                continue
            }
            guard status == 200 else {
                self.logger.debug(
                    "inactive key still failing",
                    [
                        "key.fingerprint": key.fingerprint.description,
                        "upstream.status": "\(status)",
                    ]
                )
                continue
            }
            do {
                try await self.store.reactivate(keyID: key.id)
                revived.append(key.id)
                self.logger.notice("key reactivated by re-check", ["key.fingerprint": key.fingerprint.description])
            } catch {
                self.logger.error("key not reactivated", ["error": "\(error)"])
            }
        }
        if !revived.isEmpty { try? await self.reloadKeys() }
        return revived
    }
}
