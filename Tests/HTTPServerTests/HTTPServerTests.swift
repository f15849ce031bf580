import Foundation
import Testing

@testable import HTTPServer

@Suite struct HTTPServerTests {
    @Test func getReachesHandlerWithRawPathDecodedQueryAndHeadersInOrder() async throws {
        let seen = Box<HTTPRequest?>(nil)
        try await withServer(handler: { request in
            seen.set(request)
            return HTTPResponse(
                status: 201,
                headers: ["X-Answer": "42", "Content-Type": "text/plain"],
                body: .bytes(Array("hi".utf8))
            )
        }) { server in
            let client = try RawHTTPClient(port: server.port)
            let target = "/v1beta/models/gemini%2Dpro:generateContent?alt=sse&q=a%20b+c&empty&key=%E2%9C%93"
            try await client.sendRequest("GET", target, headers: [("X-First", "1"), ("x-second", "two words")])
            let response = try await client.readResponse()

            #expect(response.status == 201)
            #expect(response.text == "hi")
            #expect(response.head.header("X-Answer") == "42")
            #expect(response.head.header("Content-Length") == "2")
            #expect(response.head.header("Connection") == nil)

            let request = try #require(seen.get())
            #expect(request.method == "GET")
            #expect(request.path == "/v1beta/models/gemini%2Dpro:generateContent")
            #expect(request.query.map(\.name) == ["alt", "q", "empty", "key"])
            #expect(request.query.map(\.value) == ["sse", "a b c", "", "✓"])
            #expect(request.headers.fields.map(\.name) == ["Host", "X-First", "x-second"])
            #expect(request.headers["X-SECOND"] == "two words")
            #expect(request.body.isEmpty && !request.bodyTooLarge)
        }
    }

