import Foundation

/// The source of "now" for everything that reasons about windows. KeyPool never reads the
/// system clock itself, so tests drive time with a manual clock and no sleeps.
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The real wall clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
