import CMicroHTTPD
import Synchronization

/// A libmicrohttpd connection pointer that crosses threads.
///
/// `@unchecked Sendable` because the pointer is only dereferenced by libmicrohttpd: the server
/// calls `MHD_suspend_connection`/`MHD_resume_connection` on it only while its owner's lock
/// says the connection is alive and suspended, which MHD documents as callable from any thread.
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// One request from its URI line until libmicrohttpd reports it completed. Retained in
/// `*con_cls` (balanced in `MHD_OPTION_NOTIFY_COMPLETED`) and listed in the server's
/// in-flight set for draining.
final class RequestContext: Sendable {
    enum Phase {
        /// The URI arrived; the access handler has not been called yet.
        case fresh
        /// Taking upload chunks.
        case receiving
        /// The handler task runs; the connection is suspended.
        case handling
        /// The handler answered; the connection was resumed to queue it.
        case ready(HTTPResponse)
        /// The response is queued.
        case responding
        /// The drain timed out or the server is stopping: the connection is closed.
        case aborted
    }

    private struct State {
        var phase = Phase.fresh
        var method = ""
        var headers: [(name: String, value: String)] = []
        var body: [UInt8] = []
        var isBodyTooLarge = false
        /// The handler's answer from the head alone; the body is then discarded as it arrives.
        var earlyResponse: HTTPResponse?
        var isSuspended = false
        var socket: Int32 = -1
        var writer: ResponseBodyWriter?
    }

    let core: ServerCore
    let connection: ConnectionHandle
    /// The request target exactly as sent: path plus optional query.
    let target: String
    private let state = Mutex(State())

    init(core: ServerCore, connection: ConnectionHandle, target: String) {
        self.core = core
        self.connection = connection
        self.target = target
    }

    /// The access handler (an MHD thread): take headers, then body chunks, then hand the request
    /// to the handler task; after the task resumes the connection, queue its response.
    func access(method: String, upload: UnsafePointer<CChar>?, uploadSize: UnsafeMutablePointer<Int>) -> MHD_Result {
        var task: HTTPRequest?
        let result = self.state.withLock { state -> MHD_Result in
            if self.core.isClosing { return .NO }

            switch state.phase {
            case .fresh:
                // Answering on this first call would make MHD close the connection after the
                // response, so the first call only records what is already known.
                state.phase = .receiving
                state.method = method
                state.headers = self.collectHeaders()
                state.socket = keyrelay_connection_fd(self.connection.pointer)
                // A request refused from its head alone has its body read and thrown away, never
                // buffered; answering before the upload ended would make MHD reset the connection,
                // and a client still sending could miss the answer.
                state.earlyResponse = self.core.handler.respondBeforeBody(to: self.head(state))
                return .YES

            case .receiving:
                if uploadSize.pointee > 0 {
                    if state.earlyResponse == nil { self.append(upload, count: uploadSize.pointee, to: &state) }
                    uploadSize.pointee = 0
                    return .YES
                }
                if let early = state.earlyResponse {
                    state.phase = .responding
                    return self.queue(early, state: &state)
                }
                task = self.makeRequest(&state)
                state.phase = .handling
                state.isSuspended = true
                MHD_suspend_connection(self.connection.pointer)
                return .YES

            case .handling, .responding:
                uploadSize.pointee = 0
                return .YES

            case .ready(let response):
                state.phase = .responding
                return self.queue(response, state: &state)

            case .aborted:
                return .NO
            }
        }

        if let request = task {
            // The handler never runs on an MHD thread: those only parse and write.
            Task {
                let response = await self.core.handler.handle(request)
                self.handlerFinished(response)
            }
        }
        return result
    }

    /// The writer of a streamed response that is still sending, for the disconnect watchdog.
    var streamingWriter: (writer: ResponseBodyWriter, socket: Int32)? {
        self.state.withLock { state in
            guard let writer = state.writer, state.socket >= 0 else { return nil }
            return (writer, state.socket)
        }
    }

