import Foundation
import Glibc
import Logging
import Testing

@testable import Upstream

@Suite(.timeLimit(.minutes(1)))
struct UpstreamClientFailureTests {
    /// Runs `operation` and returns its error, recording an issue if it succeeded.
    private func failure<T>(
        _ operation: () async throws -> T,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async -> UpstreamError? {
        do {
            _ = try await operation()
            Issue.record("expected an UpstreamError", sourceLocation: sourceLocation)
            return nil
        } catch let error as UpstreamError {
            return error
        } catch {
            Issue.record("unexpected error type: \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func refusedConnectionFailsBeforeSending() async throws {
        // A bound socket that never listens: connects to its port are refused, and no one else
        // can take the port while the test runs.
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(socketFD) }
        var port: UInt16 = 0
        #expect(TestHTTPServer.bindLoopback(socketFD, port: &port))
        let client = try UpstreamClient(logger: .silent)
        defer { client.shutdown() }

        let error = await self.failure {
            try await client.send(UpstreamRequest(method: "POST", url: "http://127.0.0.1:\(port)/", body: [1]))
        }

        #expect(error?.code == .connectFailed)
        #expect(error?.requestWasSent == false)
        #expect(client.activeTransfers == 0)
    }

    @Test func fullBacklogHitsConnectTimeout() async throws {
        // A listener that never accepts, with its one-slot backlog taken: the kernel drops
        // further SYNs, so a connect hangs until the client gives up.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var port: UInt16 = 0
        #expect(TestHTTPServer.bindLoopback(listener, port: &port))
        #expect(listen(listener, 0) == 0)
        var fillers: [Int32] = []
        defer { fillers.forEach { close($0) } }
        for _ in 0..<3 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var address = TestHTTPServer.loopbackAddress(port: port)
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            fillers.append(filler)
        }
        let client = try UpstreamClient(logger: .silent)
        defer { client.shutdown() }

        let error = await self.failure {
            try await client.send(
                UpstreamRequest(method: "GET", url: "http://127.0.0.1:\(port)/", connectTimeout: .milliseconds(300))
            )
        }

        #expect(error?.code == .connectTimeout)
        #expect(error?.requestWasSent == false)
    }

    @Test func silentServerHitsFirstByteTimeout() async throws {
        let server = try TestHTTPServer { _, connection in
            connection.waitForClose()
            return .close
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let started = ContinuousClock.now
        let error = await self.failure {
            try await client.send(
                UpstreamRequest(method: "GET", url: server.baseURL, firstByteTimeout: .milliseconds(300))
            )
        }

        #expect(error?.code == .firstByteTimeout)
        #expect(error?.requestWasSent == true)
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        #expect(client.activeTransfers == 0)
    }

    @Test func stalledBodyHitsIdleTimeout() async throws {
        let server = try TestHTTPServer { _, connection in
            connection.writeChunkedHead()
            connection.writeChunk("partial")
            connection.waitForClose()
            return .close
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(
            UpstreamRequest(method: "GET", url: server.baseURL, idleTimeout: .milliseconds(300))
        )
        let first = try await response.nextChunk()
        let error = await self.failure { try await response.nextChunk() }

        #expect(first == Array("partial".utf8))
        #expect(error?.code == .idleTimeout)
        #expect(error?.requestWasSent == true)
    }

    @Test func closeMidBodyIsATransportErrorAfterSending() async throws {
        let server = try TestHTTPServer { _, connection in
            connection.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
            connection.write(pattern(100, modulo: 10))
            return .close
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL))
        let error = await self.failure { try await response.collectBody(limit: 10_000) }

        #expect(error?.code == .transport)
        #expect(error?.requestWasSent == true)
    }

    @Test func closeBeforeTheHeadIsATransportErrorAfterSending() async throws {
        let server = try TestHTTPServer { _, _ in .close }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let error = await self.failure { try await client.send(UpstreamRequest(method: "GET", url: server.baseURL)) }

        #expect(error?.code == .transport)
        #expect(error?.requestWasSent == true)
    }

    @Test func cancelMidStreamClosesTheConnectionAndFreesTheTransfer() async throws {
        let closedByClient = AsyncCounter()
        let server = try TestHTTPServer { _, connection in
            connection.writeChunkedHead()
            connection.writeChunk("one")
            connection.waitForClose()
            closedByClient.increment()
            return .close
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL))
        #expect(try await response.nextChunk() == Array("one".utf8))
        response.cancel()
        let error = await self.failure { try await response.nextChunk() }
        await closedByClient.wait(for: 1)

        #expect(error?.code == .cancelled)
        #expect(await eventually { client.activeTransfers == 0 })
    }

    @Test func droppingAnUnreadResponseCancelsIt() async throws {
        let closedByClient = AsyncCounter()
        let server = try TestHTTPServer { _, connection in
            connection.writeChunkedHead()
            connection.writeChunk("unread")
            connection.waitForClose()
            closedByClient.increment()
            return .close
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        var response: UpstreamResponse? = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL))
        #expect(response?.status == 200)
        response = nil
        await closedByClient.wait(for: 1)

        #expect(await eventually { client.activeTransfers == 0 })
    }

    @Test func slowReaderPausesTheTransferWithoutLosingBytes() async throws {
        let total = 8 << 20
        let body = pattern(total, modulo: 239)
        let server = try TestHTTPServer { _, connection in
            connection.respond(status: 200, body: body)
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }

        let response = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL))
        #expect(await eventually { response.isPausedForBackpressure })
        #expect(response.bufferedByteCount <= CurlTransfer.pauseThreshold + 256 << 10)
        let received = try await response.collectBody(limit: total)

        #expect(received.count == total)
        #expect(received == body)
    }

    @Test func shutdownFailsPendingTransfers() async throws {
        let server = try TestHTTPServer { request, connection in
            if request.path == "/stream" {
                connection.writeChunkedHead()
                connection.writeChunk("head")
            }
            connection.waitForClose()
            return .close
        }
        let client = try UpstreamClient(logger: .silent)
        defer { server.stop() }

        let stream = try await client.send(UpstreamRequest(method: "GET", url: server.baseURL + "/stream"))
        #expect(try await stream.nextChunk() == Array("head".utf8))
        let pending = (0..<3).map { index in
            Task {
                try await client.send(UpstreamRequest(method: "GET", url: server.baseURL + "/hang\(index)"))
            }
        }
        await server.requestsSeen.wait(for: 4)
        client.shutdown()

        for task in pending {
            switch await task.result {
            case .success: Issue.record("a pending send succeeded after shutdown")
            case .failure(let error): #expect((error as? UpstreamError)?.code == .clientShutDown)
            }
        }
        let streamError = await self.failure { try await stream.nextChunk() }
        #expect(streamError?.code == .clientShutDown)
        #expect(client.activeTransfers == 0)
        let late = await self.failure { try await client.send(UpstreamRequest(method: "GET", url: server.baseURL)) }
        #expect(late == UpstreamError(.clientShutDown, requestWasSent: false))
    }
}
