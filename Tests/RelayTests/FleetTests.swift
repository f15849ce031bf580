import Foundation
import KeyPool
import KeyRelayTestSupport
import Relay
import Storage
import Testing

/// Several relays on one PostgreSQL database act as one pool (DESIGN.md §5): exact limits,
/// settings and keys that reach every instance within a second, the store as the truth.
@Suite(.enabled(if: PostgresTestServer.isAvailable), .serialized) struct FleetTests {
    static func milliseconds(_ duration: Duration?) -> String {
        guard let duration else { return "never" }
        let (seconds, attoseconds) = duration.components
        return String(format: "%.1f ms", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
    }

    @Test("three instances admit exactly the limit of every key", arguments: 1...3)
    func threeInstancesAdmitExactlyTheLimitOfEveryKey(round: Int) async throws {
        let table = singleModelTable(rpm: 10, rpd: 1000)
        let fleet = try await FleetHarness(
            instances: 3,
            keys: testKeys(4, tag: "EX"),
            environment: ["KEYRELAY_RATE_LIMITS": table, "KEYRELAY_EXHAUSTED_POLICY": "reject"]
        )
        let minute = try await RelayHarness.startOfUsableMinute()
        let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
            for index in 0..<200 {
                group.addTask {
                    let reply = try await fleet.generate(on: index % 3)
                    return (reply.status, reply.header("Retry-After"))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(statuses.filter { $0.0 == 200 }.count == 40)
        #expect(statuses.filter { $0.0 == 429 }.count == 160)
        #expect(statuses.filter { $0.0 == 429 }.allSatisfy { $0.1 != nil })
        #expect(try await fleet.admitted() == [10, 10, 10, 10])
        #expect(QuotaCalendar.pacific.minuteStart(of: Date()) == minute, "the test must finish inside its minute")
        await fleet.shutdown()
    }

    @Test func aSettingChangedInSQLIsInForceOnEveryInstanceWithinASecond() async throws {
        let fleet = try await FleetHarness(instances: 3, keys: testKeys(1, tag: "PS"))
        try await fleet.database.sql("UPDATE settings SET value = '7' WHERE name = 'max_retries'")
        let took = await fleet.waitOnEveryInstance { $0.settings.pool.maxRetries == 7 }
        print("settings propagation: " + took.map(Self.milliseconds).joined(separator: ", "))
        #expect(took.allSatisfy { $0 != nil && $0! < .seconds(1) })

        // A value that does not parse is refused and the old one stays in force everywhere.
        try await fleet.database.sql("UPDATE settings SET value = '\"sometimes\"' WHERE name = 'exhausted_policy'")
        try await Task.sleep(for: .milliseconds(300))
        #expect(fleet.relays.allSatisfy { $0.settings.pool.exhaustedPolicy == .cycle })
        // A bad edit of a setting the fleet had changed keeps the fleet's value, not a default.
        try await fleet.database.sql("UPDATE settings SET value = '\"abc\"' WHERE name = 'max_retries'")
        try await Task.sleep(for: .milliseconds(300))
        #expect(fleet.relays.allSatisfy { $0.settings.pool.maxRetries == 7 })
        #expect(
            fleet.logs.captured.contains { $0.contains("stored setting refused") && $0.contains("exhausted_policy") }
        )
        await fleet.shutdown()
    }

    @Test func aKeyAddedOrRemovedThroughOneInstanceReachesEveryInstanceWithinASecond() async throws {
        let fleet = try await FleetHarness(instances: 3, keys: testKeys(1, tag: "PK"))
        let newKey = testKeys(1, tag: "NEW")[0]
        let added = try await fleet.admin("POST", on: 0, "/admin/keys", body: #"{"keys": ["\#(newKey)"]}"#)
        #expect(added.status == 200)
        #expect(!added.text.contains(newKey))
        let id = try #require(added.json?["keys"]?.arrayValue?.first?["id"]?.intValue)
        let joined = await fleet.waitOnEveryInstance { relay in
            relay.keysInUse.contains { $0.id == Int64(id) }
        }
        print("key add propagation: " + joined.map(Self.milliseconds).joined(separator: ", "))
        #expect(joined.allSatisfy { $0 != nil && $0! < .seconds(1) })

        #expect(try await fleet.admin("DELETE", on: 2, "/admin/keys/\(id)").status == 200)
        let left = await fleet.waitOnEveryInstance { relay in
            !relay.keysInUse.contains { $0.id == Int64(id) }
        }
        print("key removal propagation: " + left.map(Self.milliseconds).joined(separator: ", "))
        #expect(left.allSatisfy { $0 != nil && $0! < .seconds(1) })
        #expect(try await fleet.admin("DELETE", on: 1, "/admin/keys/\(id)").status == 404)
        await fleet.shutdown()
    }

    @Test func theFirstInstanceSeedsTheSettingsAndLaterOnesFollowTheStore() async throws {
        let fleet = try await FleetHarness(
            instances: 2,
            keys: testKeys(1, tag: "SD"),
            environments: [["KEYRELAY_MAX_RETRIES": "2"], ["KEYRELAY_MAX_RETRIES": "5"]]
        )
        #expect(fleet.relays.map(\.settings.pool.maxRetries) == [2, 2])
        #expect(
            fleet.logs.captured.contains {
                $0.contains("local setting differs from the fleet's") && $0.contains("setting=max_retries")
            }
        )
        let stored = try await fleet.database.sql("SELECT value FROM settings WHERE name = 'max_retries'")
        #expect(stored.first?["value"].string == "2")
        await fleet.shutdown()
    }

    @Test func adminRoutesNeedTheAdminTokenAndNeverShowASecret() async throws {
        let keys = testKeys(2, tag: "AD")
        let fleet = try await FleetHarness(instances: 1, keys: keys)
        let noToken = try await fleet.request("GET", fleet.url(0) + "/admin/keys")
        #expect(noToken.status == 401)
        let clientToken = try await fleet.request(
            "GET",
            fleet.url(0) + "/admin/keys",
            headers: [("Authorization", "Bearer \(FleetHarness.token)")]
        )
        #expect(clientToken.status == 401)
        let listed = try await fleet.admin("GET", on: 0, "/admin/keys")
        let settings = try await fleet.admin("GET", on: 0, "/admin/settings")
        #expect(listed.json?["keys"]?.arrayValue?.count == 2)
        for reply in [listed, settings] {
            for secret in keys + [FleetHarness.token, FleetHarness.adminToken] {
                #expect(!reply.text.contains(secret))
            }
        }
        #expect(settings.text.contains("****") || !settings.text.contains(PostgresTestServer.password ?? "\u{0}"))
        let bad = try await fleet.admin("POST", on: 0, "/admin/keys", body: #"{"keys": ["has space inside"]}"#)
        #expect(bad.status == 400)
        #expect(!bad.text.contains("has space inside"))
        await fleet.shutdown()
    }

    @Test func aKeyRemovedFromTheFleetIsNotBroughtBackByAnInstanceThatStillListsIt() async throws {
        let keys = testKeys(2, tag: "RM")
        let fleet = try await FleetHarness(instances: 1, keys: keys)
        let removed = try #require(fleet.relays[0].keysInUse.first)
        #expect(try await fleet.admin("DELETE", on: 0, "/admin/keys/\(removed.id)").status == 200)

        // A second instance starts with the old list, which still holds the removed key.
        let second = try await FleetHarness.joining(fleet, keys: keys)
        #expect(!second.keysInUse.contains { $0.id == removed.id })
        #expect(fleet.logs.captured.contains { $0.contains("was removed from the fleet and is not restored") })
        // The admin API can bring it back.
        let added = try await fleet.admin("POST", on: 0, "/admin/keys", body: #"{"keys": ["\#(keys[0])"]}"#)
        #expect(added.json?["keys"]?.arrayValue?.first?["id"]?.intValue == Int(removed.id))
        await second.shutdown()
        await fleet.shutdown()
    }

    @Test func theFleetsQuotaTimeZoneDecidesTheDayWindowOfEveryInstance() async throws {
        let fleet = try await FleetHarness(instances: 2, keys: testKeys(1, tag: "TZ"))
        try await fleet.database.sql("UPDATE settings SET value = '\"Asia/Tokyo\"' WHERE name = 'quota_timezone'")
        let took = await fleet.waitOnEveryInstance { relay in
            relay.quotaCalendarZone == "Asia/Tokyo"
        }
        #expect(took.allSatisfy { $0 != nil })
        #expect(fleet.stores.allSatisfy { $0.calendar.timeZone.identifier == "Asia/Tokyo" })
        // A reservation now counts in the Tokyo day.
        #expect(try await fleet.generate(on: 1).status == 200)
        let rows = try await fleet.database.sql("SELECT day_start FROM key_usage")
        let tokyo = QuotaCalendar(timeZone: TimeZone(identifier: "Asia/Tokyo")!)
        #expect(rows.first?["day_start"].date == tokyo.dayStart(of: Date()))
        await fleet.shutdown()
    }

    @Test func anEmptyClientTokenListWrittenInSQLIsRefused() async throws {
        let fleet = try await FleetHarness(instances: 1, keys: testKeys(1, tag: "ET"))
        try await fleet.database.sql("UPDATE settings SET value = '[]' WHERE name = 'allowed_tokens'")
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await fleet.generate(on: 0).status == 200, "the old tokens stay in force")
        #expect(fleet.logs.captured.contains { $0.contains("stored setting refused") && $0.contains("allowed_tokens") })
        await fleet.shutdown()
    }

    @Test func anAdminSettingsChangeReachesEveryInstanceAndARefusedOneNone() async throws {
        let fleet = try await FleetHarness(instances: 3, keys: testKeys(1, tag: "AP"))
        let good = try await fleet.admin("PUT", on: 1, "/admin/settings", body: #"{"max_retries": 6}"#)
        #expect(good.status == 200)
        let took = await fleet.waitOnEveryInstance { $0.settings.pool.maxRetries == 6 }
        #expect(took.allSatisfy { $0 != nil && $0! < .seconds(1) })

        let bad = try await fleet.admin(
            "PUT",
            on: 2,
            "/admin/settings",
            body: #"{"max_retries": 2, "max_failures": -1}"#
        )
        #expect(bad.status == 400)
        #expect(bad.json?["error"]?["message"]?.stringValue?.contains("setting 'max_failures'") == true)
        try await Task.sleep(for: .milliseconds(300))
        #expect(fleet.relays.allSatisfy { $0.settings.pool.maxRetries == 6 && $0.settings.pool.maxFailures == 3 })
        await fleet.shutdown()
    }
}
