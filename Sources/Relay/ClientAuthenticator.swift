import HTTPServer
import KeyPool

/// Recognises client tokens. Tokens are kept only as SHA-256 hashes, and the presented token is
/// hashed before lookup, so comparing never touches the secret byte by byte.
struct ClientAuthenticator: Sendable {
    private let labelsByHash: [String: String]

    init(clients: [ClientToken]) {
        var labels: [String: String] = [:]
        for client in clients { labels[client.tokenHash] = client.label }
        self.labelsByHash = labels
    }

    /// The client's label when the request carries a known token in `Authorization: Bearer`,
    /// `x-goog-api-key` or the `key` query parameter; nil otherwise.
    func authenticate(_ request: HTTPRequest) -> String? {
        for candidate in Self.presentedTokens(request) {
            if let label = self.labelsByHash[SHA256.hex(of: candidate)] { return label }
        }
        return nil
    }

    static func presentedTokens(_ request: HTTPRequest) -> [String] {
        var tokens: [String] = []
        if let authorization = request.headers["authorization"] {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                tokens.append(String(parts[1]).trimmingWhitespace())
            }
        }
        if let header = request.headers["x-goog-api-key"] { tokens.append(header.trimmingWhitespace()) }
        if let query = request.queryValue("key") { tokens.append(query.trimmingWhitespace()) }
        return tokens.filter { !$0.isEmpty && $0.utf8.count <= 4096 }
    }
}
