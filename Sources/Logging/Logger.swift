import Foundation

/// A structured logger in swift-log's shape: a label, a minimum level and metadata that is
/// attached once (at the edge of a request) and carried to every line logged through it.
///
/// Output is one line per event: a constant message, then `key=value` pairs with sorted keys.
/// Values that may hold a secret must be fingerprinted by the caller before they get here;
/// `Logger` never sees raw keys (see `APIKey.description`).
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
        case trace, debug, info, notice, warning, error

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .notice: "notice"
            case .warning: "warning"
            case .error: "error"
            }
        }

        /// Parses `trace` … `error`; nil for anything else.
        public init?(name: String) {
            guard let level = Level.allCases.first(where: { $0.description == name.lowercased() }) else {
                return nil
            }
            self = level
        }
    }

    public typealias Metadata = [String: String]

    public let label: String
    public var level: Level
    public var metadata: Metadata
    private let handler: any LogHandler

    public init(label: String, level: Level = .info, handler: any LogHandler = StderrLogHandler()) {
        self.label = label
        self.level = level
        self.metadata = [:]
        self.handler = handler
    }

    /// A logger with the same handler and level, for another component.
    public func named(_ label: String) -> Logger {
        var copy = Logger(label: label, level: self.level, handler: self.handler)
        copy.metadata = self.metadata
        return copy
    }

    /// A copy carrying `extra` on every line (later keys win).
    public func with(_ extra: Metadata) -> Logger {
        var copy = self
        copy.metadata.merge(extra) { _, new in new }
        return copy
    }

    public func log(_ level: Level, _ message: @autoclosure () -> String, _ metadata: Metadata = [:]) {
        guard level >= self.level else { return }
        var merged = self.metadata
        merged.merge(metadata) { _, new in new }
        self.handler.emit(
            LogRecord(date: Date(), level: level, label: self.label, message: message(), metadata: merged)
        )
    }

    public func trace(_ message: @autoclosure () -> String, _ metadata: Metadata = [:]) {
        self.log(.trace, message(), metadata)
    }
    public func debug(_ message: @autoclosure () -> String, _ metadata: Metadata = [:]) {
        self.log(.debug, message(), metadata)
    }
    public func info(_ message: @autoclosure () -> String, _ metadata: Metadata = [:]) {
        self.log(.info, message(), metadata)
    }
    public func notice(_ message: @autoclosure () -> String, _ metadata: Metadata = [:]) {
        self.log(.notice, message(), metadata)
    }
    public func warning(_ message: @autoclosure () -> String, _ metadata: Metadata = [:]) {
        self.log(.warning, message(), metadata)
    }
    public func error(_ message: @autoclosure () -> String, _ metadata: Metadata = [:]) {
        self.log(.error, message(), metadata)
    }

    /// A logger that drops everything, for tests and tools that want silence.
    public static let silent = Logger(label: "silent", level: .error, handler: DiscardingLogHandler())
}

/// One event, before formatting.
public struct LogRecord: Sendable {
    public var date: Date
    public var level: Logger.Level
    public var label: String
    public var message: String
    public var metadata: Logger.Metadata

    /// `2026-08-20T10:04:05Z notice relay: key rate limited key.fingerprint=AIza…1a2B model=…`
    public var formatted: String {
        var line = "\(LogRecord.timestamp(self.date)) \(self.level) \(self.label): \(self.message)"
        for key in self.metadata.keys.sorted() {
            line += " \(key)=\(LogRecord.quoted(self.metadata[key] ?? ""))"
        }
        return line
    }

    static func quoted(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }
        guard needsQuotes else { return value }
        let escaped =
            value
            .replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: "\r", with: "\\r")
        return "\"\(escaped)\""
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false)
                .timeSeparator(.colon).timeZone(separator: .omitted)
        )
    }
}

/// Where formatted log lines go.
public protocol LogHandler: Sendable {
    func emit(_ record: LogRecord)
}

/// Writes one line per event to standard error.
public struct StderrLogHandler: LogHandler {
    public init() {}

    public func emit(_ record: LogRecord) {
        let line = record.formatted + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// Drops every event.
public struct DiscardingLogHandler: LogHandler {
    public init() {}
    public func emit(_ record: LogRecord) {}
}
