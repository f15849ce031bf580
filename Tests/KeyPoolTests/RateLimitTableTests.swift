import KeyPool
import Testing

@Suite struct RateLimitTableTests {
    @Test func bundledTableHasBothTiersInOrder() {
        let table = RateLimitTable.bundled()
        #expect(table.tiers.map(\.name) == ["Free Tier", "Tier 1"])
    }

    @Test(
        "bundled table carries the Appendix A numbers",
        arguments: [
            ("Free Tier", "gemini-2.5-pro", Limits(rpm: 2, tpm: 125_000, rpd: 50)),
            ("Free Tier", "gemini-2.5-flash", Limits(rpm: 10, tpm: 250_000, rpd: 250)),
            ("Free Tier", "gemini-2.5-flash-lite", Limits(rpm: 15, tpm: 250_000, rpd: 1_000)),
            ("Free Tier", "gemini-2.0-flash", Limits(rpm: 15, tpm: 1_000_000, rpd: 200)),
            ("Free Tier", "gemini-2.0-flash-lite", Limits(rpm: 30, tpm: 1_000_000, rpd: 200)),
            ("Free Tier", "gemma-3", Limits(rpm: 30, tpm: 15_000, rpd: 14_400)),
            ("Free Tier", "gemini-embedding", Limits(rpm: 100, tpm: 30_000, rpd: 1_000)),
            ("Tier 1", "gemini-2.5-pro", Limits(rpm: 150, tpm: 2_000_000, rpd: 10_000)),
            ("Tier 1", "gemini-2.5-flash", Limits(rpm: 1_000, tpm: 1_000_000, rpd: 10_000)),
            ("Tier 1", "gemini-2.5-flash-image", Limits(rpm: 500, tpm: 500_000, rpd: 2_000)),
            ("Tier 1", "gemini-2.5-computer-use-preview", Limits(rpm: 150, tpm: 2_000_000, rpd: 10_000)),
        ]
    )
    func bundledNumbers(tier: String, model: String, limits: Limits) {
        let (models, usedFallback) = RateLimitTable.bundled().models(forTier: tier)
        #expect(!usedFallback)
        #expect(models[model] == limits)
    }

    @Test func tiersListOnlyTheirModels() {
        let table = RateLimitTable.bundled()
        #expect(table.models(forTier: "Free Tier").models["gemini-2.5-flash-image"] == nil)
        #expect(table.models(forTier: "Tier 1").models["gemini-2.0-flash"] == nil)
    }

