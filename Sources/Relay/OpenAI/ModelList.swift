import KeyPool

/// Builds OpenAI's model list from Gemini's.
public enum ModelList {
    /// `{"object":"list","data":[{"id":"x","object":"model","created":0,"owned_by":"google"}…]}`
    /// from Gemini's `{"models":[{"name":"models/x",…}…]}`, in Gemini's order; the `models/`
    /// prefix is dropped so the id is what a client sends back as `model`. Entries without a
    /// name are skipped.
    public static func translate(gemini: JSONValue) -> JSONValue {
        var data: [JSONValue] = []
        for model in gemini["models"]?.arrayValue ?? [] {
            guard let name = model["name"]?.stringValue, !name.isEmpty else { continue }
            let id = name.hasPrefix("models/") ? String(name.dropFirst("models/".count)) : name
            data.append(["id": .string(id), "object": "model", "created": 0, "owned_by": "google"])
        }
        return ["object": "list", "data": .array(data)]
    }
}
