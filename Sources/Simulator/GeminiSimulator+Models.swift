import Foundation
import HTTPServer
import KeyPool

extension GeminiSimulator {
    /// One entry of the simulated model catalogue.
    struct CatalogueModel: Sendable {
        var id: String
        var displayName: String
        var inputTokenLimit: Int
        var outputTokenLimit: Int
        var isEmbedding = false
        var isThinking = false
    }

    /// The models `GET …/models` lists; any other name still answers `GET …/models/{m}`.
    static let catalogue: [CatalogueModel] = [
        CatalogueModel(
            id: "gemini-2.5-pro",
            displayName: "Gemini 2.5 Pro",
            inputTokenLimit: 1_048_576,
            outputTokenLimit: 65_536,
            isThinking: true
        ),
        CatalogueModel(
            id: "gemini-2.5-flash",
            displayName: "Gemini 2.5 Flash",
            inputTokenLimit: 1_048_576,
            outputTokenLimit: 65_536,
            isThinking: true
        ),
        CatalogueModel(
            id: "gemini-2.5-flash-lite",
            displayName: "Gemini 2.5 Flash-Lite",
            inputTokenLimit: 1_048_576,
            outputTokenLimit: 65_536,
            isThinking: true
        ),
        CatalogueModel(
            id: "gemini-2.0-flash",
            displayName: "Gemini 2.0 Flash",
            inputTokenLimit: 1_048_576,
            outputTokenLimit: 8_192
        ),
        CatalogueModel(
            id: "gemini-2.0-flash-lite",
            displayName: "Gemini 2.0 Flash-Lite",
            inputTokenLimit: 1_048_576,
            outputTokenLimit: 8_192
        ),
        CatalogueModel(
            id: "gemini-embedding-001",
            displayName: "Gemini Embedding 001",
            inputTokenLimit: 2_048,
            outputTokenLimit: 1,
            isEmbedding: true
        ),
        CatalogueModel(
            id: "gemma-3-27b-it",
            displayName: "Gemma 3 27B",
            inputTokenLimit: 131_072,
            outputTokenLimit: 8_192
        ),
    ]

    /// `GET …/models?pageSize=&pageToken=`: pages of the catalogue (pageSize default 50, max 1000).
    func listModels(_ request: HTTPRequest) -> SimulatorResponse {
        var pageSize = 50
        if let text = request.queryValue("pageSize") {
            guard let size = Int(text), size >= 0 else { return Self.error(.invalidArgument()) }
            pageSize = size == 0 ? 50 : min(size, 1000)
        }
        var offset = 0
        if let token = request.queryValue("pageToken"), !token.isEmpty {
            guard let data = Data(base64Encoded: token),
                let text = String(data: data, encoding: .utf8), text.hasPrefix("offset:"),
                let start = Int(text.dropFirst("offset:".count)), (0...Self.catalogue.count).contains(start)
            else { return Self.error(.invalidArgument("Invalid page token.")) }
            offset = start
        }

        let end = min(offset + pageSize, Self.catalogue.count)
        var members: [(String, JSONValue)] = [("models", .array(Self.catalogue[offset..<end].map(Self.describe)))]
        if end < Self.catalogue.count {
            members.append(("nextPageToken", .string(Data("offset:\(end)".utf8).base64EncodedString())))
        }
        return Self.json(.object(members))
    }

    /// `GET …/models/{m}`: the catalogue entry, or a generic one for any other name; 404 for
    /// names containing `notfound`.
    func getModel(_ raw: String, version: String) -> SimulatorResponse {
        guard let name = ModelName(raw), !name.value.lowercased().contains("notfound") else {
            return Self.error(.modelNotFound(model: raw, version: version, method: "get", isVertex: false))
        }
        let model =
            Self.catalogue.first { $0.id == name.value }
            ?? CatalogueModel(
                id: name.value,
                displayName: name.value,
                inputTokenLimit: 1_048_576,
                outputTokenLimit: 65_536
            )
        return Self.json(Self.describe(model))
    }

    private static func describe(_ model: CatalogueModel) -> JSONValue {
        var members: [(String, JSONValue)] = [("name", .string("models/\(model.id)"))]
        if !model.isEmbedding { members.append(("baseModelId", .string(model.id))) }
        members += [
            ("version", "001"), ("displayName", .string(model.displayName)),
            ("description", .string("Simulated \(model.displayName).")),
            ("inputTokenLimit", JSONValue(model.inputTokenLimit)),
            ("outputTokenLimit", JSONValue(model.outputTokenLimit)),
        ]
        if model.isEmbedding {
            members.append(("supportedGenerationMethods", ["embedContent", "countTextTokens", "countTokens"]))
            return .object(members)
        }
        members += [
            (
                "supportedGenerationMethods",
                ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
            ),
            ("temperature", 1), ("topP", .number("0.95")), ("topK", 64), ("maxTemperature", 2),
        ]
        if model.isThinking { members.append(("thinking", true)) }
        return .object(members)
    }
}
