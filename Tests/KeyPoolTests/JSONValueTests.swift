import KeyPool
import Testing

@Suite struct JSONValueTests {
    @Test func keepsMembersInSourceOrder() throws {
        let value = try JSONValue.parse(#"{"zeta": 1, "alpha": {"b": true, "a": null}, "mid": [1, "x"]}"#)
        #expect(value.objectMembers?.map(\.0) == ["zeta", "alpha", "mid"])
        #expect(value["alpha"]?.objectMembers?.map(\.0) == ["b", "a"])
        #expect(value.serialized == #"{"zeta":1,"alpha":{"b":true,"a":null},"mid":[1,"x"]}"#)
    }

    @Test(
        "round trips",
        arguments: [
            #"{}"#, #"[]"#, #"null"#, #"true"#, #"false"#, #"0"#, #"-0"#, #"12345678901234567890"#,
            #"1.5e-3"#, #"-2.25E+10"#, #""""#, #""a\"b\\c\nd\u0001""#,
            #"{"a":[1,2,{"b":[]}],"c":"é😀","d":{"e":null}}"#,
            #"[{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"37s"}]}}]"#,
        ]
    )
    func roundTrips(text: String) throws {
        let value = try JSONValue.parse(text)
        #expect(value.serialized == text)
        #expect(try JSONValue.parse(value.serialized) == value)
        #expect(try JSONValue.parse(value.serializedBytes) == value)
    }

    @Test func numbersKeepTheirText() throws {
        let big = try JSONValue.parse("12345678901234567890")
        #expect(big == .number("12345678901234567890"))
        #expect(big.intValue == nil)
        #expect(try JSONValue.parse("2.0").intValue == 2)
        #expect(try JSONValue.parse("2.5").intValue == nil)
        #expect(try JSONValue.parse("2.5").doubleValue == 2.5)
        #expect(JSONValue.number("1.0") == JSONValue.number("1"))
    }

    @Test func decodesEscapes() throws {
        let value = try JSONValue.parse(#""\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#)
        #expect(value.stringValue == "\"\\/\u{8}\u{C}\n\r\té😀")
        #expect(JSONValue.quoted("\u{8}\u{1F}\t") == #""\u0008\u001f\t""#)
    }

    @Test(
        "lone surrogates become U+FFFD without eating what follows",
        arguments: [
            (#""\ud800""#, "\u{FFFD}"), (#""\udc00x""#, "\u{FFFD}x"), (#""\ud800\u0041""#, "\u{FFFD}A"),
            (#""\ud800\ud83d\ude00""#, "\u{FFFD}😀"),
        ]
    )
    func loneSurrogates(text: String, expected: String) throws {
        #expect(try JSONValue.parse(text).stringValue == expected)
    }

    @Test(
        "rejects malformed input",
        arguments: [
            "", " ", "{", "}", "[1,]", "[1 2]", #"{"a" 1}"#, #"{"a":1,}"#, "{1:2}", "'a'", "tru", "nul", #""abc"#,
            "\"a\u{1}b\"", #""\x""#, #""\u12g4""#, "[1] x", "01", "1.", ".5", "+1", "1e", "-", "NaN", "Infinity",
            "[", #"{"a":"#,
        ]
    )
    func rejectsMalformedInput(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
    }

    @Test func refusesDepthBombs() throws {
        let deepArrays = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deepArrays) }
        let deepObjects = String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deepObjects) }
        let fine = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(try JSONValue.parse(fine).arrayValue?.count == 1)
    }

    @Test func errorNamesTheOffset() {
        do {
            _ = try JSONValue.parse("[1, ?]")
            Issue.record("expected a parse error")
        } catch {
            #expect(error.offset == 4)
            #expect(error.description.hasPrefix("invalid JSON at byte 4"))
        }
    }

    @Test func subscriptTakesTheLastDuplicateAndSettingReplacesInPlace() throws {
        let value = try JSONValue.parse(#"{"a":1,"b":2,"a":3}"#)
        #expect(value["a"] == 3)
        #expect(value["missing"] == nil)
        #expect(JSONValue.array([])["a"] == nil)
        let changed = (try JSONValue.parse(#"{"a":1,"b":2}"#)).setting("a", to: "x").setting("c", to: nil)
        #expect(changed.serialized == #"{"a":"x","b":2,"c":null}"#)
    }

    @Test func literalsBuildValues() {
        let value: JSONValue = ["name": "k", "n": 3, "ok": true, "list": [1, nil]]
        #expect(value.serialized == #"{"name":"k","n":3,"ok":true,"list":[1,null]}"#)
        #expect(JSONValue(42).intValue == 42)
        #expect(JSONValue.null.isNull)
        #expect(JSONValue.bool(false).boolValue == false)
    }
}
