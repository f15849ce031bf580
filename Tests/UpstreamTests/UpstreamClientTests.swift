import Foundation
import Logging
import Synchronization
import Testing

@testable import Upstream

/// Deterministic bytes that make a reordered or lost chunk visible.
func pattern(_ count: Int, modulo: Int) -> [UInt8] {
    (0..<count).map { UInt8($0 % modulo) }
}

/// Waits up to ~2 s for `condition`, for effects that land on another thread just after an event.
func eventually(_ condition: () -> Bool) async -> Bool {
    for _ in 0..<400 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(5))
    }
    return condition()
}

@Suite(.timeLimit(.minutes(1)))
struct UpstreamClientTests {
    @Test func roundTripCarriesStatusHeadersAndLargeBodies() async throws {
        let requestBody = pattern(1 << 20, modulo: 251)
        let responseBody = pattern(2 << 20, modulo: 241)
        let seen = Mutex<TestHTTPServer.Request?>(nil)
        let server = try TestHTTPServer { request, connection in
            seen.withLock { $0 = request }
            connection.respond(
                status: 201,
                headers: [("X-One", "  spaced value  "), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
                body: responseBody
            )
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(
            UpstreamRequest(
                method: "POST",
                url: server.baseURL + "/v1beta/models/m:generateContent",
                headers: [("Content-Type", "application/json"), ("x-goog-api-key", "test-key")],
                body: requestBody
            )
        )
        let body = try await response.collectBody(limit: 4 << 20)

        #expect(response.status == 201)
        let names = response.headers.map(\.name)
        #expect(names == ["X-One", "Set-Cookie", "Set-Cookie", "Content-Length"])
        #expect(response.headers.first?.value == "spaced value")
        #expect(response.headers.filter { $0.name == "Set-Cookie" }.map(\.value) == ["a=1", "b=2"])
        #expect(body == responseBody)

        let request = try #require(seen.withLock { $0 })
        #expect(request.method == "POST")
        #expect(request.path == "/v1beta/models/m:generateContent")
        #expect(request.body == requestBody)
        #expect(request.header("content-type") == "application/json")
        #expect(request.header("x-goog-api-key") == "test-key")
        // No 100-continue round trip, no invented Accept or Accept-Encoding.
        #expect(request.header("expect") == nil)
        #expect(request.header("accept") == nil)
        #expect(request.header("accept-encoding") == nil)
        #expect(await eventually { client.activeTransfers == 0 })
    }

    @Test func chunkedBodyIsDeliveredAsItArrives() async throws {
        let gate = Gate()
        let gateOpenedByTest = Atomic<Bool>(false)
        let server = try TestHTTPServer { _, connection in
            connection.writeChunkedHead()
            connection.writeChunk("first")
            // The second chunk exists only after the test has received the first one.
            gateOpenedByTest.store(gate.wait(), ordering: .sequentiallyConsistent)
            connection.writeChunk("second")
            connection.endChunks()
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL + "/stream"))
        let first = try await response.nextChunk()
        gate.open()
        var rest: [UInt8] = []
        while let chunk = try await response.nextChunk() {
            rest += chunk
        }

        #expect(first.map { String(decoding: $0, as: UTF8.self) } == "first")
        #expect(String(decoding: rest, as: UTF8.self) == "second")
        let opened = gateOpenedByTest.load(ordering: .sequentiallyConsistent)
        #expect(opened)
    }

    @Test func interimResponsesAreSkipped() async throws {
        let server = try TestHTTPServer { _, connection in
            connection.write("HTTP/1.1 100 Continue\r\n\r\n")
            connection.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
            connection.respond(status: 200, headers: [("X-Final", "yes")], body: Array("ok".utf8))
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(UpstreamRequest(method: "POST", url: server.baseURL, body: [1, 2, 3]))

        #expect(response.status == 200)
        #expect(response.headers.map(\.name) == ["X-Final", "Content-Length"])
        #expect(try await response.collectBody(limit: 10) == Array("ok".utf8))
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try TestHTTPServer { request, connection in
            connection.respond(status: 200, body: Array(request.path.utf8))
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        for index in 0..<10 {
            let response = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL + "/r\(index)"))
            let body = try await response.collectBody(limit: 100)
            #expect(String(decoding: body, as: UTF8.self) == "/r\(index)")
        }

        let accepted = server.acceptedConnections.load(ordering: .relaxed)
        #expect(accepted == 1)
    }

    @Test func hundredConcurrentRequestsAllComplete() async throws {
        let server = try TestHTTPServer { request, connection in
            connection.respond(status: 200, body: Array(request.path.utf8) + pattern(10_000, modulo: 7))
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let completed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<100 {
                group.addTask {
                    let path = "/c\(index)"
                    let response = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL + path))
                    let body = try await response.collectBody(limit: 20_000)
                    return response.status == 200 && body == Array(path.utf8) + pattern(10_000, modulo: 7)
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }

        #expect(completed == 100)
        #expect(await eventually { client.activeTransfers == 0 })
    }

    @Test func collectBodyStopsAtTheLimit() async throws {
        let server = try TestHTTPServer { _, connection in
            connection.respond(status: 200, body: pattern(100_000, modulo: 13))
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL))
        await #expect(throws: UpstreamError(.tooLarge, requestWasSent: true)) {
            try await response.collectBody(limit: 1_000)
        }
        #expect(await eventually { client.activeTransfers == 0 })
    }

    @Test func headerInjectionIsRefusedBeforeSending() async throws {
        let client = try UpstreamClient(logger: .silent)
        defer { client.shutdown() }

        let request = UpstreamRequest(
            method: "GET",
            url: "http://127.0.0.1:1/",
            headers: [("X-Note", "a\r\nX-Injected: 1")]
        )
        await #expect(throws: UpstreamError(.invalidRequest, requestWasSent: false)) {
            try await client.send(request)
        }
        #expect(client.activeTransfers == 0)
    }

    @Test func unsupportedSchemeIsAnInvalidRequest() async throws {
        let client = try UpstreamClient(logger: .silent)
        defer { client.shutdown() }

        do {
            _ = try await client.send(UpstreamRequest(method: "GET", url: "file:///etc/hostname"))
            Issue.record("a file URL must not be fetched")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(!error.requestWasSent)
        }
    }
}

