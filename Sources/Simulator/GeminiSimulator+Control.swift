import Foundation
import HTTPServer
import KeyPool

extension GeminiSimulator {
    /// Serves `/simulator/…`: stats, reset, the last model request, and fault injection.
    func control(_ endpoint: ControlEndpoint, request: HTTPRequest) -> SimulatorResponse {
        switch endpoint {
        case .stats:
            return Self.json(self.state.withLock { self.statsDocument($0) })
        case .reset:
            self.state.withLock { $0.reset() }
            return Self.json(["reset": true])
        case .lastRequest:
            guard let recorded = self.state.withLock({ $0.lastRequest }) else {
                return Self.json(
                    Self.controlError(404, "no model request has been received since the last reset"),
                    status: 404
                )
            }
            return Self.json(self.document(recorded))
        case .lastRequestBody:
            guard let recorded = self.state.withLock({ $0.lastRequest }) else {
                return Self.json(
                    Self.controlError(404, "no model request has been received since the last reset"),
                    status: 404
                )
            }
            let type = recorded.selectedHeaders.first { $0.name == "content-type" }?.value ?? "application/octet-stream"
            return SimulatorResponse(status: 200, headers: ["content-type": type], body: .bytes(recorded.body))
        case .getFaults:
            return Self.json(self.state.withLock { Self.faultsDocument($0) })
        case .setFaults:
            return self.setFaults(request.body)
        }
    }

    /// `{"error_rate": R, "error_status": S}`; either member may be left out.
    private func setFaults(_ body: [UInt8]) -> SimulatorResponse {
        guard let document = try? JSONValue.parse(body), document.objectMembers != nil else {
            return Self.json(
                Self.controlError(400, "body must be a JSON object like {\"error_rate\": 0.5}"),
                status: 400
            )
        }
        var rate: Double?
        if let value = document["error_rate"] {
            guard let number = value.doubleValue, (0...1).contains(number) else {
                return Self.json(Self.controlError(400, "error_rate must be a number in 0...1"), status: 400)
            }
            rate = number
        }
        var status: Int?
        if let value = document["error_status"] {
            guard let code = value.intValue, SimulatorOptions.injectableStatuses.contains(code) else {
                return Self.json(Self.controlError(400, "error_status must be one of 429, 500, 503, 504"), status: 400)
            }
            status = code
        }
        let current = self.state.withLock { state in
            if let rate { state.errorRate = rate }
            if let status { state.errorStatus = status }
            return Self.faultsDocument(state)
        }
        return Self.json(current)
    }

    private static func faultsDocument(_ state: SimulatorState) -> JSONValue {
        ["error_rate": .number(String(state.errorRate)), "error_status": JSONValue(state.errorStatus)]
    }

    /// `("gemini", i)` for `options.keys[i]`, `("vertex", i)` for `options.vertexKeys[i]`.
    private func keyLabel(_ index: Int) -> (kind: String, index: Int) {
        index < self.options.keys.count ? ("gemini", index) : ("vertex", index - self.options.keys.count)
    }

    /// Keys by kind, index (within their list) and fingerprint, never the key itself: the
    /// `--keys` keys first (`"kind": "gemini"`), then the `--vertex-keys` keys (`"vertex"`).
    private func statsDocument(_ state: SimulatorState) -> JSONValue {
        let keys: [JSONValue] = self.allKeys.enumerated().map { index, key in
            let models = (state.stats[index] ?? [:]).sorted { $0.key < $1.key }.map { model, stats in
                (
                    model,
                    [
                        "admitted": JSONValue(stats.admitted), "rejected": JSONValue(stats.rejected),
                        "injected_errors": JSONValue(stats.injectedErrors),
                        "input_tokens": JSONValue(stats.inputTokens),
                        "total_tokens": JSONValue(stats.totalTokens),
                    ] as JSONValue
                )
            }
            let label = self.keyLabel(index)
            return [
                "index": JSONValue(label.index), "kind": .string(label.kind),
                "fingerprint": .string(key.fingerprint.description), "models": .object(models),
            ]
        }
        return [
            "keys": .array(keys), "key_in_url": .bool(state.isKeyInURLSeen),
            "requests_total": JSONValue(state.requestsTotal),
            "unknown_key_requests": JSONValue(state.unknownKeyRequests),
        ]
    }

    /// The recorded request: header names, safe header values, where the key was and whether it
    /// matched a configured key, and the body (base64 and, when UTF-8, as text).
    private func document(_ recorded: RecordedRequest) -> JSONValue {
        var key: [(String, JSONValue)] = [
            ("source", .string(recorded.keySource)), ("matched_configured_key", .bool(recorded.keyIndex != nil)),
        ]
        if let index = recorded.keyIndex {
            let label = self.keyLabel(index)
            key.append(("index", JSONValue(label.index)))
            key.append(("kind", .string(label.kind)))
            key.append(("fingerprint", .string(self.allKeys[index].fingerprint.description)))
        }
        var members: [(String, JSONValue)] = [
            ("method", .string(recorded.method)), ("path", .string(recorded.path)),
            ("query", .object(recorded.query.map { ($0.name, .string($0.value)) })),
            ("header_names", .array(recorded.headerNames.map { .string($0) })),
            ("headers", .object(recorded.selectedHeaders.map { ($0.name, .string($0.value)) })),
            ("api_key", .object(key)),
            ("body_base64", .string(Data(recorded.body).base64EncodedString())),
            ("body_sha256", .string(SHA256.digest(recorded.body).map { String(format: "%02x", $0) }.joined())),
        ]
        if let text = String(validating: recorded.body, as: UTF8.self) {
            members.append(("body_text", .string(text)))
        }
        return .object(members)
    }

    private static func controlError(_ code: Int, _ message: String) -> JSONValue {
        [
            "error": [
                "code": JSONValue(code), "message": .string(message),
                "status": code == 404 ? "NOT_FOUND" : "INVALID_ARGUMENT",
            ]
        ]
    }
}
