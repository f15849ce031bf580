import Dispatch
import Glibc

/// Notices clients that disconnect from a streamed response.
///
/// libmicrohttpd sees a disconnect only when it next writes, and a stream waiting for upstream
/// bytes writes nothing (injecting keep-alive comments would corrupt Gemini streams). So every
/// `interval` this polls each streaming socket for a peer hang-up, on its own queue (never the
/// Swift pool), and aborts the writers whose client has gone.
///
/// `@unchecked Sendable`: a dispatch timer source may be cancelled from any thread.
final class ClientGoneWatchdog: @unchecked Sendable {
    /// Linux's `POLLRDHUP`; Glibc exports it only under `_GNU_SOURCE`.
    private static let peerHangUp: Int16 = 0x2000

    private let core: ServerCore
    private let timer: DispatchSourceTimer
    private let queue = DispatchQueue(label: "keyrelay.http.client-gone-watchdog")

    init(core: ServerCore, interval: Duration = .milliseconds(200)) {
        self.core = core
        self.timer = DispatchSource.makeTimerSource(queue: self.queue)
        let milliseconds = Int(
            interval.components.seconds * 1_000 + interval.components.attoseconds / 1_000_000_000_000_000
        )
        self.timer.schedule(deadline: .now(), repeating: .milliseconds(milliseconds), leeway: .milliseconds(20))
        self.timer.setEventHandler { [core] in Self.check(core) }
        self.timer.resume()
    }

    func stop() {
        self.timer.cancel()
    }

    private static func check(_ core: ServerCore) {
        let streams = core.inFlightContexts.compactMap { $0.streamingWriter }.filter { $0.writer.isStreaming }
        guard !streams.isEmpty else { return }

        // POLLRDHUP: the peer closed its side. POLLIN alone (a pipelined request) is no hang-up.
        var descriptors = streams.map { pollfd(fd: $0.socket, events: Self.peerHangUp, revents: 0) }
        guard poll(&descriptors, nfds_t(descriptors.count), 0) > 0 else { return }
        let hangUp = Self.peerHangUp | Int16(POLLHUP) | Int16(POLLERR)
        for (stream, descriptor) in zip(streams, descriptors) where descriptor.revents & hangUp != 0 {
            core.logger.debug("client gone mid-stream")
            stream.writer.abort()
        }
    }
}
