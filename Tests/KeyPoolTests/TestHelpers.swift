import Foundation
import KeyPool

/// A small seeded generator (SplitMix64) so selection tests are deterministic.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = self.state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}

/// An instant from an ISO 8601 UTC text such as `2026-03-08T10:00:00Z` (fractions allowed).
func instant(_ text: String) -> Date {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions =
        text.contains(".") ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
    guard let date = formatter.date(from: text) else { preconditionFailure("bad test instant \(text)") }
    return date
}

/// A fake key with a recognisable, non-secret shape.
func testKey(_ id: Int64, kind: KeyKind = .gemini, isActive: Bool = true, isPaid: Bool = false) -> KeyRecord {
    let digits = String(id)
    let secret = "AIzaSyTEST" + String(repeating: "0", count: 29 - digits.count) + digits
    return KeyRecord(id: id, kind: kind, secret: APIKey(secret)!, isActive: isActive, isPaid: isPaid)
}

extension String {
    var bytes: [UInt8] { Array(self.utf8) }
}
