import Foundation
import KeyPool
import KeyRelayTestSupport
import Relay
import Testing

@Suite struct SettingsTests {
    @Test func defaultsMatchTheDesign() throws {
        let settings = Settings.default
        #expect(settings.pool.maxRetries == 3)
        #expect(settings.pool.maxFailures == 3)
        #expect(settings.pool.exhaustedPolicy == .cycle)
        #expect(settings.pool.quotaTier == "Free Tier")
        #expect(settings.pool.quotaTimeZone.identifier == "America/Los_Angeles")
        #expect(settings.server.maxBodyBytes == 32 << 20)
        #expect(settings.upstream.baseURL == "https://generativelanguage.googleapis.com")
        #expect(settings.server.listen.description == "127.0.0.1:8000")
    }

    @Test func keyListsAreCleanedOfWhitespaceBlanksAndDuplicates() throws {
        let raw =
            "  AIzaSyKEY000000000000000000000000000001 ,\n\n AIzaSyKEY000000000000000000000000000002\r\n,,"
            + "AIzaSyKEY000000000000000000000000000001\n"
        let (settings, _) = try Settings.load(environment: ["KEYRELAY_API_KEYS": raw])
        #expect(
            settings.keys.gemini.map(\.revealedForUpstream) == [
                "AIzaSyKEY000000000000000000000000000001", "AIzaSyKEY000000000000000000000000000002",
            ]
        )
    }

    @Test(
        "bad values name the setting and where it came from",
        arguments: [
            (
                "KEYRELAY_MAX_RETRIES", "42",
                "environment KEYRELAY_MAX_RETRIES: setting 'max_retries' must be a whole number in 0...20, got '42'"
            ),
            (
                "KEYRELAY_MAX_RETRIES", "-1",
                "environment KEYRELAY_MAX_RETRIES: setting 'max_retries' must be a whole number in 0...20, got '-1'"
            ),
            (
                "KEYRELAY_EXHAUSTED_POLICY", "drop",
                "environment KEYRELAY_EXHAUSTED_POLICY: setting 'exhausted_policy' must be 'cycle' or 'reject'"
            ),
            (
                "KEYRELAY_QUOTA_TIMEZONE", "Mars/Olympus",
                "environment KEYRELAY_QUOTA_TIMEZONE: setting 'quota_timezone' must be an IANA time zone such as America/Los_Angeles"
            ),
            (
                "KEYRELAY_LISTEN", "nowhere",
                "environment KEYRELAY_LISTEN: setting 'listen' must be host:port such as 127.0.0.1:8000"
            ),
            (
                "KEYRELAY_API_KEYS", "AIzaSyGOOD0000000000000000000000000001,AIza BAD",
                "environment KEYRELAY_API_KEYS: setting 'api_keys' entry 2 contains whitespace or control characters inside the key"
            ),
        ]
    )
    func badValuesNameTheSetting(variable: String, value: String, message: String) throws {
        #expect(throws: SettingError.self) { try Settings.load(environment: [variable: value]) }
        do {
            _ = try Settings.load(environment: [variable: value])
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func aKeyWithAControlCharacterIsRefusedWithoutQuotingIt() throws {
        let secret = "AIzaSyCTRL\u{07}000000000000000000000000001"
        do {
            _ = try Settings.load(environment: ["KEYRELAY_API_KEYS": secret])
            Issue.record("expected an error")
        } catch {
            #expect(error.setting == "api_keys")
            #expect(!error.description.contains("AIzaSyCTRL"))
        }
    }

    @Test func configFileUnknownNameSuggestsTheClosestSetting() throws {
        let directory = try TemporaryDirectory(prefix: "settings")
        let path = directory.path("config.json")
        try Data(#"{"max_retry": 2}"#.utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Settings.load(environment: [:], configFile: path)
            Issue.record("expected an error")
        } catch {
            #expect(
                error.description == "\(path): setting 'max_retry' is not a known setting (did you mean 'max_retries'?)"
            )
        }
    }

    @Test func environmentWinsOverTheFileAndListsMayBeJSONArrays() throws {
        let directory = try TemporaryDirectory(prefix: "settings")
        let path = directory.path("config.json")
        let config =
            #"{"max_retries": 2, "api_keys": ["AIzaSyFILE0000000000000000000000000001"], "exhausted_policy": "reject"}"#
        try Data(config.utf8).write(to: URL(fileURLWithPath: path))
        let (settings, _) = try Settings.load(environment: ["KEYRELAY_MAX_RETRIES": "5"], configFile: path)
        #expect(settings.pool.maxRetries == 5)
        #expect(settings.pool.exhaustedPolicy == .reject)
        #expect(settings.keys.gemini.count == 1)
    }

    @Test func rateLimitsComeInlineOrFromAFileAndAMissingTierFallsBackWithAWarning() throws {
        let directory = try TemporaryDirectory(prefix: "settings")
        let path = directory.path("limits.json")
        try Data(#"{"Mine": {"gemini-x": {"rpm": 7}}}"#.utf8).write(to: URL(fileURLWithPath: path))
        let (settings, warnings) = try Settings.load(environment: ["KEYRELAY_RATE_LIMITS": "@\(path)"])
        let resolved = settings.modelLimits(for: .gemini).resolve(ModelName("gemini-x-001")!)
        #expect(resolved.quotaModel == "gemini-x")
        #expect(resolved.limits == Limits(rpm: 7))
        #expect(
            warnings.contains { $0.contains("quota tier 'Free Tier' is not in the rate-limit table; using 'Mine'") }
        )
    }

    @Test func storedAndDisplayedSettingsHoldNoSecret() throws {
        let key = "AIzaSySECRET00000000000000000000000001"
        let (settings, _) = try Settings.load(environment: [
            "KEYRELAY_API_KEYS": key,
            "KEYRELAY_ALLOWED_TOKENS": "ops:client-secret-token-1",
            "KEYRELAY_ADMIN_TOKEN": "admin-secret-token-1",
        ])
        let shown =
            settings.displayed.map { "\($0.name)=\($0.value.serialized)" }.joined()
            + settings.storedPoolSettings.description
        for secret in [key, "client-secret-token-1", "admin-secret-token-1"] {
            #expect(!shown.contains(secret))
        }
        #expect(settings.storedPoolSettings["api_keys"] == nil, "keys are rows of api_keys, not settings")
    }

    @Test func validationRequiresTokensAndKeys() throws {
        #expect(throws: SettingError.self) { try Settings.default.validate() }
        let (settings, _) = try Settings.load(environment: [
            "KEYRELAY_API_KEYS": "AIzaSyVALID0000000000000000000000000001",
            "KEYRELAY_ALLOWED_TOKENS": "t0ken-value",
        ])
        try settings.validate()
    }

    @Test func aKeyPastedIntoTheWrongSettingIsNotQuotedBack() throws {
        let key = "AIzaSyPASTED0000000000000000000000000001"
        for variable in ["KEYRELAY_MAX_RETRIES", "KEYRELAY_PAID_FALLBACK", "KEYRELAY_IDLE_TIMEOUT_S"] {
            do {
                _ = try Settings.load(environment: [variable: key])
                Issue.record("expected an error for \(variable)")
            } catch {
                #expect(!error.description.contains("AIzaSyPASTED"))
                #expect(error.description.contains("got a value of 40 characters"))
            }
        }
    }

    @Test(
        "config values of the wrong JSON type are refused",
        arguments: [
            (#"{"api_keys": 5}"#, "setting 'api_keys' must be a string or a list of strings"),
            (#"{"allowed_tokens": {"a": "b"}}"#, "setting 'allowed_tokens' must be a string, a number or a boolean"),
            (#"{"max_retries": [1, 2]}"#, "setting 'max_retries' must be a single value, not a list"),
            (#"{"api_keys": ["ok-key-000000000000000001", 7]}"#, "setting 'api_keys' must be a list of strings"),
            (#"{"rate_limits": true}"#, "setting 'rate_limits' must be a JSON object"),
        ]
    )
    func configValuesOfTheWrongTypeAreRefused(config: String, message: String) throws {
        let directory = try TemporaryDirectory(prefix: "settings")
        let path = directory.path("config.json")
        try Data(config.utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try Settings.load(environment: [:], configFile: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "\(path): \(message)")
        }
    }
}
