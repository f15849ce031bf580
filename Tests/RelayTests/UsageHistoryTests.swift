import Foundation
import KeyPool
import Storage
import Testing

/// Tokens and outcomes reach `usage_daily` (batched off the hot path) and the TPM counter.
@Suite struct UsageHistoryTests {
    @Test func historyCountsRequestsTokensAndErrorsPerQuotaDay() async throws {
        let keys = testKeys(2, tag: "Y")
        let harness = try await RelayHarness(keys: keys, simulatorKeys: [keys[1]])
        for index in 0..<4 {
            #expect(try await harness.generate("history \(index)").status == 200)
        }
        #expect(try await harness.generate("[[invalid-argument]]").status == 400)
        await harness.relay.flushUsageRecords()

        let rows = try await harness.store.database.perform("test") { connection throws(StoreError) in
            try connection.query("SELECT * FROM usage_daily ORDER BY key_id")
        }
        let day = QuotaCalendar.pacific.dayLabel(of: Date())
        #expect(rows.allSatisfy { $0["day"].string == day && $0["model"].string == "gemini-2.5-flash" })
        let requests = rows.map { $0["requests"].int ?? 0 }.reduce(0, +)
        let errors = rows.map { $0["errors"].int ?? 0 }.reduce(0, +)
        // 4 successes and 1 client error on the good key, and 1 refusal (API_KEY_INVALID) on the bad one.
        #expect(requests == 6)
        #expect(errors == 1)
        let tokens = rows.map { $0["input_tokens"].int ?? 0 }.reduce(0, +)
        #expect(tokens > 0)
        let tpm = try await harness.store.snapshot().map(\.tpm).reduce(0, +)
        #expect(tpm == tokens, "this minute's TPM holds the same input tokens")
        await harness.shutdown()
    }
}
