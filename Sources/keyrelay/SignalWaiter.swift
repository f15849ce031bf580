import Dispatch
import Foundation
import Synchronization

/// Waits for SIGTERM or SIGINT. The default handlers are replaced when this is created, so a
/// signal that arrives before `wait()` is not lost.
final class SignalWaiter: Sendable {
    // Held only to keep the sources alive; never touched after init.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]
    private let state = Mutex<(received: String?, waiter: CheckedContinuation<String, Never>?)>((nil, nil))

    init() {
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            sources.append(source)
        }
        self.sources = sources
        for (source, name) in zip(sources, ["SIGTERM", "SIGINT"]) {
            source.setEventHandler { [weak self] in self?.deliver(name) }
            source.resume()
        }
    }

    /// The name of the first signal received.
    func wait() async -> String {
        await withCheckedContinuation { continuation in
            let ready: String? = self.state.withLock { state in
                if let received = state.received { return received }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    private func deliver(_ name: String) {
        let waiter = self.state.withLock { state -> CheckedContinuation<String, Never>? in
            guard state.received == nil else { return nil }
            state.received = name
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: name)
    }
}