    @Test func missingTierFallsBackToTheFirstInSourceOrder() throws {
        let table = try RateLimitTable(json: #"{"Zed": {"m": {"rpm": 1}}, "Alpha": {"m": {"rpm": 2}}}"#)
        #expect(table.tiers.map(\.name) == ["Zed", "Alpha"])
        let missing = table.models(forTier: "Tier 9")
        #expect(missing.usedFallback)
        #expect(missing.models["m"] == Limits(rpm: 1))
        let present = table.models(forTier: "Alpha")
        #expect(!present.usedFallback)
        #expect(present.models["m"] == Limits(rpm: 2))
    }

    @Test(
        "longest configured prefix is the quota model",
        arguments: [
            ("gemini-2.5-flash-lite-preview-09-2025", "gemini-2.5-flash-lite"),
            ("gemini-2.5-flash-001", "gemini-2.5-flash"),
            ("models/gemini-2.5-flash", "gemini-2.5-flash"),
            ("gemini-2.5-flash-preview-tts", "gemini-2.5-flash-preview-tts"),
            ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash-preview"),
            ("gemma-3n-e4b-it", "gemma-3"),
            ("gemini-embedding-001", "gemini-embedding"),
        ]
    )
    func longestPrefix(name: String, quotaModel: String) throws {
        let limits = ModelLimits(models: RateLimitTable.bundled().models(forTier: "Free Tier").models)
        let resolved = limits.resolve(try #require(ModelName(name)))
        #expect(resolved.quotaModel == quotaModel)
        #expect(resolved.limits == limits.models[quotaModel])
    }

    @Test func unknownModelKeepsItsNameAndGetsUnknownLimits() throws {
        let free = RateLimitTable.bundled().models(forTier: "Free Tier").models
        let unlimited = ModelLimits(models: free).resolve(try #require(ModelName("my-finetune-7")))
        #expect(unlimited.quotaModel == "my-finetune-7")
        #expect(unlimited.limits == .unlimited)
        let custom = Limits(rpm: 5, tpm: nil, rpd: 100)
        let capped = ModelLimits(models: free, unknownModel: custom).resolve(try #require(ModelName("models/x-1")))
        #expect(capped.quotaModel == "x-1")
        #expect(capped.limits == custom)
    }

    @Test func nullOrMissingCountersAreUnlimitedAndModelsPrefixIsStripped() throws {
        let table = try RateLimitTable(json: #"{"T": {"models/m": {"rpm": null, "rpd": 3}}}"#)
        #expect(table.models(forTier: "T").models["m"] == Limits(rpm: nil, tpm: nil, rpd: 3))
    }

    @Test(
        "bad JSON or shape names the setting",
        arguments: [
            ("{", "setting 'rate_limits' is not valid JSON"),
            ("[]", "setting 'rate_limits' must be a JSON object of tiers"),
            ("{}", "setting 'rate_limits' must be a JSON object of tiers"),
            (#"{"Free": []}"#, "setting 'rate_limits' tier 'Free' must be an object of models"),
            (#"{"Free": {"m": 5}}"#, "setting 'rate_limits.Free.m' must be an object like"),
            (#"{"Free": {"m": {"rpm": -1}}}"#, "setting 'rate_limits.Free.m' 'rpm' must be a whole number ≥ 0"),
            (#"{"Free": {"m": {"rpm": 1.5}}}"#, "setting 'rate_limits.Free.m' 'rpm' must be a whole number ≥ 0"),
            (#"{"Free": {"m": {"rpm": "10"}}}"#, "setting 'rate_limits.Free.m' 'rpm' must be a whole number ≥ 0"),
            (#"{"Free": {"m": {"rph": 1}}}"#, "setting 'rate_limits.Free.m' unknown counter 'rph'"),
        ]
    )
    func badInputNamesTheSetting(json: String, message: String) {
        #expect {
            _ = try RateLimitTable(json: json)
        } throws: { error in
            guard let error = error as? SettingError else { return false }
            return error.setting.hasPrefix("rate_limits") && error.description.hasPrefix(message)
        }
    }

    @Test func errorsNameTheSettingGivenAndItsSource() {
        do {
            _ = try RateLimitTable(json: "nope", setting: "vertex_rate_limits")
            Issue.record("expected an error")
        } catch {
            #expect(error.setting == "vertex_rate_limits")
            var sourced = error
            sourced.source = "config.toml"
            #expect(sourced.description.hasPrefix("config.toml: setting 'vertex_rate_limits' is not valid JSON"))
        }
    }

    @Test func tablesCompareByContent() throws {
        let one = try RateLimitTable(json: #"{"T": {"m": {"rpm": 1}}}"#)
        let same = RateLimitTable(tiers: [("T", ["m": Limits(rpm: 1)])])
        #expect(one == same)
        #expect(one != (try RateLimitTable(json: #"{"T": {"m": {"rpm": 2}}}"#)))
    }

    @Test func aModelTheChosenTierDoesNotListGetsUnknownLimitsNotAShorterPrefix() throws {
        let table = RateLimitTable.bundled()
        let tier1 = ModelLimits(
            models: table.models(forTier: "Tier 1").models,
            unknownModel: Limits(rpm: 3),
            knownPrefixes: table.allPrefixes
        )
        // Tier 1 lists gemini-2.5-flash but not gemini-2.5-flash-lite (Appendix A).
        let resolved = tier1.resolve(try #require(ModelName("gemini-2.5-flash-lite-001")))
        #expect(resolved.quotaModel == "gemini-2.5-flash-lite")
        #expect(resolved.limits == Limits(rpm: 3))
        #expect(tier1.resolve(try #require(ModelName("gemini-2.5-flash-002"))).limits.rpm == 1_000)
    }
}
