import KeyPool

/// Reads OpenAI message content (a string or a list of typed parts) into Gemini parts.
/// Media must arrive inline: a `data:` URL with base64 data. The relay fetches nothing, so an
/// http(s) image URL is refused with a message saying how to send the image instead.
enum ChatContentParts {
    /// The texts of a content value (a string, or `text` parts; `refusal` parts too when allowed).
    static func texts(_ content: JSONValue, param: String, allowRefusal: Bool) throws(OpenAIError) -> [String] {
        if let text = content.stringValue { return [text] }
        guard let items = content.arrayValue else {
            throw .invalidRequest(
                "'\(param)' must be a string or an array of content parts, got \(content.typeName)",
                param: param
            )
        }
        var texts: [String] = []
        for (offset, item) in items.enumerated() {
            let partParam = "\(param)[\(offset)]"
            switch item["type"]?.stringValue {
            case "text":
                texts.append(try Self.string(item["text"], param: "\(partParam).text"))
            case "refusal" where allowRefusal:
                texts.append(try Self.string(item["refusal"], param: "\(partParam).refusal"))
            default:
                throw .invalidRequest("'\(partParam)' must be a text part in this message", param: "\(partParam).type")
            }
        }
        return texts
    }

    /// Gemini parts for a user message: text, `image_url`, `input_audio` and `file` parts.
    static func userParts(_ content: JSONValue, param: String) throws(OpenAIError) -> [JSONValue] {
        if let text = content.stringValue { return [["text": .string(text)]] }
        guard let items = content.arrayValue else {
            throw .invalidRequest(
                "'\(param)' must be a string or an array of content parts, got \(content.typeName)",
                param: param
            )
        }
        var parts: [JSONValue] = []
        for (offset, item) in items.enumerated() {
            parts.append(try Self.userPart(item, param: "\(param)[\(offset)]"))
        }
        return parts
    }

    private static func userPart(_ item: JSONValue, param: String) throws(OpenAIError) -> JSONValue {
        switch item["type"]?.stringValue {
        case "text":
            return ["text": .string(try Self.string(item["text"], param: "\(param).text"))]

        case "image_url":
            // `image_url` is `{"url": …}` in the spec; a bare string is an older form some clients send.
            let urlParam = "\(param).image_url.url"
            guard let url = item["image_url"]?["url"]?.stringValue ?? item["image_url"]?.stringValue else {
                throw .invalidRequest("'\(urlParam)' must be a string", param: urlParam)
            }
            let (mimeType, data) = try Self.dataURL(url, param: urlParam)
            guard mimeType.hasPrefix("image/") else {
                throw .invalidRequest("'\(urlParam)' must hold an image/* type, got '\(mimeType)'", param: urlParam)
            }
            return Self.inlineData(mimeType: mimeType, data: data)

        case "input_audio":
            let audio = item["input_audio"]
            let dataParam = "\(param).input_audio.data"
            guard let format = audio?["format"]?.stringValue, format == "wav" || format == "mp3" else {
                throw .invalidRequest(
                    "'\(param).input_audio.format' must be wav or mp3",
                    param: "\(param).input_audio.format"
                )
            }
            guard let data = audio?["data"]?.stringValue, Self.isBase64(data) else {
                throw .invalidRequest("'\(dataParam)' must be base64-encoded audio", param: dataParam)
            }
            return Self.inlineData(mimeType: "audio/\(format)", data: data)

        case "file":
            let dataParam = "\(param).file.file_data"
            guard let url = item["file"]?["file_data"]?.stringValue else {
                throw .invalidRequest(
                    "'\(dataParam)' must be a data: URL; uploaded file ids are not supported by the relay",
                    param: dataParam
                )
            }
            let (mimeType, data) = try Self.dataURL(url, param: dataParam)
            return Self.inlineData(mimeType: mimeType, data: data)

        default:
            throw .invalidRequest(
                "'\(param).type' must be one of text, image_url, input_audio, file",
                param: "\(param).type"
            )
        }
    }

    private static func inlineData(mimeType: String, data: String) -> JSONValue {
        ["inlineData": ["mimeType": .string(mimeType), "data": .string(data)]]
    }

    private static func string(_ value: JSONValue?, param: String) throws(OpenAIError) -> String {
        guard let text = value?.stringValue else {
            throw .invalidRequest("'\(param)' must be a string", param: param)
        }
        return text
    }

    /// The media type (lowercased) and base64 data of a `data:<type>;base64,<data>` URL.
    static func dataURL(_ url: String, param: String) throws(OpenAIError) -> (mimeType: String, data: String) {
        let lowered = url.prefix(8).lowercased()
        if lowered.hasPrefix("http://") || lowered.hasPrefix("https://") {
            throw .invalidRequest(
                "'\(param)' is a remote URL; the relay does not fetch URLs, send the image inline as "
                    + "a data URL (data:image/png;base64,…)",
                param: param
            )
        }
        guard lowered.hasPrefix("data:"), let comma = url.firstIndex(of: ",") else {
            throw .invalidRequest("'\(param)' must be a data URL (data:<type>;base64,<data>)", param: param)
        }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].lowercased()
        let data = String(url[url.index(after: comma)...])
        guard header.hasSuffix(";base64") else {
            throw .invalidRequest("'\(param)' must be base64-encoded (data:<type>;base64,<data>)", param: param)
        }
        let mimeType = String(header.prefix { $0 != ";" })
        guard mimeType.contains("/"), Self.isBase64(data) else {
            throw .invalidRequest("'\(param)' holds invalid base64 data or no media type", param: param)
        }
        return (mimeType, data)
    }

    /// Whether `text` is non-empty base64 (standard or URL-safe alphabet, padding optional), checked
    /// without decoding, since images can be megabytes.
    static func isBase64(_ text: String) -> Bool {
        var count = 0
        var padding = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "="):
                padding += 1
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "/"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                // Data after padding is malformed.
                guard padding == 0 else { return false }
                count += 1
            default:
                return false
            }
        }
        guard count > 0, padding <= 2 else { return false }
        if padding > 0 { return (count + padding) % 4 == 0 }
        return count % 4 != 1
    }
}
