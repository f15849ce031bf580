/// Tokens one upstream call spent, from its `usageMetadata` (DESIGN.md §3, "Reservation").
/// Streams repeat the metadata cumulatively, so the caller keeps the last value, never the sum.
public struct TokenUsage: Sendable, Hashable {
    /// `promptTokenCount + toolUsePromptTokenCount`: the input tokens Google's TPM limit counts.
    public var inputTokens: Int
    /// `totalTokenCount`, thinking included, kept for history.
    public var totalTokens: Int

    /// Usage with the given counts.
    public init(inputTokens: Int, totalTokens: Int) {
        self.inputTokens = inputTokens
        self.totalTokens = totalTokens
    }

    /// Reads `usageMetadata` from a response or stream chunk. Missing or malformed counts read as
    /// 0 (negative ones too). Nil when there is no `usageMetadata`, or it holds none of the three
    /// counts. For a streamed JSON array (the non-SSE stream form) the last element that has
    /// usage wins.
    public static func from(response: JSONValue) -> TokenUsage? {
        if let items = response.arrayValue {
            return items.reversed().lazy.compactMap(Self.from(response:)).first
        }
        guard let metadata = response["usageMetadata"], metadata.objectMembers != nil else { return nil }
        let prompt = metadata["promptTokenCount"]?.intValue
        let toolUse = metadata["toolUsePromptTokenCount"]?.intValue
        let total = metadata["totalTokenCount"]?.intValue
        guard prompt != nil || toolUse != nil || total != nil else { return nil }
        func count(_ value: Int?) -> Int { max(0, value ?? 0) }
        let (input, overflow) = count(prompt).addingReportingOverflow(count(toolUse))
        return TokenUsage(inputTokens: overflow ? Int.max : input, totalTokens: count(total))
    }
}
