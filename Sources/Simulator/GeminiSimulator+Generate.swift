import Foundation
import HTTPServer
import KeyPool

extension GeminiSimulator {
    /// How a quota-checked model request was decided, under the state lock.
    private enum Admission {
        case injected(status: Int)
        case overQuota([QuotaViolation])
        case admitted(responseID: String)
    }

    /// Wait between the two halves of an event under `[[sse-split]]`: long enough that the
    /// halves reach the reader in separate TCP reads.
    static let sseSplitPause: Duration = .milliseconds(20)

    /// Embedding length when the request names no `outputDimensionality` (kept small for benchmarks).
    static let defaultEmbeddingDimensions = 16

    /// Serves `POST …/models/{m}:{method}` for a configured, unsuspended key.
    func serveModel(
        _ request: HTTPRequest,
        route: SimulatorRoute,
        model rawModel: String,
        method: ModelMethod,
        keyIndex: Int
    ) -> SimulatorResponse {
        guard let name = ModelName(rawModel), !name.value.lowercased().contains("notfound") else {
            let shown = ModelName(rawModel)?.value ?? rawModel
            return Self.error(
                .modelNotFound(model: shown, version: route.version, method: method.rawValue, isVertex: route.isVertex)
            )
        }
        guard !request.bodyTooLarge else { return Self.error(.payloadTooLarge()) }
        guard let body = try? JSONValue.parse(request.body), body.objectMembers != nil else {
            return Self.error(.invalidJSON())
        }
        let facts = RequestFacts(body: body)
        if facts.markers.contains(.invalidArgument) || (method == .batchEmbedContents && facts.batchTokens.isEmpty) {
            return Self.error(.invalidArgument())
        }

        let now = self.clock.now()
        var answer = GenerateAnswer(
            facts: facts,
            model: name.value,
            responseID: "",
            isVertex: route.isVertex,
            createTime: Self.timestamp(now)
        )
        switch self.admitCall(method: method, keyIndex: keyIndex, model: name, facts: facts, answer: answer, now: now) {
        case .failure(let error):
            return Self.error(error)
        case .success(let responseID):
            answer.responseID = responseID
            return self.success(request, route: route, method: method, body: body, facts: facts, answer: answer)
        }
    }

    /// Counts one call of `method` against the key's quotas: the response id when admitted,
    /// else Google's error (injected, or the 429 of the key's surface).
    func admitCall(
        method: ModelMethod,
        keyIndex: Int,
        model name: ModelName,
        facts: RequestFacts,
        answer: GenerateAnswer,
        now: Date
    ) -> Result<String, GoogleError> {
        let (quotaModel, limits) = self.limits.resolve(name)
        let decision = self.admit(
            method: method,
            keyIndex: keyIndex,
            quotaModel: quotaModel,
            limits: limits,
            facts: facts,
            totalTokens: answer.totalTokens,
            now: now
        )

        switch decision {
        case .injected(let status):
            return .failure(.injected(status: status))
        case .overQuota(let violations):
            if answer.isVertex { return .failure(.vertexResourceExhausted()) }
            return .failure(
                .quotaExceeded(
                    violations,
                    model: quotaModel,
                    family: method.quotaFamily ?? .generate,
                    tier: self.tier,
                    secondsToRetry: QuotaCalendar.pacific.minuteEnd(of: now).timeIntervalSince(now)
                )
            )
        case .admitted(let responseID):
            return .success(responseID)
        }
    }

