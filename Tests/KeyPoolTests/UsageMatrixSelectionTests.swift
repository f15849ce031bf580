import Foundation
import KeyPool
import Testing

/// A usage matrix with a seeded generator and a stand-in for the store's reservation.
private struct Pool {
    var matrix = UsageMatrix(calendar: .pacific)
    var rng = SplitMix64(seed: 0x5EED)

    init(_ keys: [KeyRecord]) {
        self.matrix.setKeys(keys)
    }

    mutating func select(_ request: SelectionRequest) -> Selection {
        self.matrix.select(request, using: &self.rng)
    }

    /// Counts `request.cost` on the key's row, window-aware, as the store would, and caches the result.
    mutating func reserve(_ keyID: Int64, _ request: SelectionRequest, tokens: Int = 0) {
        let calendar = self.matrix.calendar
        let id = UsageRowID(model: request.quotaModel, keyID: keyID)
        var row = self.matrix.row(id) ?? .fresh(id, limits: request.limits, now: request.now, calendar: calendar)
        let counters = row.counters(at: request.now, calendar: calendar)
        row.rpm = counters.rpm + request.cost
        row.tpm = counters.tpm + tokens
        row.rpd = counters.rpd + request.cost
        row.minuteStart = calendar.minuteStart(of: request.now)
        row.dayStart = calendar.dayStart(of: request.now)
        row.lastUsed = request.now
        self.matrix.apply(row)
    }

    /// Sets a row's counters in the current windows directly.
    mutating func use(
        _ keyID: Int64, rpm: Int = 0, tpm: Int = 0, rpd: Int = 0, exhaustedUntil: Date? = nil, at now: Date
    ) {
        let calendar = self.matrix.calendar
        let id = UsageRowID(model: "gemini-2.5-flash", keyID: keyID)
        var row = UsageRow.fresh(id, limits: .unlimited, now: now, calendar: calendar)
        row.rpm = rpm
        row.tpm = tpm
        row.rpd = rpd
        row.exhaustedUntil = exhaustedUntil
        self.matrix.apply(row)
    }

    mutating func tally(_ request: SelectionRequest, times: Int) -> [Int64: Int] {
        var counts: [Int64: Int] = [:]
        for _ in 0..<times {
            if case .key(let key) = self.select(request) { counts[key.id, default: 0] += 1 }
        }
        return counts
    }
}

@Suite struct UsageMatrixSelectionTests {
    let now = instant("2026-01-15T12:00:30Z")
    let calendar = QuotaCalendar.pacific

    func request(
        _ limits: Limits = Limits(rpm: 10, tpm: 250_000, rpd: 250),
        cost: Int = 1,
        at now: Date? = nil,
        excluding: Set<Int64> = [],
        paidUse: PaidUse = .never,
        paidLimits: Limits? = nil,
        kind: KeyKind = .gemini
    ) -> SelectionRequest {
        SelectionRequest(
            quotaModel: "gemini-2.5-flash", kind: kind, limits: limits, cost: cost, now: now ?? self.now,
            excluding: excluding, paidUse: paidUse, paidLimits: paidLimits
        )
    }

    @Test func threeKeysWithLimitFiveServeExactlyFiveEach() throws {
        var pool = Pool([testKey(1), testKey(2), testKey(3)])
        let request = self.request(Limits(rpm: 5, tpm: nil, rpd: 100))
        var counts: [Int64: Int] = [:]
        for _ in 0..<15 {
            guard case .key(let key) = pool.select(request) else {
                Issue.record("ran out of headroom early")
                return
            }
            counts[key.id, default: 0] += 1
            pool.reserve(key.id, request)
        }
        #expect(counts == [1: 5, 2: 5, 3: 5])
        #expect(pool.select(request) == .noHeadroom(retryAt: instant("2026-01-15T12:01:00Z")))
        // The next minute opens every row again.
        let nextMinute = self.request(Limits(rpm: 5, tpm: nil, rpd: 100), at: instant("2026-01-15T12:01:00Z"))
        #expect(pool.select(nextMinute) != .noHeadroom(retryAt: nil))
        guard case .key = pool.select(nextMinute) else { throw SelectionFailure() }
    }

