import Foundation
import HTTPServer
import KeyPool
import Synchronization
import Testing

@testable import Simulator

/// A wall clock the test moves by hand (the shared ManualClock lives in another target).
final class TestWallClock: WallClock {
    private let current: Mutex<Date>

    init(_ iso: String) {
        self.current = Mutex(TestWallClock.date(iso))
    }

    func now() -> Date { self.current.withLock { $0 } }

    func set(_ iso: String) {
        self.current.withLock { $0 = TestWallClock.date(iso) }
    }

    func advance(seconds: Double) {
        self.current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    static func date(_ iso: String) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: iso) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: iso)!
    }
}

/// Fake keys shaped like real ones; they are not secrets.
enum TestKeys {
    static let first = "AIzaSyTESTkey000000000000000000000000001"
    static let second = "AIzaSyTESTkey000000000000000000000000002"
    static let third = "AIzaSyTESTkey000000000000000000000000003"
    static let unknown = "AIzaSyUNKNOWNkey0000000000000000000000009"

    static func options(_ raw: [String] = [Self.first, Self.second]) -> SimulatorOptions {
        var options = SimulatorOptions(keys: raw.compactMap(APIKey.init))
        options.seed = 7
        return options
    }
}

/// A generate body with one user turn.
func generateBody(_ text: String, extra: String = "") -> [UInt8] {
    Array("{\"contents\": [{\"role\": \"user\", \"parts\": [{\"text\": \(JSONValue.quoted(text))}]}]\(extra)}".utf8)
}

/// A POST to a Gemini API model method with the key in `x-goog-api-key`.
func modelRequest(
    _ model: String = "gemini-2.5-flash",
    _ method: String = "generateContent",
    key: String? = TestKeys.first,
    query: [(name: String, value: String)] = [],
    body: [UInt8] = generateBody("Hello there, simulator")
) -> HTTPRequest {
    var headers: HTTPHeaders = ["content-type": "application/json"]
    if let key { headers.add("x-goog-api-key", key) }
    return HTTPRequest(
        method: "POST",
        path: "/v1beta/models/\(model):\(method)",
        query: query,
        headers: headers,
        body: body
    )
}

func parse(_ response: SimulatorResponse) throws -> JSONValue {
    try JSONValue.parse(response.allBytes)
}

func text(_ response: SimulatorResponse) -> String {
    String(decoding: response.allBytes, as: UTF8.self)
}

/// The violations of a 429 body.
func violations(_ body: JSONValue) -> [JSONValue] {
    let details = body["error"]?["details"]?.arrayValue ?? []
    let failure = details.first { $0["@type"]?.stringValue == "type.googleapis.com/google.rpc.QuotaFailure" }
    return failure?["violations"]?.arrayValue ?? []
}

/// The `@type` detail of an error body.
func detail(_ body: JSONValue, _ type: String) -> JSONValue? {
    body["error"]?["details"]?.arrayValue?.first {
        $0["@type"]?.stringValue == "type.googleapis.com/google.rpc.\(type)"
    }
}

/// The stream plan of a streamed answer.
func plan(_ response: SimulatorResponse) throws -> StreamPlan {
    guard case .stream(let plan) = response.body else {
        Issue.record("expected a streamed answer, got status \(response.status)")
        throw StreamExpected()
    }
    return plan
}

struct StreamExpected: Error {}

/// Every write a stream makes, in order.
func collectFrames(_ plan: StreamPlan) async throws -> [String] {
    let frames = Mutex<[String]>([])
    try await plan.write { bytes in frames.withLock { $0.append(String(decoding: bytes, as: UTF8.self)) } }
    return frames.withLock { $0 }
}

/// The JSON payload of one SSE frame `data: {…}\r\n\r\n` (Swift treats CRLF as one Character,
/// so this works on bytes).
func ssePayload(_ frame: String) throws -> JSONValue {
    let bytes = Array(frame.utf8)
    try #require(bytes.starts(with: Array("data: ".utf8)) && bytes.suffix(4) == [13, 10, 13, 10])
    return try JSONValue.parse(bytes.dropFirst(6).dropLast(4))
}

/// A request to Gemini's OpenAI-compatible endpoint with the key as a bearer token.
func openAIRequest(
    _ method: String = "POST",
    _ endpoint: String = "chat/completions",
    key: String? = TestKeys.first,
    body: String = ""
) -> HTTPRequest {
    var headers: HTTPHeaders = ["content-type": "application/json"]
    if let key { headers.add("authorization", "Bearer \(key)") }
    return HTTPRequest(method: method, path: "/v1beta/openai/\(endpoint)", headers: headers, body: Array(body.utf8))
}

/// A `chat/completions` body with one user message and `extra` top-level members.
func chatBody(_ text: String, model: String = "gemini-2.5-flash", extra: String = "") -> String {
    "{\"model\": \"\(model)\", \"messages\": [{\"role\": \"user\", \"content\": \(JSONValue.quoted(text))}]\(extra)}"
}

/// The JSON payload of one OpenAI-style frame `data: {…}\n\n`.
func openAIPayload(_ frame: String) throws -> JSONValue {
    let bytes = Array(frame.utf8)
    try #require(bytes.starts(with: Array("data: ".utf8)) && bytes.suffix(2) == [10, 10])
    return try JSONValue.parse(bytes.dropFirst(6).dropLast(2))
}

/// The member names of a JSON object, in the order sent.
func memberNames(_ value: JSONValue?) -> [String] {
    value?.objectMembers?.map(\.0) ?? []
}

/// A request on a Vertex AI Express path.
func vertexRequest(
    _ method: String = "generateContent",
    version: String = "v1beta1",
    key: String,
    query: [(name: String, value: String)] = [],
    body: [UInt8] = generateBody("vertex please")
) -> HTTPRequest {
    HTTPRequest(
        method: "POST",
        path: "/\(version)/publishers/google/models/gemini-2.5-flash:\(method)",
        query: query,
        headers: ["x-goog-api-key": key],
        body: body
    )
}
