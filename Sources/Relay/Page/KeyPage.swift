import Foundation
import HTTPServer

/// The key-status page (`GET /keys`, DESIGN.md §7): a static shell and its script and style,
/// shipped as resources of the Relay target. It holds no data and no secret; its script asks for
/// the admin token and calls the admin API with `Authorization: Bearer`.
enum KeyPage {
    /// One of the page's three files, by the path it is served at.
    enum Asset: String, Sendable, Equatable, CaseIterable {
        case html = "/keys"
        case script = "/keys.js"
        case style = "/keys.css"

        var contentType: String {
            switch self {
            case .html: "text/html; charset=utf-8"
            case .script: "text/javascript; charset=utf-8"
            case .style: "text/css; charset=utf-8"
            }
        }

        /// The resource file's name and extension in the bundle.
        fileprivate var resource: (name: String, ext: String) {
            switch self {
            case .html: ("keys", "html")
            case .script: ("keys", "js")
            case .style: ("keys", "css")
            }
        }
    }

    /// Only the relay's own script and style run; data goes only to the relay; no framing, no
    /// forms posting elsewhere, no plugins.
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The three files, read once from the bundle.
    private static let files: [Asset: [UInt8]] = Dictionary(
        uniqueKeysWithValues: Asset.allCases.map { asset in
            let (name, ext) = asset.resource
            guard let url = Bundle.module.url(forResource: name, withExtension: ext),
                let data = try? Data(contentsOf: url)
            else {
                preconditionFailure("bundled page file \(name).\(ext) is missing")
            }
            return (asset, Array(data))
        }
    )

    /// The response for `asset`: the file with headers that keep it out of caches, unsniffed,
    /// unframed, and its URL out of `Referer`.
    static func response(for asset: Asset, requestID: String) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: [
                "Content-Type": asset.contentType,
                "Cache-Control": "no-store",
                "Content-Security-Policy": Self.contentSecurityPolicy,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "X-Frame-Options": "DENY",
                "x-request-id": requestID,
            ],
            body: .bytes(Self.files[asset] ?? [])
        )
    }
}