    private func admit(
        method: ModelMethod,
        keyIndex: Int,
        quotaModel: String,
        limits: Limits,
        facts: RequestFacts,
        totalTokens: Int,
        now: Date
    ) -> Admission {
        let key = self.allKeys[keyIndex]
        let isBatch = method == .batchEmbedContents
        let units = isBatch ? facts.batchTokens.count : 1
        let inputTokens = isBatch ? facts.batchTokens.reduce(0, +) : facts.promptTokens

        return self.state.withLock { state -> Admission in
            if state.shouldInjectError() {
                state.updateStats(key: keyIndex, model: quotaModel) { $0.injectedErrors += 1 }
                return .injected(status: state.errorStatus)
            }
            guard method.quotaFamily != nil else { return .admitted(responseID: state.nextResponseID()) }

            let violations: [QuotaViolation]
            if self.options.noQuotaKeys.contains(key) {
                // A model outside the key's tier: Google lists every counter with limit 0.
                violations = [
                    QuotaViolation(kind: .inputTokensPerMinute, limit: 0),
                    QuotaViolation(kind: .requestsPerMinute, limit: 0),
                    QuotaViolation(kind: .requestsPerDay, limit: 0),
                ]
            } else if self.options.dailyExhaustedKeys.contains(key) {
                violations = [QuotaViolation(kind: .requestsPerDay, limit: limits.rpd ?? 250)]
            } else {
                let row = QuotaLedger.RowID(keyIndex: keyIndex, model: quotaModel)
                violations = state.ledger.admit(row, units: units, inputTokens: inputTokens, limits: limits, now: now)
            }
            guard violations.isEmpty else {
                state.updateStats(key: keyIndex, model: quotaModel) { $0.rejected += 1 }
                return .overQuota(violations)
            }
            state.updateStats(key: keyIndex, model: quotaModel) { stats in
                stats.admitted += units
                stats.inputTokens += inputTokens
                stats.totalTokens += method.quotaFamily == .generate ? totalTokens : inputTokens
            }
            return .admitted(responseID: state.nextResponseID())
        }
    }

    private func success(
        _ request: HTTPRequest,
        route: SimulatorRoute,
        method: ModelMethod,
        body: JSONValue,
        facts: RequestFacts,
        answer: GenerateAnswer
    ) -> SimulatorResponse {
        switch method {
        case .generateContent:
            return Self.json(answer.response())

        case .streamGenerateContent:
            let isSSE = request.queryValue("alt") == "sse" || request.queryValue("$alt") == "sse"
            let isDropped = facts.markers.contains(.streamDrop)
            let plan = StreamPlan(
                format: isSSE ? .serverSentEvents : .jsonArray,
                events: answer.streamEvents(
                    count: self.options.chunkCount,
                    failAfterFirst: facts.markers.contains(.streamError),
                    dropAfterFirst: isDropped
                ),
                chunkDelay: self.options.chunkDelay,
                isCutShort: isDropped,
                splitPause: facts.markers.contains(.sseSplit) ? Self.sseSplitPause : nil
            )
            var headers = Self.googleHeaders(
                contentType: isSSE ? "text/event-stream" : "application/json; charset=UTF-8"
            )
            if isSSE { headers.add("content-disposition", "attachment") }
            return SimulatorResponse(status: 200, headers: headers, body: .stream(plan))

        case .countTokens:
            var members: [(String, JSONValue)] = [("totalTokens", JSONValue(facts.promptTokens))]
            if route.isVertex { members.append(("totalBillableCharacters", JSONValue(facts.inputCharacters))) }
            members.append(
                ("promptTokensDetails", [["modality": "TEXT", "tokenCount": JSONValue(facts.promptTokens)]])
            )
            return Self.json(.object(members))

        case .embedContent:
            return Self.json(["embedding": Self.embedding(for: body)])

        case .batchEmbedContents:
            let inner = body["requests"]?.arrayValue ?? []
            return Self.json(["embeddings": .array(inner.map(Self.embedding(for:)))])
        }
    }

    /// `{"values": [...]}` derived from the request's content, so equal texts embed equally.
    static func embedding(for request: JSONValue) -> JSONValue {
        let requested = request["outputDimensionality"]?.intValue ?? request["output_dimensionality"]?.intValue
        let dimensions = min(max(requested ?? Self.defaultEmbeddingDimensions, 1), 3072)
        let digest = SHA256.digest(Array((request["content"] ?? request).serialized.utf8))
        var generator = SplitMix64(seed: digest.prefix(8).reduce(0) { $0 << 8 | UInt64($1) })
        let values = (0..<dimensions).map { _ in
            JSONValue.number(String(format: "%.6f", generator.nextUnit() * 0.2 - 0.1))
        }
        return ["values": .array(values)]
    }

    /// RFC 3339 with microseconds, as Vertex writes `createTime`.
    static func timestamp(_ date: Date) -> String {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let micros = Int(((date.timeIntervalSince1970 - seconds) * 1_000_000).rounded(.down))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second],
            from: Date(timeIntervalSince1970: seconds)
        )
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
            parts.year ?? 0,
            parts.month ?? 0,
            parts.day ?? 0,
            parts.hour ?? 0,
            parts.minute ?? 0,
            parts.second ?? 0,
            micros
        )
    }
}
