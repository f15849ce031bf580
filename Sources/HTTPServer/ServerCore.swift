import CMicroHTTPD
import Glibc
import Logging
import Synchronization

/// What the C callbacks reach through their `cls` pointer: the handler, the settings they
/// need and the set of requests in flight. It outlives the daemon (the `HTTPServer` holds it
/// and stops the daemon first), so callbacks take it unretained.
final class ServerCore: Sendable {
    let handler: any HTTPHandler
    let logger: Logger
    let maxBodyBytes: Int
    private let inFlight = Mutex<[ObjectIdentifier: RequestContext]>([:])
    private let draining = Atomic<Bool>(false)
    private let closing = Atomic<Bool>(false)

    init(handler: any HTTPHandler, logger: Logger, maxBodyBytes: Int) {
        self.handler = handler
        self.logger = logger
        self.maxBodyBytes = maxBodyBytes
    }

    /// Set once shutdown began: responses carry `Connection: close`.
    var isDraining: Bool { self.draining.load(ordering: .acquiring) }

    /// Set when the drain is over: new access-handler calls close their connection.
    var isClosing: Bool { self.closing.load(ordering: .acquiring) }

    /// Requests between their URI line and their completion.
    var inFlightCount: Int { self.inFlight.withLock { $0.count } }

    var inFlightContexts: [RequestContext] { self.inFlight.withLock { Array($0.values) } }

    func beginDraining() { self.draining.store(true, ordering: .releasing) }

    /// Closes every request still in flight; streams see their client gone.
    func abortAll() {
        // Set before the snapshot: a context that suspends after this point checks the flag
        // under its own lock, so none is left suspended when the daemon stops.
        self.closing.store(true, ordering: .releasing)
        for context in self.inFlightContexts {
            context.abort()
        }
    }

    fileprivate func register(_ context: RequestContext) {
        self.inFlight.withLock { $0[ObjectIdentifier(context)] = context }
    }

    fileprivate func unregister(_ context: RequestContext) {
        _ = self.inFlight.withLock { $0.removeValue(forKey: ObjectIdentifier(context)) }
    }
}

// MARK: - C callbacks

// These are plain functions (not in main.swift, not actor-isolated): MHD calls them on its
// own threads.

extension ServerCore {
    static let uriLogCallback: keyrelay_uri_log_callback = { cls, uri, connection in
        let core = Unmanaged<ServerCore>.fromOpaque(cls!).takeUnretainedValue()
        let context = RequestContext(
            core: core,
            connection: ConnectionHandle(pointer: connection),
            target: String(cString: uri)
        )
        core.register(context)
        // Balanced by `completedCallback`, which MHD calls for every request that reached here.
        return Unmanaged.passRetained(context).toOpaque()
    }

    static let accessHandler: MHD_AccessHandlerCallback = {
        _,
        _,
        _,
        method,
        _,
        upload,
        uploadSize,
        conCls in
        guard let pointer = conCls?.pointee, let uploadSize else { return .NO }
        let context = Unmanaged<RequestContext>.fromOpaque(pointer).takeUnretainedValue()
        return context.access(
            method: method.map { String(cString: $0) } ?? "GET",
            upload: upload,
            uploadSize: uploadSize
        )
    }

    static let completedCallback: MHD_RequestCompletedCallback = { _, _, conCls, _ in
        guard let conCls, let pointer = conCls.pointee else { return }
        conCls.pointee = nil
        let context = Unmanaged<RequestContext>.fromOpaque(pointer).takeRetainedValue()
        context.core.unregister(context)
    }

    static let logCallback: MHD_LogCallback = { cls, format, arguments in
        guard let cls, let format, let arguments else { return }
        let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()
        var buffer = [CChar](repeating: 0, count: 512)
        _ = vsnprintf(&buffer, buffer.count, format, arguments)
        let length = buffer.firstIndex(of: 0) ?? buffer.count
        let bytes = buffer[..<length].map { UInt8(bitPattern: $0) }
        let message = String(decoding: bytes, as: UTF8.self).trimmingTrailingNewlines()
        core.logger.debug("libmicrohttpd message", ["mhd.message": message])
    }
}

extension String {
    fileprivate func trimmingTrailingNewlines() -> String {
        var copy = self
        while copy.last?.isNewline == true { copy.removeLast() }
        return copy
    }
}
