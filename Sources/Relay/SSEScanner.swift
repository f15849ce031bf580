/// Splits a server-sent-event byte stream into whole events as bytes arrive, however the
/// network cut them. Events end at a blank line (`\r\n\r\n`, `\n\n` or `\r\r`); each event keeps
/// its original bytes, separator included, so relaying it changes nothing.
struct SSEScanner: Sendable {
    struct Event: Sendable, Equatable {
        /// The event as it arrived, separator included.
        var raw: [UInt8]
        /// The `data:` lines' values joined with `\n` (one leading space stripped, per the SSE spec).
        var data: [UInt8]
    }

    private var buffer: [UInt8] = []
    private var searchFrom = 0

    /// Adds `bytes` and returns every event they complete.
    mutating func feed(_ bytes: [UInt8]) -> [Event] {
        self.buffer.append(contentsOf: bytes)
        var events: [Event] = []
        var start = 0
        var index = max(0, self.searchFrom - 3)
        let count = self.buffer.count
        while index < count {
            let byte = self.buffer[index]
            var end: Int? = nil
            if byte == 0x0A, index + 1 < count, self.buffer[index + 1] == 0x0A {
                end = index + 2
            } else if byte == 0x0D, index + 1 < count {
                if self.buffer[index + 1] == 0x0D {
                    end = index + 2
                } else if index + 3 < count, self.buffer[index + 1] == 0x0A, self.buffer[index + 2] == 0x0D,
                    self.buffer[index + 3] == 0x0A
                {
                    end = index + 4
                } else if index + 3 >= count && self.buffer[index + 1] == 0x0A {
                    // `\r\n` at the end of the buffer may be the start of `\r\n\r\n`; wait for more.
                    break
                }
            }
            if let end, index >= start {
                let raw = Array(self.buffer[start..<end])
                events.append(Event(raw: raw, data: Self.dataField(of: raw)))
                start = end
                index = end
            } else {
                index += 1
            }
        }
        if start > 0 { self.buffer.removeFirst(start) }
        self.searchFrom = self.buffer.count
        return events
    }

    /// Bytes of an unfinished event left at the end of the stream.
    mutating func remainder() -> [UInt8] {
        defer {
            self.buffer = []
            self.searchFrom = 0
        }
        return self.buffer
    }

    static func dataField(of raw: [UInt8]) -> [UInt8] {
        var data: [UInt8] = []
        var isFirst = true
        for line in raw.split(omittingEmptySubsequences: true, whereSeparator: { $0 == 0x0A || $0 == 0x0D }) {
            guard line.starts(with: Array("data:".utf8)) else { continue }
            var value = line.dropFirst(5)
            if value.first == 0x20 { value = value.dropFirst() }
            if !isFirst { data.append(0x0A) }
            data.append(contentsOf: value)
            isFirst = false
        }
        return data
    }
}

extension Array where Element == UInt8 {
    /// True when the bytes, after leading whitespace, start a JSON object whose first member is `error`.
    var startsWithErrorObject: Bool {
        var index = 0
        func skipSpace() {
            while index < self.count, [0x20, 0x09, 0x0A, 0x0D].contains(self[index]) { index += 1 }
        }
        skipSpace()
        if index < self.count, self[index] == UInt8(ascii: "[") {
            index += 1
            skipSpace()
        }
        guard index < self.count, self[index] == UInt8(ascii: "{") else { return false }
        index += 1
        skipSpace()
        let key = Array("\"error\"".utf8)
        return index + key.count <= self.count && Array(self[index..<index + key.count]) == key
    }

    /// True when `needle` occurs in the bytes.
    func contains(bytes needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= self.count else { return needle.isEmpty }
        let first = needle[0]
        var index = 0
        while index <= self.count - needle.count {
            if self[index] == first && Array(self[index..<index + needle.count]) == needle { return true }
            index += 1
        }
        return false
    }
}
