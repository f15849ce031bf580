import Foundation
import KeyPool
import Testing

/// Every admin route on a live single instance (DESIGN.md §7): state, keys, settings; the admin
/// token guards them all, bad changes are refused whole, and no response or log holds a secret.
@Suite struct AdminAPITests {
    @Test func everyRouteNeedsTheAdminTokenAndARefusedCallChangesNothing() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "AA"))
        let routes: [(String, String, String)] = [
            ("GET", "/admin/keys", ""),
            ("POST", "/admin/keys", #"{"keys":["AIzaSyNEWKEY00000000000000000000000001"]}"#),
            ("DELETE", "/admin/keys/1", ""), ("POST", "/admin/keys/1/reactivate", ""),
            ("GET", "/admin/keys/1/usage", ""), ("GET", "/admin/state", ""), ("GET", "/admin/settings", ""),
            ("PUT", "/admin/settings", #"{"max_retries": 9}"#), ("POST", "/admin/settings/reset", ""),
        ]
        for (method, path, body) in routes {
            for token in [nil, "wrong-admin-token", RelayHarness.token] {
                let reply = try await harness.admin(method, path, body: body, token: token)
                #expect(reply.status == 401, "\(method) \(path) with \(token ?? "no token")")
                #expect(reply.json?["error"]?["status"]?.stringValue == "UNAUTHENTICATED")
            }
        }
        #expect(harness.relay.settings.pool.maxRetries == 3)
        #expect(try await harness.storedKeys().count == 1)
        #expect(harness.relay.keysInUse.count == 1)
        await harness.shutdown()
    }

    @Test func keysAreGroupedByStateAndAReactivatedKeyServesAgain() async throws {
        let keys = testKeys(3, tag: "AK")
        // Key 0 is invalid upstream, key 1 answers per-day 429s, key 2 is fine.
        let harness = try await RelayHarness(keys: keys, simulatorKeys: [keys[1], keys[2]]) {
            $0.dailyExhaustedKeys = [APIKey(keys[1])!]
        }
        for index in 0..<6 { _ = try await harness.generate("state \(index)") }
        let listed = try await harness.admin("GET", "/admin/keys")
        #expect(listed.status == 200)
        let ids = try await harness.storedKeys().map { JSONValue(Int($0.id)) }
        #expect(listed.json?["inactive"] == .array([ids[0]]))
        #expect(listed.json?["exhausted"] == .array([ids[1]]))
        #expect(listed.json?["valid"] == .array([ids[2]]))

        let state = try await harness.admin("GET", "/admin/state")
        let flash = try #require(state.json?["models"]?["gemini-2.5-flash"])
        #expect(flash["inactive"]?.intValue == 1)
        #expect(flash["exhausted"]?.intValue == 1)
        #expect(flash["available"]?.intValue == 1)
        #expect(state.json?["resets_in_s"]?["minute"]?.intValue ?? 0 > 0)

        let usage = try await harness.admin("GET", "/admin/keys/\(ids[2].intValue!)/usage?model=gemini-2.5-flash")
        let row = try #require(usage.json?["usage"]?.arrayValue?.first)
        #expect(row["rpd"]?.intValue ?? 0 >= 1)
        #expect(row["limits"]?["rpm"]?.intValue == 10)

        let reactivated = try await harness.admin("POST", "/admin/keys/\(ids[0].intValue!)/reactivate")
        #expect(reactivated.status == 200)
        #expect(reactivated.json?["key"]?["active"] == .bool(true))
        #expect(try await harness.storedKeys()[0].isActive)
        #expect(try await harness.admin("POST", "/admin/keys/999/reactivate").status == 404)
        await harness.shutdown()
    }

    @Test func aValidSettingsChangeIsInForceAndAnInvalidOneChangesNothing() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "AS"))
        let good = try await harness.admin(
            "PUT",
            "/admin/settings",
            body: #"{"max_retries": 5, "exhausted_policy": "reject"}"#
        )
        #expect(good.status == 200)
        #expect(harness.relay.settings.pool.maxRetries == 5)
        #expect(harness.relay.settings.pool.exhaustedPolicy == .reject)
        #expect(try await harness.store.loadSettings()["max_retries"] == "5")

        let refused: [(String, String)] = [
            (#"{"max_retries": -1, "max_failures": 9}"#, "setting 'max_retries' must be a whole number in 0...20"),
            (#"{"max_retry": 2}"#, "setting 'max_retry' is not a known setting (did you mean 'max_retries'?)"),
            (#"{"api_keys": ["AIzaSy KEY WITH SPACE"]}"#, "setting 'api_keys' holds keys"),
            (#"{"listen": "127.0.0.1:9"}"#, "setting 'listen' is set per instance"),
            ("[1]", "body must be a JSON object of settings"),
        ]
        for (body, message) in refused {
            let reply = try await harness.admin("PUT", "/admin/settings", body: body)
            #expect(reply.status == 400, "\(body)")
            #expect(reply.json?["error"]?["message"]?.stringValue?.contains(message) == true, "\(reply.text)")
        }
        // Nothing of a refused change is in force: max_failures stayed at its default.
        #expect(harness.relay.settings.pool.maxRetries == 5)
        #expect(harness.relay.settings.pool.maxFailures == 3)
        #expect(try await harness.store.loadSettings()["max_failures"] == "3")

        let reset = try await harness.admin("POST", "/admin/settings/reset")
        #expect(reset.status == 200)
        #expect(harness.relay.settings.pool.maxRetries == 3)
        #expect(harness.relay.settings.pool.exhaustedPolicy == .cycle)
        #expect(try await harness.generate("tokens survive a reset").status == 200)
        await harness.shutdown()
    }

    @Test func addedKeyListsAreCleanedAndRemovalIsSoft() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "AL"))
        let extra = testKeys(2, tag: "ALX")
        let body = #"{"keys": "  \#(extra[0]) ,\n\n \#(extra[1])\r\n, ,"}"#
        let added = try await harness.admin("POST", "/admin/keys", body: body)
        #expect(added.status == 200)
        #expect(added.json?["keys"]?.arrayValue?.count == 2)
        let stored = try await harness.store.loadKeys().map(\.secret.revealedForUpstream)
        #expect(Set(stored) == Set(testKeys(1, tag: "AL") + extra))

        let id = try #require(added.json?["keys"]?.arrayValue?.first?["id"]?.intValue)
        #expect(try await harness.admin("DELETE", "/admin/keys/\(id)").status == 200)
        #expect(!harness.relay.keysInUse.contains { $0.id == Int64(id) })
        #expect(try await harness.admin("DELETE", "/admin/keys/\(id)").status == 404)
        // Adding it back restores the same id.
        let again = try await harness.admin("POST", "/admin/keys", body: #"{"keys": ["\#(extra[0])"]}"#)
        #expect(again.json?["keys"]?.arrayValue?.first?["id"]?.intValue == id)
        await harness.shutdown()
    }

    @Test func noAdminResponseOrLogLineHoldsASecret() async throws {
        let keys = testKeys(2, tag: "AZ")
        let harness = try await RelayHarness(keys: keys)
        _ = try await harness.generate("traffic")
        var texts: [String] = []
        for (method, path, body) in [
            ("GET", "/admin/keys", ""), ("GET", "/admin/state", ""), ("GET", "/admin/settings", ""),
            ("GET", "/admin/keys/1/usage", ""), ("POST", "/admin/keys/1/reactivate", ""),
            ("PUT", "/admin/settings", #"{"max_retries": 4}"#), ("POST", "/admin/settings/reset", ""),
            ("POST", "/admin/keys", #"{"keys": ["AIzaSyADDED0000000000000000000000000001"]}"#),
            ("PUT", "/admin/settings", #"{"allowed_tokens": ["ops:a-brand-new-client-token"]}"#),
        ] {
            texts.append(try await harness.admin(method, path, body: body).text)
        }
        let secrets =
            keys + [
                "AIzaSyADDED0000000000000000000000000001", RelayHarness.token, RelayHarness.adminToken,
                "a-brand-new-client-token",
            ]
        for secret in secrets {
            for text in texts { #expect(!text.contains(secret)) }
            for line in harness.logs.captured { #expect(!line.contains(secret)) }
            #expect(!(try await harness.store.loadSettings()).values.joined().contains(secret))
        }
        await harness.shutdown()
    }
}

/// What the admin API must never let an operator do by accident.
@Suite struct AdminSafetyTests {
    @Test func tokensCannotBeClearedAndAResetKeepsThem() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "SF"))
        for body in [#"{"admin_token": "   "}"#, #"{"admin_token": null}"#, #"{"metrics_token": ""}"#] {
            let reply = try await harness.admin("PUT", "/admin/settings", body: body)
            #expect(reply.status == 400, "\(body)")
        }
        #expect(try await harness.admin("PUT", "/admin/settings", body: #"{"metrics_token": "metrics-token-123"}"#).status == 200)
        #expect(try await harness.admin("POST", "/admin/settings/reset").status == 200)
        #expect(try await harness.admin("GET", "/admin/keys").status == 200, "the admin token survived")
        #expect(try await harness.request("GET", harness.relayURL + "/metrics").status == 401, "so did the metrics token")
        await harness.shutdown()
    }

    @Test func aRestoredKeyShowsItsCountersAgainAndARemovedOneCannotBeReactivated() async throws {
        let keys = testKeys(1, tag: "SR")
        let harness = try await RelayHarness(keys: keys)
        for _ in 0..<2 { #expect(try await harness.generate().status == 200) }
        let id = try #require(harness.relay.keysInUse.first?.id)
        #expect(try await harness.admin("DELETE", "/admin/keys/\(id)").status == 200)
        #expect(try await harness.admin("POST", "/admin/keys/\(id)/reactivate").status == 404)
        #expect(try await harness.admin("POST", "/admin/keys", body: #"{"keys": ["\#(keys[0])"]}"#).status == 200)
        let usage = try await harness.admin("GET", "/admin/keys/\(id)/usage?model=gemini-2.5-flash")
        #expect(usage.json?["usage"]?.arrayValue?.first?["rpd"]?.intValue == 2)
        await harness.shutdown()
    }

    @Test func anOversizedAdminBodyIsA413() async throws {
        let harness = try await RelayHarness(keys: testKeys(1, tag: "SB"), environment: ["KEYRELAY_MAX_BODY_BYTES": "4096"])
        let big = String(repeating: "x", count: 10_000)
        let reply = try await harness.admin("PUT", "/admin/settings", body: #"{"max_retries": "\#(big)"}"#)
        #expect(reply.status == 413)
        await harness.shutdown()
    }
}

/// `test_model` and `key_check_interval_s`: inactive keys are retried and come back if they work.
@Suite struct KeyRecheckTests {
    @Test func anInactiveKeyThatAnswersIsReactivatedAndABrokenOneStaysOut() async throws {
        let keys = testKeys(2, tag: "RC")
        // The simulator knows key 0 only; key 1 is invalid upstream.
        let harness = try await RelayHarness(
            keys: keys,
            simulatorKeys: [keys[0]],
            environment: ["KEYRELAY_TEST_MODEL": "gemini-2.5-flash-lite"]
        )
        let stored = try await harness.storedKeys()
        for key in stored {
            try await harness.store.deactivate(keyID: key.id, reason: "test", at: Date())
        }
        try await harness.relay.reloadKeysForTests()
        let revived = await harness.relay.recheckInactiveKeys()
        #expect(revived == [stored[0].id])
        let after = try await harness.storedKeys()
        #expect(after.map(\.isActive) == [true, false])
        #expect(harness.relay.keysInUse.first { $0.id == stored[0].id }?.isActive == true)
        // The check spent no quota: no usage row was reserved.
        #expect(try await harness.store.snapshot().isEmpty)
        await harness.shutdown()
    }
}
