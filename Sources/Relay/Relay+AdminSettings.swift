import Foundation
import HTTPServer
import KeyPool
import Storage

extension Relay {
    /// Settings a reset keeps: who may call (resetting tokens would lock every client and the
    /// operator out) and where traffic goes (an operator's upstream or proxy origin).
    static let settingsKeptByReset: Set<String> = [
        "allowed_tokens", "admin_token", "metrics_token", "upstream_base_url", "vertex_base_url",
    ]

    /// `PUT /admin/settings` with `{"name": value, …}`: every value is checked against the settings
    /// in force before anything is written; one bad value refuses the whole change.
    func adminChangeSettings(request: HTTPRequest, requestID: String) async -> HTTPResponse {
        guard let document = try? JSONValue.parse(request.body), let members = document.objectMembers, !members.isEmpty
        else {
            return APIError.invalidArgument("body must be a JSON object of settings, e.g. {\"max_retries\": 5}")
                .response(requestID: requestID)
        }
        var candidate = self.settings
        var changed: [String] = []
        for (name, value) in members {
            do throws(SettingError) {
                try Self.checkChangeable(name)
                let text = try Settings.configText(name: name, value: value, source: "admin API")
                if Self.settingsKeptByReset.contains(name) && text.trimmingWhitespace().isEmpty {
                    // Clearing a token through the API would lock the operator out (or open /metrics).
                    throw SettingError(
                        setting: name,
                        source: "admin API",
                        message: "cannot be cleared through the admin API"
                    )
                }
                try candidate.apply(name: name, text: text, source: "admin API")
            } catch {
                return APIError.invalidArgument(error.description, param: name).response(requestID: requestID)
            }
            changed.append(name)
        }
        let stored = candidate.storedPoolSettings.filter { changed.contains($0.key) }
        return await self.write(settings: stored, candidate: candidate, actor: "admin", requestID: requestID)
    }

    /// `POST /admin/settings/reset`: every pool setting back to its default, except those in
    /// `settingsKeptByReset`; keys are not settings and stay as they are.
    func adminResetSettings(requestID: String) async -> HTTPResponse {
        let defaults = Settings.default.storedPoolSettings.filter { !Self.settingsKeptByReset.contains($0.key) }
        let (candidate, _) = self.settings.applyingStored(defaults)
        return await self.write(settings: defaults, candidate: candidate, actor: "admin reset", requestID: requestID)
    }

    /// Writes validated settings to the store; in a fleet every instance (this one included)
    /// follows the store's notification, alone the change is put in force at once.
    private func write(
        settings stored: [String: String],
        candidate: Settings,
        actor: String,
        requestID: String
    ) async -> HTTPResponse {
        do {
            try await self.store.saveSettings(stored, by: actor, at: self.clock.now())
            if self.store is any FleetStore {
                try await self.reloadSettings()
            } else {
                self.apply(candidate)
            }
        } catch {
            self.logger.error("settings not written", ["error": "\(error)"])
            return APIError.storeUnavailable().response(requestID: requestID)
        }
        self.logger.notice("settings changed", ["settings": stored.keys.sorted().joined(separator: ","), "by": actor])
        let shown = self.displayedSettings()
        let body: JSONValue = [
            "changed": .array(stored.keys.sorted().map { .string($0) }),
            "settings": .object(shown),
        ]
        return Self.json(status: 200, body, requestID: requestID)
    }

    /// Refuses names the settings API does not change, saying where they are changed instead.
    static func checkChangeable(_ name: String) throws(SettingError) {
        guard let spec = SettingSpec.named(name) else {
            let hint = SettingSpec.suggestion(for: name).map { " (did you mean '\($0)'?)" } ?? ""
            throw SettingError(setting: name, source: "admin API", message: "is not a known setting\(hint)")
        }
        switch spec.scope {
        case .pool:
            return
        case .keys:
            throw SettingError(
                setting: name,
                source: "admin API",
                message: "holds keys: add them with POST /admin/keys and remove them with DELETE /admin/keys/{id}"
            )
        case .instance:
            throw SettingError(
                setting: name,
                source: "admin API",
                message: "is set per instance, in its config file or environment"
            )
        }
    }
}
