import CCurl

// Building the easy handle happens on the caller's thread, before the transfer is submitted:
// only non-blocking curl calls (option setters copy their strings).
extension CurlTransfer {
    /// Header names the client manages itself; a caller's copy would break framing or reuse.
    private static let managedHeaders: Set<String> = [
        "connection", "content-length", "expect", "keep-alive", "proxy-connection", "te",
        "transfer-encoding", "upgrade",
    ]

    func configure(request: UpstreamRequest, proxyURL: String?) throws(UpstreamError) {
        guard let handle = curl_easy_init() else {
            throw UpstreamError(.transport, requestWasSent: false)
        }
        self.handle = handle
        self.loop.liveHandles.add(1, ordering: .relaxed)

        var isValid = true
        func set(_ code: CURLcode) {
            if code != CURLE_OK { isValid = false }
        }

        set(keyrelay_curl_easy_setopt_string(handle, CURLOPT_URL, request.url))
        set(keyrelay_curl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        // Signals are unsafe with threads; DNS timeouts then rely on the threaded resolver.
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        // HTTP/2 stays off: pausing h2 streams in 7.88 has flow-control bugs, and Gemini speaks 1.1.
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1)))
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        // Bodies pass through as sent; Accept-Encoding is the caller's business.
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_HTTP_CONTENT_DECODING, 0))
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 1))
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 2))
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
        let connectMillis = max(1, min(request.connectTimeout.nanoseconds / 1_000_000, UInt64(Int32.max)))
        set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Int(connectMillis)))
        // An empty proxy also stops curl from reading http_proxy & co. from the environment.
        set(keyrelay_curl_easy_setopt_string(handle, CURLOPT_PROXY, proxyURL ?? ""))

        let context = Unmanaged.passUnretained(self).toOpaque()
        set(
            keyrelay_curl_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
                guard let data, let context else { return 0 }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
                return transfer.onBody(UnsafeRawBufferPointer(start: data, count: size * count))
            }
        )
        set(keyrelay_curl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
        set(
            keyrelay_curl_easy_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
                guard let data, let context else { return 0 }
                let transfer = Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue()
                transfer.onHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
                return size * count
            }
        )
        set(keyrelay_curl_easy_setopt_pointer(handle, CURLOPT_HEADERDATA, context))
        set(
            keyrelay_curl_easy_setopt_prereq_callback(handle) { context, _, _, _, _ in
                if let context {
                    Unmanaged<CurlTransfer>.fromOpaque(context).takeUnretainedValue().onRequestStart()
                }
                return keyrelay_curl_prereqfunc_ok()
            }
        )
        set(keyrelay_curl_easy_setopt_pointer(handle, CURLOPT_PREREQDATA, context))
        // Lets the loop find the transfer of a finished handle.
        set(keyrelay_curl_easy_setopt_pointer(handle, CURLOPT_PRIVATE, context))

        try self.configureMethod(request, handle: handle, set: set)
        try self.configureHeaders(request.headers, handle: handle)
        guard isValid else {
            throw UpstreamError(.invalidRequest, requestWasSent: false)
        }
    }

    private func configureMethod(
        _ request: UpstreamRequest,
        handle: UnsafeMutableRawPointer,
        set: (CURLcode) -> Void
    ) throws(UpstreamError) {
        guard !request.method.isEmpty, request.method.utf8.allSatisfy(Self.isTokenByte) else {
            throw UpstreamError(.invalidRequest, requestWasSent: false)
        }
        let method = request.method
        if method == "GET" && request.body.isEmpty {
            set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_HTTPGET, 1))
        } else if method == "HEAD" {
            set(keyrelay_curl_easy_setopt_long(handle, CURLOPT_NOBODY, 1))
        } else if method == "POST" || !request.body.isEmpty {
            // The size goes first so that curl copies exactly that many bytes (bodies may hold NULs).
            let size = curl_off_t(request.body.count)
            set(keyrelay_curl_easy_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, size))
            request.body.withUnsafeBytes { bytes in
                let base = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                if let base {
                    set(keyrelay_curl_easy_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, base))
                } else {
                    set(keyrelay_curl_easy_setopt_string(handle, CURLOPT_COPYPOSTFIELDS, ""))
                }
            }
            if method != "POST" {
                set(keyrelay_curl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method))
            }
        } else {
            set(keyrelay_curl_easy_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method))
        }
    }

    private func configureHeaders(
        _ headers: [(name: String, value: String)],
        handle: UnsafeMutableRawPointer
    ) throws(UpstreamError) {
        var hasAccept = false
        var hasContentType = false
        var lines: [String] = []
        lines.reserveCapacity(headers.count + 3)
        for (name, value) in headers {
            // CR, LF or NUL would let a value start a header of its own.
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte),
                !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 })
            else {
                throw UpstreamError(.invalidRequest, requestWasSent: false)
            }
            let lowered = name.lowercased()
            if Self.managedHeaders.contains(lowered) { continue }
            if lowered == "accept" { hasAccept = true }
            if lowered == "content-type" { hasContentType = true }
            // "Name:" tells curl to drop a header; "Name;" is how an empty value is sent.
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        // Empty values remove curl's own defaults: no 100-continue round trip, no invented
        // Accept or form Content-Type that the caller did not send.
        lines.append("Expect:")
        if !hasAccept { lines.append("Accept:") }
        if !hasContentType { lines.append("Content-Type:") }

        for line in lines {
            guard let list = curl_slist_append(self.headerList, line) else {
                throw UpstreamError(.transport, requestWasSent: false)
            }
            self.headerList = list
        }
        if keyrelay_curl_easy_setopt_pointer(handle, CURLOPT_HTTPHEADER, self.headerList) != CURLE_OK {
            throw UpstreamError(.invalidRequest, requestWasSent: false)
        }
    }

    /// RFC 9110 token characters, for methods and header names.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
