/// Why a JSON text was refused, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, Hashable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "invalid JSON at byte \(self.offset): \(self.reason)" }
}

extension JSONValue {
    /// Nesting deeper than this is refused, so hostile input cannot exhaust the stack.
    public static let maxDepth = 256

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try Self.parse(Array(text.utf8))
    }

    public static func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(bytes: Array(bytes))
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.failure("trailing characters") }
        return value
    }
}

private struct JSONParser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    func failure(_ reason: String) -> JSONParseError { JSONParseError(offset: self.index, reason: reason) }

    mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < JSONValue.maxDepth else { throw self.failure("nesting too deep") }
        self.skipWhitespace()
        guard self.index < self.bytes.count else { throw self.failure("unexpected end") }
        switch self.bytes[self.index] {
        case UInt8(ascii: "{"): return try self.parseObject(depth: depth)
        case UInt8(ascii: "["): return try self.parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try self.parseString())
        case UInt8(ascii: "t"): try self.expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try self.expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try self.expectLiteral("null"); return .null
        default: return try self.parseNumber()
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let expected = UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        guard self.index + expected.count <= self.bytes.count,
            self.bytes[self.index..<self.index + expected.count].elementsEqual(expected)
        else { throw self.failure("invalid literal") }
        self.index += expected.count
    }

    mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        self.index += 1
        var members: [(String, JSONValue)] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "}") {
            self.index += 1
            return .object(members)
        }
        while true {
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\"") else {
                throw self.failure("expected a member name")
            }
            let key = try self.parseString()
            self.skipWhitespace()
            guard self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: ":") else {
                throw self.failure("expected ':'")
            }
            self.index += 1
            members.append((key, try self.parseValue(depth: depth + 1)))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.failure("unexpected end") }
            if self.bytes[self.index] == UInt8(ascii: ",") {
                self.index += 1
            } else if self.bytes[self.index] == UInt8(ascii: "}") {
                self.index += 1
                return .object(members)
            } else {
                throw self.failure("expected ',' or '}'")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        self.index += 1
        var items: [JSONValue] = []
        self.skipWhitespace()
        if self.index < self.bytes.count, self.bytes[self.index] == UInt8(ascii: "]") {
            self.index += 1
            return .array(items)
        }
        while true {
            items.append(try self.parseValue(depth: depth + 1))
            self.skipWhitespace()
            guard self.index < self.bytes.count else { throw self.failure("unexpected end") }
            if self.bytes[self.index] == UInt8(ascii: ",") {
                self.index += 1
            } else if self.bytes[self.index] == UInt8(ascii: "]") {
                self.index += 1
                return .array(items)
            } else {
                throw self.failure("expected ',' or ']'")
            }
        }
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = self.index
        func isNumberByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
        }
        while self.index < self.bytes.count, isNumberByte(self.bytes[self.index]) { self.index += 1 }
        let text = String(decoding: self.bytes[start..<self.index], as: UTF8.self)
        guard !text.isEmpty, Self.isValidNumber(text) else {
            self.index = start
            throw self.failure("invalid value")
        }
        return .number(text)
    }

    /// RFC 8259 number grammar: `-? (0 | [1-9][0-9]*) (\.[0-9]+)? ([eE][+-]?[0-9]+)?`.
    static func isValidNumber(_ text: String) -> Bool {
        var chars = Substring(text)
        if chars.first == "-" { chars.removeFirst() }
        func digits(_ s: inout Substring) -> Int {
            var count = 0
            while let c = s.first, c.isASCII, c.isNumber {
                s.removeFirst()
                count += 1
            }
            return count
        }
        if chars.first == "0" {
            chars.removeFirst()
        } else if digits(&chars) == 0 {
            return false
        }
        if chars.first == "." {
            chars.removeFirst()
            if digits(&chars) == 0 { return false }
        }
        if chars.first == "e" || chars.first == "E" {
            chars.removeFirst()
            if chars.first == "+" || chars.first == "-" { chars.removeFirst() }
            if digits(&chars) == 0 { return false }
        }
        return chars.isEmpty
    }

    mutating func parseString() throws(JSONParseError) -> String {
        self.index += 1
        var scalars = String.UnicodeScalarView()
        var runStart = self.index
        func flushRun(_ parser: JSONParser, upTo end: Int, into scalars: inout String.UnicodeScalarView) {
            if runStart < end {
                scalars.append(contentsOf: String(decoding: parser.bytes[runStart..<end], as: UTF8.self).unicodeScalars)
            }
        }
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                flushRun(self, upTo: self.index, into: &scalars)
                self.index += 1
                return String(scalars)
            }
            if byte < 0x20 { throw self.failure("control character in string") }
            if byte == UInt8(ascii: "\\") {
                flushRun(self, upTo: self.index, into: &scalars)
                self.index += 1
                guard self.index < self.bytes.count else { throw self.failure("unexpected end") }
                let escape = self.bytes[self.index]
                self.index += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"): scalars.append(try self.parseUnicodeEscape())
                default: throw self.failure("invalid escape")
                }
                runStart = self.index
                continue
            }
            self.index += 1
        }
        throw self.failure("unterminated string")
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard self.index + 4 <= self.bytes.count else { throw self.failure("unexpected end") }
        var value: UInt32 = 0
        for byte in self.bytes[self.index..<self.index + 4] {
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: throw self.failure("invalid \\u escape")
            }
            value = value << 4 | digit
        }
        self.index += 4
        return value
    }

    mutating func parseUnicodeEscape() throws(JSONParseError) -> Unicode.Scalar {
        let high = try self.parseHex4()
        if (0xD800...0xDBFF).contains(high) {
            // A surrogate pair; a lone half becomes U+FFFD as most parsers do.
            if self.index + 6 <= self.bytes.count, self.bytes[self.index] == UInt8(ascii: "\\"),
                self.bytes[self.index + 1] == UInt8(ascii: "u")
            {
                let escapeStart = self.index
                self.index += 2
                let low = try self.parseHex4()
                if (0xDC00...0xDFFF).contains(low) {
                    return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)) ?? "\u{FFFD}"
                }
                // Not a low half: the next escape is a character of its own, so leave it to be read next.
                self.index = escapeStart
            }
            return "\u{FFFD}"
        }
        return Unicode.Scalar(high) ?? "\u{FFFD}"
    }
}
