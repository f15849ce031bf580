import Foundation

/// The instance's local cache of the usage matrix (DESIGN.md §3): the keys with their health and
/// the rows the store last reported. Selection reads only this cache; the store's conditional
/// reservation is what enforces limits, so a stale cache costs at most a refused reservation.
///
/// A value type with no I/O and no clock: every time-dependent call takes `now` from its request.
public struct UsageMatrix: Sendable {
    /// Window arithmetic for every row (UTC minutes, quota days).
    public let calendar: QuotaCalendar
    /// Every known key by id, active or not.
    public private(set) var keys: [Int64: KeyRecord]
    private var rowsByID: [UsageRowID: UsageRow]
    /// The key served last by `nextCycling`, per (model, kind).
    private var cycleCursors: [CycleCursor: Int64]

    /// An empty matrix: no keys, no rows.
    public init(calendar: QuotaCalendar) {
        self.calendar = calendar
        self.keys = [:]
        self.rowsByID = [:]
        self.cycleCursors = [:]
    }

    // MARK: - Keys

    /// Replaces the key set. Rows of keys that are no longer present are dropped with them.
    public mutating func setKeys(_ keys: [KeyRecord]) {
        var byID: [Int64: KeyRecord] = [:]
        for key in keys { byID[key.id] = key }
        self.keys = byID
        self.rowsByID = self.rowsByID.filter { byID[$0.key.keyID] != nil }
    }

    /// Inserts or replaces one key (after a deactivation, a reactivation or a new key).
    public mutating func updateKey(_ key: KeyRecord) {
        self.keys[key.id] = key
    }

    // MARK: - Rows

    /// Inserts or replaces one row, as the store reported it. A row whose windows are older than
    /// the cached one's (a late answer overtaken by a newer one) does not replace it; only a later
    /// `exhaustedUntil` it carries is kept, since the store never shortens such a mark.
    public mutating func apply(_ row: UsageRow) {
        guard let cached = self.rowsByID[row.id] else {
            self.rowsByID[row.id] = row
            return
        }
        if row.minuteStart < cached.minuteStart || row.dayStart < cached.dayStart {
            var kept = cached
            if let until = row.exhaustedUntil, until > (cached.exhaustedUntil ?? .distantPast) {
                kept.exhaustedUntil = until
            }
            self.rowsByID[row.id] = kept
            return
        }
        self.rowsByID[row.id] = row
    }

    /// Replaces the cached rows with a full snapshot from the store. Rows missing from the
    /// snapshot are dropped (they read as fresh rows); each row present goes through `apply`, so a
    /// snapshot read before a newer reservation answer cannot move a row back in time.
    public mutating func replaceRows(_ rows: [UsageRow]) {
        let present = Set(rows.map(\.id))
        self.rowsByID = self.rowsByID.filter { present.contains($0.key) }
        for row in rows { self.apply(row) }
    }

    /// The cached row, or nil when the store has not reported one (it then reads as fresh).
    public func row(_ id: UsageRowID) -> UsageRow? {
        self.rowsByID[id]
    }

    /// Every cached row, ordered by model and key id.
    public var rows: [UsageRow] {
        self.rowsByID.values.sorted { ($0.id.model, $0.id.keyID) < ($1.id.model, $1.id.keyID) }
    }

    // MARK: - Selection

    /// Chooses a key for `request` (DESIGN.md §3). Candidates are active keys of the kind, not in
    /// `excluding`, whose row is not exhausted at `now` and whose window-aware headroom admits the
    /// cost (`rpm_left ≥ cost`, `rpd_left ≥ cost`, `tpm_left ≥ 1`); a key without a row has full
    /// headroom. Paid keys take part as `paidUse` says. Among the candidates of the first group
    /// that has any, the better of two random picks wins (most `tpm_left`, then `rpm_left`, then
    /// `rpd_left`; unlimited counts as most), so equal keys rotate and the instances of a fleet
    /// spread over the rows. Deterministic for a given `rng` state.
    public func select(_ request: SelectionRequest, using rng: inout some RandomNumberGenerator) -> Selection {
        let eligible = self.eligibleKeys(for: request)
        guard !eligible.isEmpty else { return .noActiveKey }
        let untried = eligible.filter { !request.excluding.contains($0.id) }
        guard !untried.isEmpty else { return .noHeadroom(retryAt: nil) }

        var candidates: [Candidate] = []
        for key in untried {
            let row = self.effectiveRow(for: key, request: request)
            guard !row.isExhausted(at: request.now) else { continue }
            let headroom = row.headroom(at: request.now, calendar: self.calendar)
            guard headroom.admits(cost: request.admissionCost) else { continue }
            candidates.append(Candidate(key: key, headroom: headroom))
        }

        for paid in request.paidOrder {
            let group = candidates.filter { $0.key.isPaid == paid }
            if !group.isEmpty {
                return .key(Self.betterOfTwo(group, using: &rng).key)
            }
        }
        return .noHeadroom(retryAt: self.earliestRelief(for: request))
    }

