import Foundation
import KeyPool
import Testing

/// The paid key serves `paid_models` first, and what the free pool cannot when `paid_fallback` is on.
@Suite struct PaidKeyTests {
    static let free = testKeys(1, tag: "FREE")[0]
    static let paid = testKeys(1, tag: "PAID")[0]

    @Test func paidModelsGoToThePaidKeyAndOthersToTheFreePool() async throws {
        let harness = try await RelayHarness(
            keys: [Self.free],
            simulatorKeys: [Self.free, Self.paid],
            environment: ["KEYRELAY_PAID_KEY": Self.paid, "KEYRELAY_PAID_MODELS": "gemini-2.5-pro"]
        )
        for _ in 0..<3 { #expect(try await harness.generate("pro", model: "gemini-2.5-pro").status == 200) }
        for _ in 0..<2 { #expect(try await harness.generate("flash").status == 200) }
        #expect(try await harness.admitted(model: "gemini-2.5-pro") == [0, 3])
        #expect(try await harness.admitted(model: "gemini-2.5-flash") == [2, 0])
        await harness.shutdown()
    }

    @Test func withFallbackThePaidKeyServesWhatTheFreePoolCannot() async throws {
        let table = #"{"Free Tier": {"gemini-2.5-flash": {"rpm": 2}}, "Tier 1": {"gemini-2.5-flash": {"rpm": 100}}}"#
        let harness = try await RelayHarness(
            keys: [Self.free],
            simulatorKeys: [Self.free, Self.paid],
            environment: [
                "KEYRELAY_PAID_KEY": Self.paid, "KEYRELAY_PAID_FALLBACK": "true",
                "KEYRELAY_RATE_LIMITS": table, "KEYRELAY_EXHAUSTED_POLICY": "reject",
            ]
        )
        _ = try await RelayHarness.startOfUsableMinute()
        for _ in 0..<5 { #expect(try await harness.generate("flash").status == 200) }
        // The free key takes its 2; the paid key (Tier 1 limits) takes the rest.
        #expect(try await harness.admitted() == [2, 3])
        await harness.shutdown()
    }
}
