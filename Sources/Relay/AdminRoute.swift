/// The admin API (DESIGN.md §7), guarded by `admin_token`. Keys are addressed by id.
enum AdminRoute: Sendable, Equatable {
    /// `GET /admin/keys`: keys grouped valid / exhausted / inactive.
    case listKeys
    /// `POST /admin/keys`.
    case addKeys
    /// `DELETE /admin/keys/{id}`.
    case removeKey(id: Int64)
    /// `POST /admin/keys/{id}/reactivate`.
    case reactivateKey(id: Int64)
    /// `GET /admin/keys/{id}/usage?model=`.
    case keyUsage(id: Int64)
    /// `GET /admin/state`: per model, every key's counters, limits and time to reset.
    case state
    /// `GET /admin/settings`.
    case showSettings
    /// `PUT /admin/settings`.
    case changeSettings
    /// `POST /admin/settings/reset`.
    case resetSettings

    static func route(method: String, path: String) -> Route {
        let segments = path.split(separator: "/").map(String.init)
        guard segments.first == "admin" else { return .notFound }
        func only(_ allowed: String, _ route: AdminRoute) -> Route {
            method == allowed ? .admin(route) : .methodNotAllowed(allowed: allowed)
        }

        switch Array(segments.dropFirst()) {
        case ["keys"]:
            switch method {
            case "GET": return .admin(.listKeys)
            case "POST": return .admin(.addKeys)
            default: return .methodNotAllowed(allowed: "GET, POST")
            }
        case ["state"]:
            return only("GET", .state)
        case ["settings"]:
            switch method {
            case "GET": return .admin(.showSettings)
            case "PUT": return .admin(.changeSettings)
            default: return .methodNotAllowed(allowed: "GET, PUT")
            }
        case ["settings", "reset"]:
            return only("POST", .resetSettings)
        case let rest where (2...3).contains(rest.count) && rest[0] == "keys":
            guard let id = Int64(rest[1]), id > 0 else { return .notFound }
            switch rest.count == 3 ? rest[2] : nil {
            case nil: return only("DELETE", .removeKey(id: id))
            case "reactivate": return only("POST", .reactivateKey(id: id))
            case "usage": return only("GET", .keyUsage(id: id))
            default: return .notFound
            }
        default:
            return .notFound
        }
    }
}