    /// The `cycle` policy's fallback when `select` found no headroom: the next key, round-robin
    /// per (model, kind) in id order, among active keys of the kind that are not in `excluding`
    /// and not under `exhaustedUntil`, ignoring counters (the upstream is the judge). Paid keys
    /// take part as `paidUse` says, in the same group order as `select`. Nil when none is left.
    public mutating func nextCycling(_ request: SelectionRequest) -> KeyRecord? {
        let usable = self.eligibleKeys(for: request).filter { key in
            !request.excluding.contains(key.id)
                && !self.effectiveRow(for: key, request: request).isExhausted(at: request.now)
        }
        let cursor = CycleCursor(model: request.quotaModel, kind: request.kind)
        for paid in request.paidOrder {
            let group = usable.filter { $0.isPaid == paid }
            guard let first = group.first else { continue }
            let next: KeyRecord
            if let last = self.cycleCursors[cursor], let after = group.first(where: { $0.id > last }) {
                next = after
            } else {
                next = first
            }
            self.cycleCursors[cursor] = next.id
            return next
        }
        return nil
    }

    /// The earliest instant at which some active key of the kind (outside `excluding`, paid keys
    /// as `paidUse` allows) could serve `request` again: now for a key with headroom; otherwise
    /// the later of its `exhaustedUntil` and the end of the blocking window (the minute for rpm
    /// or tpm, the quota day for rpd). Nil when no such key exists or none will ever admit the
    /// cost (a limit below it). For `Retry-After`.
    public func earliestRelief(for request: SelectionRequest) -> Date? {
        var earliest: Date?
        for key in self.eligibleKeys(for: request) where !request.excluding.contains(key.id) {
            guard let relief = self.relief(of: key, request: request) else { continue }
            if earliest.map({ relief < $0 }) ?? true { earliest = relief }
        }
        return earliest
    }

    // MARK: - Internals

    /// Active keys of the request's kind that its paid rule allows, in id order (so that a seeded
    /// generator gives the same choice every run, whatever the dictionary's order).
    private func eligibleKeys(for request: SelectionRequest) -> [KeyRecord] {
        self.keys.values
            .filter { key in
                key.isActive && key.kind == request.kind && (request.paidUse != .never || !key.isPaid)
            }
            .sorted { $0.id < $1.id }
    }

    /// The key's row with the request's limits, or a fresh row (full headroom) when none is cached.
    private func effectiveRow(for key: KeyRecord, request: SelectionRequest) -> UsageRow {
        let id = UsageRowID(model: request.quotaModel, keyID: key.id)
        let limits = request.limits(for: key)
        guard var row = self.rowsByID[id] else {
            return UsageRow.fresh(id, limits: limits, now: request.now, calendar: self.calendar)
        }
        row.limits = limits
        return row
    }

    private func relief(of key: KeyRecord, request: SelectionRequest) -> Date? {
        let row = self.effectiveRow(for: key, request: request)
        let cost = request.admissionCost
        let limits = row.limits
        // A limit below the cost never admits it, whatever the window.
        if let rpm = limits.rpm, rpm < cost { return nil }
        if let rpd = limits.rpd, rpd < cost { return nil }
        if let tpm = limits.tpm, tpm < 1 { return nil }

        // Counters are judged when the exhaustion mark lifts: windows that close before then are empty.
        let start = max(request.now, row.exhaustedUntil ?? request.now)
        let headroom = row.headroom(at: start, calendar: self.calendar)
        var relief = start
        if (headroom.rpd ?? Int.max) < cost {
            relief = max(relief, self.calendar.dayEnd(of: start))
        }
        if (headroom.rpm ?? Int.max) < cost || (headroom.tpm ?? Int.max) < 1 {
            relief = max(relief, self.calendar.minuteEnd(of: start))
        }
        return relief
    }

    private static func betterOfTwo(
        _ group: [Candidate],
        using rng: inout some RandomNumberGenerator
    ) -> Candidate {
        guard group.count > 1 else { return group[0] }
        let first = Int.random(in: 0..<group.count, using: &rng)
        // Two distinct picks: with two keys the better one always wins.
        var second = Int.random(in: 0..<(group.count - 1), using: &rng)
        if second >= first { second += 1 }
        return group[second].rank > group[first].rank ? group[second] : group[first]
    }
}

/// One key that can serve a request, with what it has left.
private struct Candidate {
    var key: KeyRecord
    var headroom: Headroom

    /// Headroom as a comparable triple: tokens, then requests per minute, then per day.
    var rank: (Int, Int, Int) {
        (self.headroom.tpm ?? Int.max, self.headroom.rpm ?? Int.max, self.headroom.rpd ?? Int.max)
    }
}

/// The round-robin position of the `cycle` policy is kept per model and key kind.
private struct CycleCursor: Hashable, Sendable {
    var model: String
    var kind: KeyKind
}
