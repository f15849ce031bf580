import Logging
import Synchronization

/// Keeps every formatted log line in memory, so tests can assert what was (and was not) logged.
public final class CapturingLogHandler: LogHandler {
    private let lines = Mutex<[String]>([])

    public init() {}

    public func emit(_ record: LogRecord) {
        let line = record.formatted
        self.lines.withLock { $0.append(line) }
    }

    /// Every line logged so far.
    public var captured: [String] { self.lines.withLock { $0 } }

    /// A logger at `level` that writes here.
    public func logger(label: String = "test", level: Logger.Level = .trace) -> Logger {
        Logger(label: label, level: level, handler: self)
    }
}
