import Foundation
import KeyPool
import Synchronization

/// A `WallClock` that stands still until a test moves it, so window arithmetic is tested without
/// sleeps. Safe to share between tasks: the instant sits behind a `Mutex`.
public final class ManualClock: WallClock {
    private let current: Mutex<Date>

    /// A clock reading `start`; default 2026-01-15 12:00:00 UTC (a Thursday, far from DST).
    public init(_ start: Date = Date(timeIntervalSince1970: 1_768_478_400)) {
        self.current = Mutex(start)
    }

    /// The instant the clock reads.
    public func now() -> Date {
        self.current.withLock { $0 }
    }

    /// Moves the clock forward (or back, for a negative value) by `seconds`.
    public func advance(by seconds: TimeInterval) {
        self.current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// Moves the clock forward (or back) by `duration`.
    public func advance(by duration: Duration) {
        let parts = duration.components
        self.advance(by: TimeInterval(parts.seconds) + TimeInterval(parts.attoseconds) / 1e18)
    }

    /// Sets the clock to `date`.
    public func set(_ date: Date) {
        self.current.withLock { $0 = date }
    }
}
