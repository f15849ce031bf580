import Testing

@testable import HTTPServer

@Suite struct RequestTargetTests {
    @Test func pathStaysRawAndQueryIsDecoded() {
        let target = RequestTarget("/a%20b/c?x=1%2B1&y=a+b&flag&=v&z=%zz#frag")
        #expect(target.path == "/a%20b/c")
        #expect(target.query.map(\.name) == ["x", "y", "flag", "", "z"])
        #expect(target.query.map(\.value) == ["1+1", "a b", "", "v", "%zz"])
    }

    @Test func targetWithoutQueryHasNoParameters() {
        let target = RequestTarget("/v1/models")
        #expect(target.path == "/v1/models")
        #expect(target.query.isEmpty)
    }
}
