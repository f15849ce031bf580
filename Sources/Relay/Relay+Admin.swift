import Foundation
import HTTPServer
import KeyPool
import Storage

extension Relay {
    /// True when the request carries the admin token as `Authorization: Bearer`. Compared by
    /// hash, so the comparison never walks the secret itself.
    func isAdmin(_ request: HTTPRequest, settings: Settings) -> Bool {
        guard let admin = settings.access.adminToken, let authorization = request.headers["authorization"] else {
            return false
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return admin.matches(String(parts[1]).trimmingWhitespace())
    }

    func handleAdmin(_ route: AdminRoute, request: HTTPRequest, requestID: String) async -> HTTPResponse {
        switch route {
        case .listKeys:
            return self.adminKeys(requestID: requestID)

        case .state:
            return self.adminState(requestID: requestID)

        case .keyUsage(let id):
            return self.adminKeyUsage(id: id, request: request, requestID: requestID)

        case .changeSettings:
            return await self.adminChangeSettings(request: request, requestID: requestID)

        case .resetSettings:
            return await self.adminResetSettings(requestID: requestID)

        case .reactivateKey(let id):
            guard self.keysInUse.contains(where: { $0.id == id }) else {
                return APIError.notFound("no key with id \(id) is in use").response(requestID: requestID)
            }
            do {
                try await self.store.reactivate(keyID: id)
                try await self.reloadKeys()
            } catch  where error.code == .notFound {
                return APIError.notFound("no key with id \(id)").response(requestID: requestID)
            } catch {
                self.logger.error("key not reactivated", ["error": "\(error)"])
                return APIError.storeUnavailable().response(requestID: requestID)
            }
            self.logger.notice("key reactivated", ["key.id": "\(id)"])
            let key = self.keysInUse.first { $0.id == id }
            return Self.json(status: 200, ["key": key.map(Self.keyJSON) ?? .null], requestID: requestID)

        case .showSettings:
            return Self.json(status: 200, ["settings": .object(self.displayedSettings())], requestID: requestID)

        case .addKeys:
            let kind: KeyKind
            let keys: [ConfiguredKey]
            do {
                (kind, keys) = try Self.parseKeysToAdd(request.body)
            } catch {
                return error.response(requestID: requestID)
            }
            do {
                let added = try await self.store.addKeys(keys, kind: kind, restoreRemoved: true, at: self.clock.now())
                try await self.reloadKeys()
                self.logger.notice("keys added", ["count": "\(added.count)", "kind": kind.rawValue])
                return Self.json(status: 200, ["keys": .array(added.map(Self.keyJSON))], requestID: requestID)
            } catch {
                self.logger.error("keys not added", ["error": "\(error)"])
                return APIError.storeUnavailable().response(requestID: requestID)
            }

        case .removeKey(let id):
            do {
                guard try await self.store.removeKey(id: id, at: self.clock.now()) else {
                    return APIError.notFound("no key with id \(id) is in use").response(requestID: requestID)
                }
                try await self.reloadKeys()
                self.logger.notice("key removed", ["key.id": "\(id)"])
                return Self.json(status: 200, ["removed": JSONValue(Int(id))], requestID: requestID)
            } catch {
                self.logger.error("key not removed", ["error": "\(error)"])
                return APIError.storeUnavailable().response(requestID: requestID)
            }
        }
    }

    /// The settings in force, for the admin API: keys as the pool this instance selects from (not
    /// its start-up list), secrets as fingerprints or hashes.
    func displayedSettings() -> [(String, JSONValue)] {
        let inUse = self.keysInUse
        func shown(_ keys: [KeyRecord]) -> JSONValue { .array(keys.map { .string($0.fingerprint.description) }) }
        return self.settings.displayed.map { name, value -> (String, JSONValue) in
            switch name {
            case "api_keys": (name, shown(inUse.filter { $0.kind == .gemini && !$0.isPaid }))
            case "vertex_api_keys": (name, shown(inUse.filter { $0.kind == .vertex }))
            case "paid_key": (name, inUse.first(where: \.isPaid).map { .string($0.fingerprint.description) } ?? .null)
            default: (name, value)
            }
        }
    }

    /// `{"keys": ["…"], "kind": "gemini"}`; every entry is checked before anything is written.
    static func parseKeysToAdd(_ body: [UInt8]) throws(APIError) -> (KeyKind, [ConfiguredKey]) {
        guard let document = try? JSONValue.parse(body), document.objectMembers != nil else {
            throw APIError.invalidArgument("body must be a JSON object like {\"keys\": [\"…\"], \"kind\": \"gemini\"}")
        }
        let kindName = document["kind"]?.stringValue ?? KeyKind.gemini.rawValue
        guard let kind = KeyKind(rawValue: kindName) else {
            throw APIError.invalidArgument("'kind' must be 'gemini' or 'vertex'")
        }
        // A list, or one string of keys separated by commas or newlines (as in `api_keys`).
        let entries: [JSONValue]
        if let text = document["keys"]?.stringValue {
            entries = SettingSpec.listEntries(text).map { .string($0) }
        } else {
            entries = document["keys"]?.arrayValue ?? []
        }
        guard !entries.isEmpty, entries.count <= 10_000 else {
            throw APIError.invalidArgument("'keys' must be a list of 1 to 10000 keys", param: "keys")
        }
        var keys: [ConfiguredKey] = []
        for (index, entry) in entries.enumerated() {
            // Never quote the entry back: it may be a real key with a typo.
            guard let text = entry.stringValue, let key = APIKey(text) else {
                throw APIError.invalidArgument("key \(index + 1) is empty or contains whitespace or control characters")
            }
            keys.append(ConfiguredKey(secret: key))
        }
        return (kind, keys)
    }

    static func keyJSON(_ key: KeyRecord) -> JSONValue {
        [
            "id": JSONValue(Int(key.id)),
            "kind": .string(key.kind.rawValue),
            "fingerprint": .string(key.fingerprint.description),
            "label": key.label.map { .string($0) } ?? .null,
            "active": .bool(key.isActive),
            "failures": JSONValue(key.failureCount),
            "last_error": key.lastError.map { .string($0) } ?? .null,
            "deactivation_reason": key.deactivationReason.map { .string($0) } ?? .null,
            "paid": .bool(key.isPaid),
        ]
    }
}
