import HTTPServer
import Logging
import Synchronization

/// A handler made of a closure.
struct ClosureHandler: HTTPHandler {
    let body: @Sendable (HTTPRequest) async -> HTTPResponse

    init(_ body: @escaping @Sendable (HTTPRequest) async -> HTTPResponse) { self.body = body }

    func handle(_ request: HTTPRequest) async -> HTTPResponse { await self.body(request) }
}

/// A one-shot signal tasks can wait for: `open` releases every waiter, now and later.
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func open() {
        let waiters = self.state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    var isOpen: Bool { self.state.withLock { $0.isOpen } }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let isOpen = self.state.withLock { state in
                if !state.isOpen { state.waiters.append(continuation) }
                return state.isOpen
            }
            if isOpen { continuation.resume() }
        }
    }

    /// Waits for `open` for at most `timeout`; true when it opened.
    func wait(timeout: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.wait()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            // The sleeping child ends on cancellation; a waiting one is released by opening.
            group.cancelAll()
            if !first { self.open() }
            return first
        }
    }
}

/// A value set from another task.
final class Box<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func get() -> Value { self.value.withLock { $0 } }
    func set(_ new: Value) { self.value.withLock { $0 = new } }
    func update<T>(_ body: (inout Value) -> T) -> T { self.value.withLock { body(&$0) } }
}

/// Starts a server on an ephemeral loopback port, runs `body`, and always shuts it down.
func withServer<T>(
    _ configuration: HTTPServer.Configuration = .init(),
    handler: @escaping @Sendable (HTTPRequest) async -> HTTPResponse,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    let server = HTTPServer(configuration: configuration, handler: ClosureHandler(handler), logger: .silent)
    try server.start()
    do {
        let result = try await body(server)
        await server.shutdown(drainTimeout: .seconds(2))
        return result
    } catch {
        await server.shutdown(drainTimeout: .seconds(2))
        throw error
    }
}

extension HTTPResponse {
    static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain"], body: .bytes(Array(text.utf8)))
    }
}
