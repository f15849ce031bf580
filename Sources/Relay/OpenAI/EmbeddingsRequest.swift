import Foundation
import KeyPool

/// How the client wants embedding vectors written: JSON numbers, or base64 of little-endian
/// float32s (what the official OpenAI Python SDK asks for by default).
public enum EmbeddingEncoding: String, Sendable, Hashable {
    /// `"embedding": [0.1, …]`.
    case float
    /// `"embedding": "<base64 of float32 LE>"`.
    case base64
}

/// An OpenAI `embeddings` request translated into a Gemini `batchEmbedContents` body.
public struct EmbeddingsRequest: Sendable, Hashable {
    /// Most inputs one request may carry, as OpenAI allows.
    public static let maxInputs = 2048

    /// The `model` as the client sent it.
    public var model: String
    /// `{"requests":[{"model":"models/<m>","content":{"parts":[{"text":…}]}}…]}`.
    public var gemini: JSONValue
    /// How many texts were sent (Google counts embedding quota per text).
    public var count: Int
    /// `encoding_format`; `.float` when absent.
    public var encoding: EmbeddingEncoding

    /// Translates an OpenAI embeddings body.
    /// - Throws: `OpenAIError.invalidRequest` (400) naming the field: a body that is not a JSON
    ///   object, a missing `model`, `input` that is not a non-empty string or 1...2048 of them
    ///   (token arrays included), `dimensions` not a positive integer, an unknown `encoding_format`.
    public static func parse(_ body: [UInt8]) throws(OpenAIError) -> EmbeddingsRequest {
        guard let document = try? JSONValue.parse(body), document.objectMembers != nil else {
            throw .invalidRequest("request body must be a JSON object", param: nil)
        }
        guard let model = document["model"]?.stringValue, !model.isEmpty else {
            throw .invalidRequest("'model' must be a non-empty string", param: "model")
        }
        let texts = try Self.texts(document["input"])
        let dimensions = try ChatRequest.integer(document.present("dimensions"), param: "dimensions", in: 1...Int.max)
        let encoding: EmbeddingEncoding
        switch document.present("encoding_format") {
        case nil: encoding = .float
        case let value?:
            guard let name = value.stringValue, let parsed = EmbeddingEncoding(rawValue: name) else {
                throw .invalidRequest("'encoding_format' must be float or base64", param: "encoding_format")
            }
            encoding = parsed
        }

        let path = model.hasPrefix("models/") ? model : "models/\(model)"
        let requests = texts.map { text -> JSONValue in
            var request: [(String, JSONValue)] = [
                ("model", .string(path)),
                ("content", ["parts": [["text": .string(text)]]]),
            ]
            if let dimensions { request.append(("outputDimensionality", JSONValue(dimensions))) }
            return .object(request)
        }
        return EmbeddingsRequest(
            model: model,
            gemini: ["requests": .array(requests)],
            count: texts.count,
            encoding: encoding
        )
    }

    /// `parse(_:)` reduced to what the forwarding path needs.
    /// - Throws: as `parse(_:)`.
    public static func translate(_ body: [UInt8]) throws(OpenAIError) -> (model: String, gemini: JSONValue, count: Int)
    {
        let request = try Self.parse(body)
        return (request.model, request.gemini, request.count)
    }

    private static func texts(_ input: JSONValue?) throws(OpenAIError) -> [String] {
        let message = "'input' must be a non-empty string or an array of 1...\(Self.maxInputs) non-empty strings"
        if let text = input?.stringValue {
            guard !text.isEmpty else { throw .invalidRequest(message, param: "input") }
            return [text]
        }
        guard let items = input?.arrayValue, !items.isEmpty, items.count <= Self.maxInputs else {
            throw .invalidRequest(message, param: "input")
        }
        var texts: [String] = []
        for item in items {
            if item.doubleValue != nil || item.arrayValue != nil {
                throw .invalidRequest("'input' as token ids is not supported; send text", param: "input")
            }
            guard let text = item.stringValue, !text.isEmpty else { throw .invalidRequest(message, param: "input") }
            texts.append(text)
        }
        return texts
    }
}

/// Builds an OpenAI embeddings list from a Gemini embedding answer.
public enum EmbeddingsResponse {
    /// `{"object":"list","data":[{"object":"embedding","index":i,"embedding":[…]}],"model":…,
    /// "usage":{"prompt_tokens":0,"total_tokens":0}}` from `batchEmbedContents`'s `embeddings`
    /// (or `embedContent`'s single `embedding`). Gemini reports no token counts, hence the zeros.
    /// - Parameters:
    ///   - model: echoed as `model`.
    ///   - encoding: `.base64` writes each vector as base64 of little-endian float32s; default `.float`.
    public static func translate(gemini: JSONValue, model: String, encoding: EmbeddingEncoding = .float) -> JSONValue {
        let embeddings = gemini["embeddings"]?.arrayValue ?? gemini.present("embedding").map { [$0] } ?? []
        var data: [JSONValue] = []
        for (index, embedding) in embeddings.enumerated() {
            let values = embedding["values"]?.arrayValue ?? []
            let vector: JSONValue =
                switch encoding {
                case .float: .array(values)
                case .base64: .string(Self.base64(values))
                }
            data.append(["object": "embedding", "index": JSONValue(index), "embedding": vector])
        }
        return [
            "object": "list",
            "data": .array(data),
            "model": .string(model),
            "usage": ["prompt_tokens": 0, "total_tokens": 0],
        ]
    }

    private static func base64(_ values: [JSONValue]) -> String {
        var bytes = Data(capacity: values.count * 4)
        for value in values {
            let bits = Float(value.doubleValue ?? 0).bitPattern.littleEndian
            withUnsafeBytes(of: bits) { bytes.append(contentsOf: $0) }
        }
        return bytes.base64EncodedString()
    }
}
