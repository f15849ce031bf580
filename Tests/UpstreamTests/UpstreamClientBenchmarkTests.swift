import Foundation
import Logging
import Testing

@testable import Upstream

/// Throughput of the client against the in-process test server; run with
/// `KEYRELAY_BENCH=1 swift test -c release --filter UpstreamClientBenchmarkTests`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["KEYRELAY_BENCH"] != nil))
struct UpstreamClientBenchmarkTests {
    @Test func smallRequestsPerSecond() async throws {
        let body = Array(#"{"candidates":[{"content":{"parts":[{"text":"hi"}]}}]}"#.utf8)
        let server = try TestHTTPServer { _, connection in
            connection.respond(status: 200, headers: [("Content-Type", "application/json")], body: body)
            return .keepAlive
        }
        let client = try UpstreamClient(logger: .silent)
        defer {
            client.shutdown()
            server.stop()
        }
        let concurrency = 32
        let perWorker = 1_000
        let request = UpstreamRequest(
            method: "POST",
            url: server.baseURL + "/v1beta/models/m:generateContent",
            headers: [("Content-Type", "application/json")],
            body: Array(#"{"contents":[{"parts":[{"text":"hello"}]}]}"#.utf8)
        )

        let started = ContinuousClock.now
        let failures = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    var failures = 0
                    for _ in 0..<perWorker {
                        let response = try await client.send(request)
                        let received = try await response.collectBody(limit: 1 << 16)
                        if response.status != 200 || received != body { failures += 1 }
                    }
                    return failures
                }
            }
            return try await group.reduce(0, +)
        }
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let total = concurrency * perWorker
        print(
            "upstream bench: \(total) requests in \(seconds) s = \(Int(Double(total) / seconds)) req/s, "
                + "connections \(server.acceptedConnections.load(ordering: .relaxed))"
        )
        #expect(failures == 0)
    }
}
