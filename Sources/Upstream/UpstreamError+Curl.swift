import CCurl

extension UpstreamError {
    /// Maps a failed transfer's curl result to an error.
    /// - Parameter requestStarted: whether curl reached the point of sending the request (its
    ///   prerequest callback ran); only when it did not can the request be known not to have been sent.
    static func fromCurl(_ result: CURLcode, requestStarted: Bool) -> UpstreamError {
        let raw = Int(result.rawValue)
        switch result {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            return UpstreamError(.resolveFailed, requestWasSent: false, curlCode: raw)

        case CURLE_COULDNT_CONNECT:
            return UpstreamError(.connectFailed, requestWasSent: false, curlCode: raw)

        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
            CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
            CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_ENGINE_NOTFOUND,
            CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_CRL_BADFILE:
            // Certificate and handshake failures happen before curl hands the request to the socket.
            return UpstreamError(.tlsFailed, requestWasSent: requestStarted, curlCode: raw)

        case CURLE_OPERATION_TIMEDOUT where !requestStarted:
            // The client sets no overall curl timeout, so curl times out only while connecting.
            return UpstreamError(.connectTimeout, requestWasSent: false, curlCode: raw)

        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return UpstreamError(.invalidRequest, requestWasSent: false, curlCode: raw)

        default:
            return UpstreamError(.transport, requestWasSent: requestStarted, curlCode: raw)
        }
    }
}
