import CCurl

// Everything here runs on the loop thread: curl calls back from inside curl_multi_perform or
// curl_easy_pause, and the loop calls the rest.
extension CurlTransfer {
    /// The connection is ready (new or reused) and the request is about to be written.
    func onRequestStart() {
        self.requestStarted = true
        self.phase = .awaitingHead
        self.headDeadline = monotonicNanos().addingClamped(self.firstByteTimeoutNanos)
        self.loop.noteDeadline(self.headDeadline)
    }

    /// One header line, CRLF included (curl calls once per line, status line first).
    func onHeaderLine(_ line: UnsafeRawBufferPointer) {
        // After the head, header lines are trailers of a chunked body; they are not reported.
        guard self.phase != .streaming else { return }

        var end = line.count
        while end > 0, line[end - 1] == UInt8(ascii: "\n") || line[end - 1] == UInt8(ascii: "\r") {
            end -= 1
        }
        if end == 0 {
            self.onHeadEnd()
            return
        }

        let text = UnsafeRawBufferPointer(rebasing: line[0..<end])
        if text.starts(with: "HTTP/".utf8) {
            // A new status line: an interim (1xx) block's headers are forgotten.
            self.pendingStatus = Self.parseStatus(text)
            self.pendingHeaders.removeAll(keepingCapacity: true)
            return
        }
        if text[0] == UInt8(ascii: " ") || text[0] == UInt8(ascii: "\t") {
            // Obsolete line folding continues the previous value.
            if let last = self.pendingHeaders.indices.last {
                self.pendingHeaders[last].value += " " + Self.trimmed(text)
            }
            return
        }
        guard let colon = text.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = Self.trimmed(UnsafeRawBufferPointer(rebasing: text[0..<colon]))
        let value = Self.trimmed(UnsafeRawBufferPointer(rebasing: text[(colon + 1)...]))
        self.pendingHeaders.append((name: name, value: value))
    }

    /// The blank line after a header block: the head is complete unless the status was 1xx.
    private func onHeadEnd() {
        if (100..<200).contains(self.pendingStatus) {
            // 100 Continue, 103 Early Hints: the final status follows.
            self.pendingStatus = 0
            self.pendingHeaders.removeAll(keepingCapacity: true)
            return
        }
        self.deliverHead()
    }

    /// Hands the head to `send`; also used when a transfer ends without a blank line.
    func deliverHead() {
        guard self.phase != .streaming else { return }
        var code = 0
        if let handle = self.handle {
            _ = keyrelay_curl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        }
        let head = ResponseHead(status: code > 0 ? code : self.pendingStatus, headers: self.pendingHeaders)
        self.pendingHeaders = []
        self.phase = .streaming
        self.lastActivity = monotonicNanos()
        self.loop.noteDeadline(self.lastActivity.addingClamped(self.idleTimeoutNanos))

        let waiter: HeadWaiter? = self.shared.withLock { shared in
            defer { shared.headWaiter = nil }
            return shared.headWaiter
        }
        waiter?.resume(returning: .success(head))
    }

    /// Body bytes from the network. Returns the count consumed, or curl's pause value when the
    /// buffer is full (curl then keeps these bytes and offers them again after unpausing).
    func onBody(_ bytes: UnsafeRawBufferPointer) -> Int {
        if self.phase != .streaming {
            self.deliverHead()
        }
        self.lastActivity = monotonicNanos()
        let chunk = [UInt8](bytes)

        enum Outcome {
            case stored
            case handed(BodyWaiter)
            case paused
        }
        let outcome: Outcome = self.shared.withLock { shared in
            if shared.end != nil {
                // Cancelled: the loop removes the handle shortly; the bytes have no reader.
                return .stored
            }
            if let waiter = shared.bodyWaiter {
                shared.bodyWaiter = nil
                return .handed(waiter)
            }
            if shared.bufferedBytes >= Self.pauseThreshold {
                shared.isPaused = true
                return .paused
            }
            shared.chunks.append(chunk)
            shared.bufferedBytes += chunk.count
            return .stored
        }

        switch outcome {
        case .stored:
            return bytes.count
        case .handed(let waiter):
            waiter.resume(returning: .success(chunk))
            return bytes.count
        case .paused:
            self.isPausedByLoop = true
            return keyrelay_curl_writefunc_pause()
        }
    }

    /// The reader drained the buffer of a paused transfer: let curl deliver again.
    func unpause() {
        guard let handle = self.handle, self.isPausedByLoop else { return }
        // Flags first: curl_easy_pause may call onBody right away, which may pause again.
        self.shared.withLock { shared in
            shared.isPaused = false
            shared.isUnpauseQueued = false
        }
        self.isPausedByLoop = false
        self.lastActivity = monotonicNanos()
        self.loop.noteDeadline(self.lastActivity.addingClamped(self.idleTimeoutNanos))
        _ = curl_easy_pause(handle, keyrelay_curl_pause_cont())
    }

    /// The error to fail with if a deadline passed at `now`, else nil; `next` gets the next deadline.
    func expiredDeadline(now: UInt64, next: inout UInt64) -> UpstreamError? {
        switch self.phase {
        case .connecting:
            // curl enforces the connect timeout itself.
            return nil

        case .awaitingHead:
            if now >= self.headDeadline {
                return UpstreamError(.firstByteTimeout, requestWasSent: true)
            }
            next = min(next, self.headDeadline)
            return nil

        case .streaming:
            // Time spent paused is the reader's, not the upstream's.
            guard !self.isPausedByLoop else { return nil }
            let deadline = self.lastActivity.addingClamped(self.idleTimeoutNanos)
            if now >= deadline {
                return UpstreamError(.idleTimeout, requestWasSent: true)
            }
            next = min(next, deadline)
            return nil
        }
    }

    private static func parseStatus(_ line: UnsafeRawBufferPointer) -> Int {
        // "HTTP/1.1 200 OK" or "HTTP/2 200": three digits after the first space.
        guard let space = line.firstIndex(of: UInt8(ascii: " ")), space + 3 < line.count else { return 0 }
        var status = 0
        for index in (space + 1)...(space + 3) {
            let digit = Int(line[index]) - Int(UInt8(ascii: "0"))
            guard (0...9).contains(digit) else { return 0 }
            status = status * 10 + digit
        }
        return status
    }

    private static func trimmed(_ bytes: UnsafeRawBufferPointer) -> String {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == UInt8(ascii: " ") || bytes[start] == UInt8(ascii: "\t") {
            start += 1
        }
        while end > start, bytes[end - 1] == UInt8(ascii: " ") || bytes[end - 1] == UInt8(ascii: "\t") {
            end -= 1
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
    }
}

extension UInt64 {
    /// `self + other`, saturating at `UInt64.max`.
    func addingClamped(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = self.addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
