import KeyPool
import Testing

@Suite struct ModelNameTests {
    @Test(
        "accepts model names and strips models/",
        arguments: [
            ("gemini-2.5-flash", "gemini-2.5-flash"), ("models/gemini-2.5-flash", "gemini-2.5-flash"),
            ("gemma-3n-e4b-it", "gemma-3n-e4b-it"), ("Model_1.0", "Model_1.0"), ("...", "..."),
            (String(repeating: "a", count: 128), String(repeating: "a", count: 128)),
        ]
    )
    func accepts(raw: String, value: String) {
        #expect(ModelName(raw)?.value == value)
        #expect(ModelName(raw)?.description == value)
    }

    @Test(
        "refuses names that could change a path or a query",
        arguments: [
            "", "models/", "a/b", "models/a/b", "..", ".", "models/..", "../x", "a b", " a", "a\n",
            "gemini:generateContent", "a?b", "a%2F", "gémini", String(repeating: "a", count: 129),
        ]
    )
    func refuses(raw: String) {
        #expect(ModelName(raw) == nil)
    }
}
