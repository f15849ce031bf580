import Foundation
import Testing

@testable import HTTPServer

@Suite struct ResponseBodyWriterTests {
    @Test func chunksReachTheClientBeforeTheProducerWritesTheNext() async throws {
        let firstRead = Gate()
        let ended = Gate()
        try await withServer(handler: { _ in
            HTTPResponse(
                status: 200,
                headers: ["Content-Type": "text/event-stream"],
                body: .stream { writer in
                    try? await writer.write(Array("data: one\n\n".utf8))
                    // The client must see chunk 1 while the producer is still waiting here.
                    await firstRead.wait()
                    try? await writer.write(Array("data: two\n\n".utf8))
                    ended.open()
                }
            )
        }) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("POST", "/stream", body: Array("{}".utf8))
            let head = try await client.readHead()
            #expect(head.status == 200)
            #expect(head.isChunked)
            #expect(head.header("Content-Type") == "text/event-stream")

            #expect(try await client.readChunk() == Array("data: one\n\n".utf8))
            #expect(!ended.isOpen)
            firstRead.open()
            #expect(try await client.readChunk() == Array("data: two\n\n".utf8))
            #expect(try await client.readChunk() == nil)

            // The connection stays usable after a streamed body.
            try await client.sendRequest("GET", "/again")
            #expect(try await client.readResponse().status == 200)
        }
    }

    @Test func streamPausingLongerThanTheIdleTimeoutContinues() async throws {
        // A stream waiting for its next chunk is suspended, not idle (waits 2.5 s on purpose).
        try await withServer(
            .init(connectionTimeout: .seconds(1)),
            handler: { _ in
                HTTPResponse(
                    status: 200,
                    body: .stream { writer in
                        try? await writer.write(Array("a".utf8))
                        try? await Task.sleep(for: .milliseconds(2_500))
                        try? await writer.write(Array("b".utf8))
                    }
                )
            }
        ) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("GET", "/pause")
            #expect(try await client.readResponse().text == "ab")
        }
    }

    @Test func concurrentStreamsDeliverEveryChunkInOrder() async throws {
        // Many small writes racing the content reader exercise every suspend/resume pairing.
        let streams = 40
        let chunks = 300
        try await withServer(handler: { request in
            HTTPResponse(
                status: 200,
                body: .stream { writer in
                    for index in 0..<chunks {
                        try? await writer.write(Array("\(request.path):\(index);".utf8))
                        if index % 7 == 0 { await Task.yield() }
                    }
                }
            )
        }) { server in
            var clients: [RawHTTPClient] = []
            for index in 0..<streams {
                let client = try RawHTTPClient(port: server.port)
                try await client.sendRequest("GET", "/s\(index)")
                clients.append(client)
            }
            for (index, client) in clients.enumerated() {
                let expected = (0..<chunks).map { "/s\(index):\($0);" }.joined()
                #expect(try await client.readResponse().text == expected)
            }
        }
    }

    @Test func producerWaitsWhileTheClientDoesNotRead() async throws {
        let total = 50 << 20
        let written = Box(0)
        let finished = Gate()
        try await withServer(handler: { _ in
            HTTPResponse(
                status: 200,
                body: .stream { writer in
                    let chunk = [UInt8](repeating: 0x61, count: 64 << 10)
                    while written.get() < total {
                        do { try await writer.write(chunk) } catch { return }
                        written.update { $0 += chunk.count }
                    }
                    finished.open()
                }
            )
        }) { server in
            let client = try RawHTTPClient(port: server.port, receiveBufferSize: 16 << 10)
            try await client.sendRequest("GET", "/big")
            _ = try await client.readHead()

            // Unbounded buffering would take the whole 50 MB in well under a second.
            try await Task.sleep(for: .seconds(1))
            let bufferedWhileStalled = written.get()
            #expect(bufferedWhileStalled < 16 << 20)
            #expect(!finished.isOpen)

            var received = 0
            while let chunk = try await client.readChunk() { received += chunk.count }
            #expect(received == total)
            #expect(await finished.wait(timeout: .seconds(5)))
        }
    }

    @Test func clientDisconnectMidStreamFiresOnClientGoneAndFailsWrite() async throws {
        let gone = Gate()
        let goneCount = Box(0)
        let writeError = Box<ClientGoneError?>(nil)
        let producerDone = Gate()
        try await withServer(handler: { _ in
            HTTPResponse(
                status: 200,
                body: .stream { writer in
                    writer.onClientGone {
                        goneCount.update { $0 += 1 }
                        gone.open()
                    }
                    try? await writer.write(Array("first".utf8))
                    // An upstream that has gone quiet: nothing is written until the client leaves.
                    await gone.wait()
                    do {
                        try await writer.write(Array("late".utf8))
                    } catch let error as ClientGoneError {
                        writeError.set(error)
                    } catch {
                        Issue.record("unexpected error \(error)")
                    }
                    #expect(writer.isClientGone)
                    producerDone.open()
                }
            )
        }) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("GET", "/stream")
            _ = try await client.readHead()
            #expect(try await client.readChunk() == Array("first".utf8))
            await client.disconnect()

            #expect(await gone.wait(timeout: .seconds(2)))
            #expect(await producerDone.wait(timeout: .seconds(2)))
            #expect(writeError.get() != nil)
            #expect(goneCount.get() == 1)
            try await HTTPServerTests.waitUntil { server.inFlightRequestCount == 0 }
        }
    }

    @Test func onClientGoneDoesNotFireAfterANormalEnd() async throws {
        let goneCount = Box(0)
        let writerBox = Box<ResponseBodyWriter?>(nil)
        try await withServer(handler: { _ in
            HTTPResponse(
                status: 200,
                body: .stream { writer in
                    writerBox.set(writer)
                    writer.onClientGone { goneCount.update { $0 += 1 } }
                    try? await writer.write(Array("all".utf8))
                }
            )
        }) { server in
            let client = try RawHTTPClient(port: server.port)
            try await client.sendRequest("GET", "/s")
            #expect(try await client.readResponse().text == "all")
            await client.disconnect()
            try await HTTPServerTests.waitUntil { server.inFlightRequestCount == 0 }
            #expect(goneCount.get() == 0)
            #expect(writerBox.get()?.isClientGone == false)
        }
    }

    @Test func shutdownClosesStreamsThatOutliveTheDrain() async throws {
        let gone = Gate()
        let server = HTTPServer(
            configuration: .init(),
            handler: ClosureHandler { _ in
                HTTPResponse(
                    status: 200,
                    body: .stream { writer in
                        writer.onClientGone { gone.open() }
                        try? await writer.write(Array("start".utf8))
                        await gone.wait()
                    }
                )
            },
            logger: .silent
        )
        try server.start()
        let client = try RawHTTPClient(port: server.port)
        try await client.sendRequest("GET", "/forever")
        _ = try await client.readHead()
        #expect(try await client.readChunk() == Array("start".utf8))

        await server.shutdown(drainTimeout: .milliseconds(300))
        #expect(gone.isOpen)
        // The stream was cut, not ended: no terminating chunk arrives.
        await #expect(throws: RawHTTPClientError.self) { _ = try await client.readChunk() }
    }
}
