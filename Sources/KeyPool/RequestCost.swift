/// How many requests one call spends against RPM and RPD (DESIGN.md §3, "Reservation").
/// Google counts a batch embedding once per text; everything else is one request.
public enum RequestCost {
    /// The cost of calling `method` with `body`: the number of `requests` of a
    /// `batchEmbedContents` call (at least 1), the number of `input` texts of an OpenAI-style
    /// `embeddings` call given a list (at least 1), and 1 for everything else. `method` may be
    /// given bare (`batchEmbedContents`) or with its model (`models/x:batchEmbedContents`).
    public static func of(method: String, body: JSONValue?) -> Int {
        let name = method.split(separator: ":").last.map(String.init) ?? method
        switch name {
        case "batchEmbedContents":
            return max(1, body?["requests"]?.arrayValue?.count ?? 1)
        case "embeddings":
            return max(1, body?["input"]?.arrayValue?.count ?? 1)
        default:
            return 1
        }
    }
}