    /// Closes the connection at once (drain timeout or stop); streams see their client gone.
    func abort() {
        let writer = self.state.withLock { state -> ResponseBodyWriter? in
            switch state.phase {
            case .handling, .ready:
                state.phase = .aborted
            case .fresh, .receiving, .responding, .aborted:
                break
            }
            if state.isSuspended {
                state.isSuspended = false
                MHD_resume_connection(self.connection.pointer)
            }
            return state.writer
        }
        writer?.abort()
    }

    private func handlerFinished(_ response: HTTPResponse) {
        self.state.withLock { state in
            guard case .handling = state.phase else { return }
            state.phase = .ready(response)
            if state.isSuspended {
                state.isSuspended = false
                MHD_resume_connection(self.connection.pointer)
            }
        }
    }

    private func append(_ upload: UnsafePointer<CChar>?, count: Int, to state: inout State) {
        guard !state.isBodyTooLarge, let upload else { return }
        guard state.body.count + count <= self.core.maxBodyBytes else {
            // Keep reading (so the connection stays usable) but stop buffering.
            state.isBodyTooLarge = true
            state.body = []
            return
        }
        upload.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
            state.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
        }
    }

    /// The request without its body, for `respondBeforeBody`.
    private func head(_ state: State) -> HTTPRequest {
        let target = RequestTarget(self.target)
        return HTTPRequest(
            method: state.method,
            path: target.path,
            query: target.query,
            headers: HTTPHeaders(state.headers)
        )
    }

    private func makeRequest(_ state: inout State) -> HTTPRequest {
        let target = RequestTarget(self.target)
        let request = HTTPRequest(
            method: state.method,
            path: target.path,
            query: target.query,
            headers: HTTPHeaders(state.headers),
            body: state.body,
            bodyTooLarge: state.isBodyTooLarge
        )
        state.body = []
        state.headers = []
        return request
    }

    private func collectHeaders() -> [(name: String, value: String)] {
        var fields: [(name: String, value: String)] = []
        withUnsafeMutablePointer(to: &fields) { pointer in
            _ = MHD_get_connection_values(
                self.connection.pointer,
                .HEADER_KIND,
                { cls, _, key, value in
                    guard let cls, let key else { return .YES }
                    let fields = cls.assumingMemoryBound(to: [(name: String, value: String)].self)
                    fields.pointee.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
                    return .YES
                },
                pointer
            )
        }
        return fields
    }

    /// Builds and queues the MHD response (on the MHD thread, inside the access handler).
    private func queue(_ response: HTTPResponse, state: inout State) -> MHD_Result {
        var writer: ResponseBodyWriter?
        let mhdResponse: OpaquePointer?
        switch response.body {
        case .bytes(let bytes):
            mhdResponse = bytes.withUnsafeBytes { buffer in
                MHD_create_response_from_buffer(
                    buffer.count,
                    UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                    .RESPMEM_MUST_COPY
                )
            }
        case .stream:
            let streamWriter = ResponseBodyWriter(connection: self.connection)
            writer = streamWriter
            mhdResponse = ResponseBodyWriter.makeMHDResponse(streamWriter)
        }
        guard let mhdResponse else {
            self.core.logger.error("cannot create response", ["http.status": String(response.status)])
            return .NO
        }

        for field in response.headers where !Self.isFramingHeader(field.name) {
            if MHD_add_response_header(mhdResponse, field.name, field.value) != .YES {
                self.core.logger.debug("response header refused", ["http.header": field.name])
            }
        }
        if self.core.isDraining {
            _ = MHD_add_response_header(mhdResponse, "Connection", "close")
        }
        let queued = MHD_queue_response(self.connection.pointer, UInt32(clamping: response.status), mhdResponse)
        MHD_destroy_response(mhdResponse)

        if let writer, case .stream(let producer) = response.body, queued == .YES {
            state.writer = writer
            Task {
                await producer(writer)
                writer.finish()
            }
        }
        return queued
    }

    /// libmicrohttpd frames the body itself (Content-Length or chunked) and owns the connection.
    private static func isFramingHeader(_ name: String) -> Bool {
        let lowered = name.lowercased()
        return lowered == "content-length" || lowered == "transfer-encoding" || lowered == "connection"
    }
}
