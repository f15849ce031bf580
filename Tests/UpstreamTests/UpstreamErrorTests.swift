import CCurl
import Testing

@testable import Upstream

@Suite struct UpstreamErrorTests {
    struct Case: Sendable, CustomStringConvertible {
        var curl: CURLcode
        var requestStarted: Bool
        var code: UpstreamError.Code
        var requestWasSent: Bool

        var description: String { "curl \(self.curl.rawValue), started \(self.requestStarted)" }
    }

    static let cases: [Case] = [
        Case(curl: CURLE_COULDNT_RESOLVE_HOST, requestStarted: false, code: .resolveFailed, requestWasSent: false),
        Case(curl: CURLE_COULDNT_RESOLVE_PROXY, requestStarted: false, code: .resolveFailed, requestWasSent: false),
        Case(curl: CURLE_COULDNT_CONNECT, requestStarted: false, code: .connectFailed, requestWasSent: false),
        Case(curl: CURLE_SSL_CONNECT_ERROR, requestStarted: false, code: .tlsFailed, requestWasSent: false),
        Case(curl: CURLE_PEER_FAILED_VERIFICATION, requestStarted: false, code: .tlsFailed, requestWasSent: false),
        Case(curl: CURLE_OPERATION_TIMEDOUT, requestStarted: false, code: .connectTimeout, requestWasSent: false),
        Case(curl: CURLE_OPERATION_TIMEDOUT, requestStarted: true, code: .transport, requestWasSent: true),
        Case(curl: CURLE_URL_MALFORMAT, requestStarted: false, code: .invalidRequest, requestWasSent: false),
        Case(curl: CURLE_GOT_NOTHING, requestStarted: true, code: .transport, requestWasSent: true),
        Case(curl: CURLE_PARTIAL_FILE, requestStarted: true, code: .transport, requestWasSent: true),
        Case(curl: CURLE_RECV_ERROR, requestStarted: true, code: .transport, requestWasSent: true),
        // A failure before curl reached the request cannot have sent it.
        Case(curl: CURLE_SEND_ERROR, requestStarted: false, code: .transport, requestWasSent: false),
    ]

    @Test("curl results map to codes and to whether the request was sent", arguments: cases)
    func curlResultMapping(_ mapping: Case) {
        let error = UpstreamError.fromCurl(mapping.curl, requestStarted: mapping.requestStarted)
        #expect(error.code == mapping.code)
        #expect(error.requestWasSent == mapping.requestWasSent)
        #expect(error.curlCode == Int(mapping.curl.rawValue))
    }

    @Test func descriptionIsFixedTextPerCode() {
        let error = UpstreamError(.transport, requestWasSent: true, curlCode: 56)
        #expect(error.description == "upstream connection failed")
        #expect(UpstreamError(.idleTimeout, requestWasSent: true).description == "upstream stream idle too long")
    }
}
