import Foundation
import Synchronization

/// A small fixed pool of `PostgresConnection`s shared by async callers. A caller takes an idle
/// connection or waits in line (first come, first served) until one is returned; nobody spins.
/// A connection that broke is handed out like any other: it reopens itself on its next use.
package final class PostgresPool: Sendable {
    private struct State {
        var idle: [PostgresConnection]
        var waiters: [CheckedContinuation<PostgresConnection?, Never>] = []
        var isClosed = false
    }

    private let state: Mutex<State>
    /// How many connections the pool owns.
    package let size: Int

    /// Opens `size` connections (at least 1) to `url` before returning.
    /// - Throws: `.unavailable` when a connection cannot be opened (the ones already open are
    ///   closed again).
    package static func connect(url: String, size: Int) async throws(StoreError) -> PostgresPool {
        var connections: [PostgresConnection] = []
        do throws(StoreError) {
            for _ in 0..<max(1, size) {
                connections.append(try await PostgresConnection.connect(url: url))
            }
        } catch {
            for connection in connections { await connection.close() }
            throw error
        }
        return PostgresPool(connections: connections)
    }

    private init(connections: [PostgresConnection]) {
        self.size = connections.count
        self.state = Mutex(State(idle: connections))
    }

    /// Runs `body` on a pooled connection's queue (see `PostgresConnection.perform`).
    /// - Throws: whatever `body` or the connection throws; `.closed` after `close()`.
    @discardableResult
    package func perform<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (PostgresConnection) throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        let connection = try await self.acquire(operation)
        defer { self.release(connection) }
        return try await connection.perform(operation, body)
    }

    /// Closes every connection: idle ones now, busy ones when they come back. Waiting callers
    /// fail with `.closed`. Idempotent.
    package func close() async {
        let (idle, waiters) = self.state.withLock { state in
            state.isClosed = true
            defer {
                state.idle.removeAll()
                state.waiters.removeAll()
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
        for connection in idle { await connection.close() }
    }

    private func acquire(_ operation: String) async throws(StoreError) -> PostgresConnection {
        enum Decision {
            case take(PostgresConnection)
            case wait
            case closed
        }
        let decision: Decision = self.state.withLock { state in
            if state.isClosed { return .closed }
            if let connection = state.idle.popLast() { return .take(connection) }
            return .wait
        }
        switch decision {
        case .take(let connection):
            return connection
        case .closed:
            throw StoreError(.closed, operation: operation)
        case .wait:
            let connection: PostgresConnection? = await withCheckedContinuation { continuation in
                // The state may have changed since the first look: decide again under the lock.
                let immediate: PostgresConnection?? = self.state.withLock { state in
                    if state.isClosed { return .some(nil) }
                    if let connection = state.idle.popLast() { return .some(connection) }
                    state.waiters.append(continuation)
                    return .none
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
            guard let connection else { throw StoreError(.closed, operation: operation) }
            return connection
        }
    }

    private func release(_ connection: PostgresConnection) {
        let (waiter, closeIt): (CheckedContinuation<PostgresConnection?, Never>?, Bool) = self.state.withLock { state in
            if state.isClosed { return (nil, true) }
            if !state.waiters.isEmpty { return (state.waiters.removeFirst(), false) }
            state.idle.append(connection)
            return (nil, false)
        }
        if let waiter {
            waiter.resume(returning: connection)
        } else if closeIt {
            // Closing hops to the connection's queue; nothing waits for it.
            Task { await connection.close() }
        }
    }
}
