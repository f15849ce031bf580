import Foundation
import Testing

/// The key-status page (`GET /keys`, DESIGN.md §7): open, static, locked down by its headers, and
/// free of any secret; its data comes only from the admin API, which still wants the token.
@Suite struct KeyPageTests {
    /// The headers every page file carries.
    static func expectLockedDown(_ reply: RelayHarness.Reply, _ path: String) {
        #expect(reply.header("Cache-Control") == "no-store", "\(path)")
        #expect(reply.header("X-Content-Type-Options") == "nosniff", "\(path)")
        #expect(reply.header("Referrer-Policy") == "no-referrer", "\(path)")
        let policy = reply.header("Content-Security-Policy") ?? ""
        for directive in [
            "default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
            "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
        ] {
            #expect(policy.contains(directive), "\(path): CSP lacks \(directive)")
        }
        #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"), "\(path)")
    }

    @Test func thePageIsServedWithoutATokenWithStrictHeadersAndNoSecret() async throws {
        let keys = testKeys(2, tag: "KP")
        let harness = try await RelayHarness(keys: keys)
        _ = try await harness.generate("so the pool has state")

        let page = try await harness.send("GET", "/keys", token: nil)
        #expect(page.status == 200)
        #expect(page.header("Content-Type") == "text/html; charset=utf-8")
        Self.expectLockedDown(page, "/keys")
        #expect(page.text.contains(#"<input id="token" name="token" type="password""#))
        #expect(page.text.contains(#"<script src="/keys.js" defer></script>"#))
        #expect(page.text.contains(#"<link rel="stylesheet" href="/keys.css">"#))
        // Nothing inline the CSP would have to allow, and nothing fetched from elsewhere.
        #expect(!page.text.contains("<script>") && !page.text.contains("style="))
        #expect(!page.text.contains("http://") && !page.text.contains("https://"))

        let script = try await harness.send("GET", "/keys.js", token: nil)
        #expect(script.status == 200)
        #expect(script.header("Content-Type") == "text/javascript; charset=utf-8")
        Self.expectLockedDown(script, "/keys.js")
        let style = try await harness.send("GET", "/keys.css", token: nil)
        #expect(style.status == 200)
        #expect(style.header("Content-Type") == "text/css; charset=utf-8")
        Self.expectLockedDown(style, "/keys.css")

        let secrets = keys + [RelayHarness.token, RelayHarness.adminToken]
        for reply in [page, script, style] {
            for secret in secrets { #expect(!reply.text.contains(secret)) }
        }
        await harness.shutdown()
    }

    @Test func theScriptSendsTheTokenOnlyAsABearerHeaderAndWritesDataAsText() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "KS"))
        let script = try await harness.send("GET", "/keys.js", token: nil).text
        #expect(script.contains(#""Authorization": "Bearer " + token"#))
        #expect(script.contains("sessionStorage"))
        #expect(!script.contains("localStorage"))
        // Markup sinks, logging and evaluation would each undo what the page promises.
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "console.", "eval("] {
            #expect(!script.contains(sink), "keys.js uses \(sink)")
        }
        // The token is read from storage and put in a header, never in a path or a query.
        #expect(!script.contains("?token") && !script.contains("&token") && !script.contains("?key="))
        await harness.shutdown()
    }

    @Test func thePageAnswersOnlyGetAndHeadAndLeavesTheAdminAPIGuarded() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "KM"))
        let head = try await harness.send("HEAD", "/keys", token: nil)
        #expect(head.status == 200)
        #expect(head.header("Content-Security-Policy") != nil)

        let posted = try await harness.send("POST", "/keys", body: "{}", token: nil)
        #expect(posted.status == 405)
        #expect(posted.header("Allow") == "GET")
        #expect(try await harness.send("GET", "/keys/1", token: nil).status == 404)
        #expect(try await harness.send("GET", "/keys.html", token: nil).status == 404)

        // Serving the page opens nothing: the data behind it still wants the admin token.
        #expect(try await harness.admin("GET", "/admin/keys", token: nil).status == 401)
        #expect(try await harness.admin("GET", "/admin/state").status == 200)
        await harness.shutdown()
    }
}
