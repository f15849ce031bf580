import Foundation
import KeyPool
import Testing

@testable import Simulator

@Suite struct SimulatorOptionsTests {
    @Test func keysAreSplitOnCommasAndNewlinesAndTrimmedWithDefaultsElsewhere() throws {
        let options = try SimulatorOptions.parse(arguments: ["--keys", " key-one-aaaa ,key-two-bbbb\nkey-three-cccc\n"])

        #expect(options.keys == ["key-one-aaaa", "key-two-bbbb", "key-three-cccc"].compactMap(APIKey.init))
        #expect(options.host == "127.0.0.1")
        #expect(options.port == 18080)
        #expect(options.defaultLimits == .unlimited)
        #expect(options.chunkCount == 3)
        #expect(options.errorRate == 0)
        #expect(options.errorStatus == 503)
        #expect(options.latency == .zero)
        #expect(options.seed == nil)
    }

    @Test func everyOptionIsRead() throws {
        let options = try SimulatorOptions.parse(arguments: [
            "--listen", "127.0.0.1:0", "--keys", "k-aaaaaaaa,k-bbbbbbbb,k-cccccccc", "--rpm", "5", "--tpm=1000",
            "--rpd", "20", "--latency-ms", "15", "--chunks", "4", "--chunk-delay-ms", "3", "--error-rate", "0.25",
            "--error-status", "504", "--daily-exhausted-keys", "k-aaaaaaaa", "--no-quota-keys", "k-bbbbbbbb",
            "--suspended-keys", "k-cccccccc", "--seed", "42",
        ])

        #expect(options.port == 0)
        #expect(options.defaultLimits == Limits(rpm: 5, tpm: 1000, rpd: 20))
        #expect(options.latency == .milliseconds(15))
        #expect(options.chunkCount == 4)
        #expect(options.chunkDelay == .milliseconds(3))
        #expect(options.errorRate == 0.25)
        #expect(options.errorStatus == 504)
        #expect(options.dailyExhaustedKeys == [APIKey("k-aaaaaaaa")!])
        #expect(options.noQuotaKeys == [APIKey("k-bbbbbbbb")!])
        #expect(options.suspendedKeys == [APIKey("k-cccccccc")!])
        #expect(options.seed == 42)
    }

    @Test func rateLimitTableIsReadInlineOrFromAFile() throws {
        let json = #"{"Free Tier": {"gemini-2.5-flash": {"rpm": 2}}, "Tier 1": {"gemini-2.5-flash": {"rpm": 9}}}"#
        let inline = try SimulatorOptions.parse(arguments: [
            "--keys", "k-aaaaaaaa", "--rate-limits", json, "--quota-tier", "Tier 1",
        ])
        #expect(inline.quotaTier == "Tier 1")
        #expect(inline.modelLimits.resolve(ModelName("gemini-2.5-flash-001")!).limits == Limits(rpm: 9))
        #expect(inline.modelLimits.resolve(ModelName("other-model")!).limits == .unlimited)

        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sim-limits-\(UUID()).json").path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fromFile = try SimulatorOptions.parse(arguments: ["--keys", "k-aaaaaaaa", "--rate-limits", "@" + path])
        #expect(fromFile.modelLimits.resolve(ModelName("gemini-2.5-flash")!).limits == Limits(rpm: 2))
    }

    @Test(
        "errors name the flag",
        arguments: [
            ([String](), "--keys", SimulatorOptionsError.Code.missingOption),
            (["--keys", " , "], "--keys", .invalidValue),
            (["--keys", "k-aaaaaaaa,k-aaaaaaaa"], "--keys", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--rpm", "ten"], "--rpm", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--tpm", "-1"], "--tpm", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--rpd"], "--rpd", .missingValue),
            (["--keys", "k-aaaaaaaa", "--chunks", "0"], "--chunks", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--error-rate", "1.5"], "--error-rate", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--error-status", "418"], "--error-status", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--listen", "localhost"], "--listen", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--listen", "127.0.0.1:70000"], "--listen", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--seed", "x"], "--seed", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--latency-ms", "1.5"], "--latency-ms", .invalidValue),
            (["--keys", "k-aaaaaaaa", "--bogus", "1"], "--bogus", .unknownOption),
            (["--keys", "k-aaaaaaaa", "--quota-tier", "Tier 1"], "--quota-tier", .conflictingOptions),
            (["--keys", "k-aaaaaaaa", "--rpm", "1", "--rate-limits", "{}"], "--rpm", .conflictingOptions),
            (["--keys", "k-aaaaaaaa", "--rate-limits", "{not json"], "--rate-limits", .invalidValue),
            (
                ["--keys", "k-aaaaaaaa", "--rate-limits", #"{"Free Tier": {"m": {"rpm": -1}}}"#], "--rate-limits",
                .invalidValue
            ),
            (["--keys", "k-aaaaaaaa", "--suspended-keys", "k-zzzzzzzz"], "--suspended-keys", .invalidValue),
        ]
    )
    func errorsNameTheFlag(arguments: [String], flag: String, code: SimulatorOptionsError.Code) {
        #expect {
            _ = try SimulatorOptions.parse(arguments: arguments)
        } throws: { error in
            guard let error = error as? SimulatorOptionsError else { return false }
            return error.flag == flag && error.code == code && error.description.hasPrefix("option '\(flag)' ")
        }
    }

    @Test func errorsNeverQuoteAKey() throws {
        let secret = "AIzaSySECRETsecretSECRETsecret000000001"
        for arguments in [["--keys", "k-aaaaaaaa", "--no-quota-keys", secret], ["--keys", "k-aaaaaaaa", secret]] {
            do {
                _ = try SimulatorOptions.parse(arguments: arguments)
                Issue.record("expected an error")
            } catch {
                #expect(!error.description.contains(secret))
            }
        }
    }

    @Test func helpIsAnErrorCodeAndTheTextListsEveryOption() {
        #expect {
            _ = try SimulatorOptions.parse(arguments: ["--keys", "k-aaaaaaaa", "--help"])
        } throws: { ($0 as? SimulatorOptionsError)?.code == .helpRequested }
        for flag in [
            "--listen", "--keys", "--rpm", "--tpm", "--rpd", "--rate-limits", "--quota-tier", "--latency-ms",
            "--chunks",
            "--chunk-delay-ms", "--error-rate", "--error-status", "--daily-exhausted-keys", "--no-quota-keys",
            "--suspended-keys", "--seed",
        ] {
            #expect(SimulatorOptions.helpText.contains(flag), "help lacks \(flag)")
        }
    }
}