@Suite(.timeLimit(.minutes(1)))
struct UpstreamClientOptionTests {
    @Test func proxyReceivesTheAbsoluteURL() async throws {
        let seenPath = AsyncValue<String>()
        let proxy = try TestHTTPServer { request, connection in
            seenPath.set(request.path)
            connection.respond(status: 200, body: Array("via proxy".utf8))
            return .keepAlive
        }
        // The proxy resolves the upstream host, so this name is never looked up here.
        let client = try UpstreamClient(proxyURL: proxy.baseURL, logger: .silent)
        defer {
            client.shutdown()
            proxy.stop()
        }

        let response = try await client.send(UpstreamRequest(method: "GET", url: "http://upstream.invalid/v1/x"))

        #expect(try await response.collectBody(limit: 100) == Array("via proxy".utf8))
        #expect(seenPath.value == "http://upstream.invalid/v1/x")
    }

    @Test func cancellingTheSendingTaskCancelsTheTransfer() async throws {
        let server = try TestHTTPServer { _, connection in
            connection.waitForClose()
            return .close
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let task = Task {
            try await client.send(UpstreamRequest(method: "GET", url: server.baseURL))
        }
        await server.requestsSeen.wait(for: 1)
        task.cancel()

        switch await task.result {
        case .success: Issue.record("send returned a response after its task was cancelled")
        case .failure(let error): #expect((error as? UpstreamError)?.code == .cancelled)
        }
        #expect(await eventually { client.activeTransfers == 0 })
    }
}

/// A value set once by a server thread and read by the test afterwards.
final class AsyncValue<T: Sendable>: Sendable {
    private let storage = Mutex<T?>(nil)

    func set(_ value: T) { self.storage.withLock { $0 = value } }

    var value: T? { self.storage.withLock { $0 } }
}