    @Test func equalKeysRotate() {
        var pool = Pool((1...4).map { testKey($0) })
        let counts = pool.tally(self.request(), times: 300)
        #expect(counts.keys.sorted() == [1, 2, 3, 4])
        for (_, count) in counts { #expect((50...100).contains(count), "\(counts)") }
    }

    @Test func sameSeedSameChoices() {
        var first = Pool((1...5).map { testKey($0) })
        var second = Pool((5...5).map { testKey($0) } + (1...4).map { testKey($0) })
        let a = (0..<50).map { _ in first.select(self.request()) }
        let b = (0..<50).map { _ in second.select(self.request()) }
        #expect(a == b)
    }

    @Test func keyWithMoreHeadroomIsPreferredMostOfTheTime() {
        var pool = Pool([testKey(1), testKey(2), testKey(3)])
        pool.use(2, rpm: 8, at: self.now)
        pool.use(3, rpm: 8, at: self.now)
        let counts = pool.tally(self.request(), times: 300)
        #expect(counts[1, default: 0] > 150, "\(counts)")
    }

    @Test func betterOfTwoAlwaysWinsBetweenTwoAndTokensComeFirst() {
        var pool = Pool([testKey(1), testKey(2)])
        pool.use(1, rpm: 9, tpm: 0, at: self.now)  // 1 request left, all tokens
        pool.use(2, rpm: 0, tpm: 1_000, at: self.now)  // 10 requests left, fewer tokens
        #expect(pool.tally(self.request(), times: 50) == [1: 50])
    }

    @Test func onlyCandidatesWithHeadroom() {
        var pool = Pool([testKey(1), testKey(2), testKey(3), testKey(4)])
        pool.use(1, rpm: 10, at: self.now)
        pool.use(2, tpm: 250_000, at: self.now)
        pool.use(3, rpd: 250, at: self.now)
        #expect(pool.tally(self.request(), times: 40) == [4: 40])
    }

    @Test func closedWindowsCountAsZero() {
        var pool = Pool([testKey(1)])
        pool.use(1, rpm: 10, tpm: 250_000, rpd: 10, at: instant("2026-01-15T11:59:59Z"))
        #expect(pool.select(self.request()) == .key(testKey(1)))
        pool.use(1, rpd: 250, at: instant("2026-01-15T07:59:59Z"))  // yesterday, Pacific
        #expect(pool.select(self.request()) == .key(testKey(1)))
    }

    @Test func requestLimitsOverrideStoredLimits() {
        var pool = Pool([testKey(1)])
        pool.use(1, rpm: 3, at: self.now)  // stored limits: unlimited
        #expect(pool.select(self.request(Limits(rpm: 3))) == .noHeadroom(retryAt: instant("2026-01-15T12:01:00Z")))
    }

    @Test func costMustFitRequestsPerMinuteAndPerDay() {
        var pool = Pool([testKey(1)])
        pool.use(1, rpm: 7, at: self.now)
        #expect(pool.select(self.request(cost: 3)) == .key(testKey(1)))
        #expect(pool.select(self.request(cost: 4)) == .noHeadroom(retryAt: instant("2026-01-15T12:01:00Z")))
        // A cost above the limit itself never fits: there is no instant to wait for.
        #expect(pool.select(self.request(cost: 11)) == .noHeadroom(retryAt: nil))
    }

    @Test func exhaustedRowsAreSkippedUntilTheirInstant() {
        var pool = Pool([testKey(1)])
        let until = instant("2026-01-15T12:00:45Z")
        pool.use(1, exhaustedUntil: until, at: self.now)
        #expect(pool.select(self.request()) == .noHeadroom(retryAt: until))
        #expect(pool.select(self.request(at: instant("2026-01-15T12:00:44.9Z"))) == .noHeadroom(retryAt: until))
        #expect(pool.select(self.request(at: until)) == .key(testKey(1)))
    }

    @Test func inactiveKeysAreNeverChosen() {
        var pool = Pool([testKey(1, isActive: false), testKey(2)])
        #expect(pool.tally(self.request(), times: 30) == [2: 30])
        pool.matrix.updateKey(testKey(2, isActive: false))
        #expect(pool.select(self.request()) == .noActiveKey)
    }

    @Test func keysOfTheOtherKindAreNeverChosen() {
        var pool = Pool([testKey(1, kind: .vertex), testKey(2)])
        #expect(pool.tally(self.request(kind: .vertex), times: 20) == [1: 20])
        pool.matrix.setKeys([testKey(1, kind: .vertex)])
        #expect(pool.select(self.request()) == .noActiveKey)
    }

    @Test func excludedKeysAreNeverChosen() {
        var pool = Pool([testKey(1), testKey(2), testKey(3)])
        #expect(pool.tally(self.request(excluding: [1, 3]), times: 30) == [2: 30])
        #expect(pool.select(self.request(excluding: [1, 2, 3])) == .noHeadroom(retryAt: nil))
    }

    @Test func emptyPoolHasNoActiveKey() {
        var pool = Pool([])
        #expect(pool.select(self.request()) == .noActiveKey)
        #expect(pool.matrix.earliestRelief(for: self.request()) == nil)
    }

    // MARK: - Paid key

    @Test func paidKeyIsNoCandidateByDefault() {
        var pool = Pool([testKey(1), testKey(9, isPaid: true)])
        #expect(pool.tally(self.request(), times: 20) == [1: 20])
        pool.use(1, rpm: 10, at: self.now)
        #expect(pool.select(self.request()) == .noHeadroom(retryAt: instant("2026-01-15T12:01:00Z")))
        pool.matrix.setKeys([testKey(9, isPaid: true)])
        #expect(pool.select(self.request()) == .noActiveKey)
    }

    @Test func preferredPaidKeyComesFirstThenFreeKeys() {
        var pool = Pool([testKey(1), testKey(2), testKey(9, isPaid: true)])
        #expect(pool.tally(self.request(paidUse: .preferred), times: 20) == [9: 20])
        pool.use(9, exhaustedUntil: instant("2026-01-15T12:10:00Z"), at: self.now)
        let counts = pool.tally(self.request(paidUse: .preferred), times: 20)
        #expect(counts[9] == nil && counts.values.reduce(0, +) == 20)
    }

    @Test func paidFallbackServesOnlyWhatTheFreePoolCannot() {
        var pool = Pool([testKey(1), testKey(9, isPaid: true)])
        #expect(pool.tally(self.request(paidUse: .fallback), times: 20) == [1: 20])
        pool.use(1, rpd: 250, at: self.now)
        #expect(pool.select(self.request(paidUse: .fallback)) == .key(testKey(9, isPaid: true)))
    }

    @Test func paidLimitsApplyToPaidKeys() {
        var pool = Pool([testKey(9, isPaid: true)])
        pool.use(9, rpm: 10, at: self.now)
        let paidTier = Limits(rpm: 1_000, tpm: 1_000_000, rpd: 10_000)
        #expect(pool.select(self.request(paidUse: .preferred, paidLimits: paidTier)) == .key(testKey(9, isPaid: true)))
        #expect(pool.select(self.request(paidUse: .preferred)) == .noHeadroom(retryAt: instant("2026-01-15T12:01:00Z")))
    }

    // MARK: - Earliest relief

    @Test func reliefIsTheEarliestInstantAnyKeyCouldServe() {
        var pool = Pool([testKey(1), testKey(2), testKey(3)])
        pool.use(1, rpd: 250, at: self.now)  // blocked until the end of the quota day
        pool.use(2, exhaustedUntil: instant("2026-01-15T12:03:00Z"), at: self.now)
        pool.use(3, tpm: 250_000, at: self.now)  // blocked until the end of the minute
        #expect(pool.select(self.request()) == .noHeadroom(retryAt: instant("2026-01-15T12:01:00Z")))

        pool.matrix.setKeys([testKey(1), testKey(2)])
        #expect(pool.matrix.earliestRelief(for: self.request()) == instant("2026-01-15T12:03:00Z"))
        pool.matrix.setKeys([testKey(1)])
        #expect(pool.matrix.earliestRelief(for: self.request()) == instant("2026-01-16T08:00:00Z"))
    }

    @Test func reliefTakesTheLaterOfExhaustionAndTheBlockingWindow() {
        var pool = Pool([testKey(1)])
        pool.use(1, rpd: 250, exhaustedUntil: instant("2026-01-15T12:00:40Z"), at: self.now)
        #expect(pool.matrix.earliestRelief(for: self.request()) == instant("2026-01-16T08:00:00Z"))
        // A mark past the day's end outlasts the daily counter.
        pool.use(1, rpd: 250, exhaustedUntil: instant("2026-01-16T09:00:00Z"), at: self.now)
        #expect(pool.matrix.earliestRelief(for: self.request()) == instant("2026-01-16T09:00:00Z"))
    }

    @Test func reliefIsNowForAKeyWithHeadroomAndIgnoresExcludedKeys() {
        var pool = Pool([testKey(1), testKey(2)])
        pool.use(2, rpm: 10, at: self.now)
        #expect(pool.matrix.earliestRelief(for: self.request()) == self.now)
        #expect(pool.matrix.earliestRelief(for: self.request(excluding: [1])) == instant("2026-01-15T12:01:00Z"))
    }

    // MARK: - Cycling

    @Test func cyclingGoesRoundRobinInIdOrder() {
        var pool = Pool([testKey(3), testKey(1), testKey(2)])
        let order = (0..<7).compactMap { _ in pool.matrix.nextCycling(self.request())?.id }
        #expect(order == [1, 2, 3, 1, 2, 3, 1])
    }

    @Test func cyclingIgnoresCountersButSkipsExhaustedExcludedAndInactiveKeys() {
        var pool = Pool([testKey(1), testKey(2), testKey(3), testKey(4, isActive: false), testKey(5)])
        pool.use(1, rpm: 10, rpd: 250, at: self.now)
        pool.use(2, exhaustedUntil: instant("2026-01-15T12:05:00Z"), at: self.now)
        let order = (0..<5).compactMap { _ in pool.matrix.nextCycling(self.request(excluding: [5]))?.id }
        #expect(order == [1, 3, 1, 3, 1])
        pool.use(1, exhaustedUntil: instant("2026-01-15T12:05:00Z"), at: self.now)
        pool.use(3, exhaustedUntil: instant("2026-01-15T12:05:00Z"), at: self.now)
        #expect(pool.matrix.nextCycling(self.request(excluding: [5])) == nil)
    }

    @Test func cyclingKeepsOneCursorPerModelAndKind() {
        var pool = Pool([testKey(1), testKey(2), testKey(7, kind: .vertex), testKey(8, kind: .vertex)])
        let flash = self.request()
        var pro = flash
        pro.quotaModel = "gemini-2.5-pro"
        #expect(pool.matrix.nextCycling(flash)?.id == 1)
        #expect(pool.matrix.nextCycling(pro)?.id == 1)
        #expect(pool.matrix.nextCycling(self.request(kind: .vertex))?.id == 7)
        #expect(pool.matrix.nextCycling(flash)?.id == 2)
        #expect(pool.matrix.nextCycling(self.request(kind: .vertex))?.id == 8)
        // A key that joins between turns takes its place in id order.
        pool.matrix.updateKey(testKey(3))
        #expect(pool.matrix.nextCycling(flash)?.id == 3)
        #expect(pool.matrix.nextCycling(flash)?.id == 1)
    }

    @Test func cyclingFollowsThePaidRule() {
        var pool = Pool([testKey(1), testKey(9, isPaid: true)])
        #expect((0..<3).compactMap { _ in pool.matrix.nextCycling(self.request())?.id } == [1, 1, 1])
        #expect(pool.matrix.nextCycling(self.request(paidUse: .preferred))?.id == 9)
        #expect(pool.matrix.nextCycling(self.request(paidUse: .fallback))?.id == 1)
    }

    @Test func nestedSpellingsNameTheSameTypes() {
        let request: UsageMatrix.SelectionRequest = self.request()
        let answer: UsageMatrix.Selection = .noActiveKey
        let paid: UsageMatrix.PaidUse = .fallback
        #expect(request.cost == 1 && answer == Selection.noActiveKey && paid == PaidUse.fallback)
        let defaults = SelectionRequest(quotaModel: "m", kind: .gemini, limits: .unlimited, now: self.now)
        #expect(defaults.cost == 1 && defaults.excluding.isEmpty)
        #expect(defaults.paidUse == .never && defaults.paidLimits == nil)
    }
}

private struct SelectionFailure: Error {}