    @Test func postBodyOfOneMegabyteArrivesWhole() async throws {
        let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try await withServer(handler: { request in
            HTTPResponse(status: 200, headers: ["X-Method": request.method], body: .bytes(request.body))
        }) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest(
                "POST",
                "/echo",
                headers: [("Content-Type", "application/octet-stream")],
                body: body
            )
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.head.header("X-Method") == "POST")
            #expect(response.body == body)
        }
    }

    @Test func keepAliveAnswersTwoRequestsOnOneConnection() async throws {
        let count = Box(0)
        try await withServer(handler: { request in
            let number = count.update { value -> Int in
                value += 1
                return value
            }
            return .text("\(request.path) #\(number)")
        }) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("GET", "/one")
            #expect(try await client.readResponse().text == "/one #1")
            try await client.sendRequest("POST", "/two", body: Array("x".utf8))
            #expect(try await client.readResponse().text == "/two #2")
        }
    }

    @Test func bodyOverTheLimitIsFlaggedAndNotBuffered() async throws {
        let seen = Box<HTTPRequest?>(nil)
        try await withServer(
            .init(maxBodyBytes: 1_000),
            handler: { request in
                seen.set(request)
                return .text("too large", status: request.bodyTooLarge ? 413 : 200)
            }
        ) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("POST", "/big", body: [UInt8](repeating: 7, count: 5_000))
            #expect(try await client.readResponse().status == 413)
            let request = try #require(seen.get())
            #expect(request.bodyTooLarge)
            #expect(request.body.isEmpty)

            // The whole body was consumed, so the connection still serves the next request.
            try await client.sendRequest("POST", "/small", body: [UInt8](repeating: 7, count: 1_000))
            #expect(try await client.readResponse().status == 200)
            #expect(seen.get()?.body.count == 1_000)
        }
    }

    @Test func twoHundredConcurrentRequestsAreAllAnswered() async throws {
        let total = 200
        let arrived = Box(0)
        let allArrived = Gate()
        try await withServer(handler: { request in
            // Every handler waits until all 200 are in flight at once, then answers.
            if arrived.update({ value -> Int in
                value += 1
                return value
            }) == total {
                allArrived.open()
            }
            await allArrived.wait()
            return .text(request.path)
        }) { server in
            var clients: [RawHTTPClient] = []
            for index in 0..<total {
                let client = try RawHTTPClient(port: server.port)
                try await client.sendRequest("GET", "/r\(index)")
                clients.append(client)
            }
            #expect(await allArrived.wait(timeout: .seconds(20)))
            for (index, client) in clients.enumerated() {
                let response = try await client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == "/r\(index)")
            }
            #expect(arrived.get() == total)
        }
    }

    @Test func clientThatDisconnectsMidUploadLeavesNothingBehind() async throws {
        try await withServer(handler: { request in .text("ok \(request.body.count)") }) { server in
            let quitter = try RawHTTPClient(port: server.port)
            try await quitter.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
            try await quitter.send([UInt8](repeating: 1, count: 50_000))
            await quitter.disconnect()

            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("POST", "/after", body: [1, 2, 3])
            #expect(try await client.readResponse().text == "ok 3")
            try await Self.waitUntil { server.inFlightRequestCount == 0 }
            #expect(server.inFlightTargets == [])
        }
    }

    @Test func clientThatDisconnectsWhileTheHandlerRunsLeavesNothingBehind() async throws {
        let started = Gate()
        let release = Gate()
        try await withServer(handler: { request in
            if request.path == "/wait" {
                started.open()
                await release.wait()
            }
            return .text(request.path)
        }) { server in
            let quitter = try RawHTTPClient(port: server.port)
            try await quitter.sendRequest("GET", "/wait")
            await started.wait()
            await quitter.disconnect()
            release.open()

            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("GET", "/next")
            #expect(try await client.readResponse().text == "/next")
            try await Self.waitUntil { server.inFlightRequestCount == 0 }
        }
    }

    @Test func shutdownDrainsASlowRequestThenClosesThePort() async throws {
        let started = Gate()
        let release = Gate()
        let server = HTTPServer(
            configuration: .init(),
            handler: ClosureHandler { _ in
                started.open()
                await release.wait()
                return .text("finished")
            },
            logger: .silent
        )
        try server.start()
        let port = server.port
        let client = try RawHTTPClient(port: port)
        try await client.sendRequest("GET", "/slow")
        await started.wait()

        let shutdown = Task { await server.shutdown(drainTimeout: .seconds(10)) }
        // The listening socket closes as soon as the drain begins.
        try await Self.waitUntil { !RawHTTPClient.isListening(port: port) }
        release.open()

        let response = try await client.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "finished")
        #expect(response.head.header("Connection")?.lowercased() == "close")
        await shutdown.value
        #expect(!RawHTTPClient.isListening(port: port))
        #expect(server.inFlightRequestCount == 0)
    }

    @Test func handlerSlowerThanTheIdleTimeoutStillAnswers() async throws {
        // A connection waiting for its handler is suspended, not idle: the 1 s timeout must
        // not cut it (this test waits 2.5 s on purpose).
        try await withServer(
            .init(connectionTimeout: .seconds(1)),
            handler: { _ in
                try? await Task.sleep(for: .milliseconds(2_500))
                return .text("slow")
            }
        ) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("GET", "/slow")
            #expect(try await client.readResponse().text == "slow")
        }
    }

    @Test func serverListensOnLoopbackOnly() async throws {
        try await withServer(handler: { _ in .text("") }) { server in
            let listening = try Self.listeningTCPAddresses(port: server.port)
            #expect(listening == ["0100007F"])  // 127.0.0.1, as /proc/net/tcp writes it
            #expect(RawHTTPClient.isListening(port: server.port))
        }
    }

    @Test func hostThatIsNotAnAddressIsRefused() {
        let server = HTTPServer(
            configuration: .init(host: "example.invalid"),
            handler: ClosureHandler { _ in .text("") },
            logger: .silent
        )
        #expect(throws: HTTPServerError.self) { try server.start() }
    }

    /// Local addresses of listening sockets on `port`, from `/proc/net/tcp` and `tcp6`.
    static func listeningTCPAddresses(port: UInt16) throws -> [String] {
        let portHex = String(format: "%04X", port)
        var addresses: [String] = []
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            // Read to the end: a /proc file reports size 0, and a single read returns only the
            // first page, which misses the socket when many are open (tests run in parallel).
            guard let handle = FileHandle(forReadingAtPath: file), let data = try? handle.readToEnd() else { continue }
            let table = String(decoding: data, as: UTF8.self)
            for line in table.split(separator: "\n").dropFirst() {
                let columns = line.split(separator: " ")
                guard columns.count > 3, columns[3] == "0A" else { continue }  // 0A: LISTEN
                let local = columns[1].split(separator: ":")
                if local.count == 2, local[1] == portHex { addresses.append(String(local[0])) }
            }
        }
        return addresses
    }

    /// Polls `condition` every 10 ms for up to 5 s.
    static func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now.advanced(by: .seconds(5))
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("condition not met within 5 s")
                return
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}
