import Foundation

/// A fresh, empty directory under the system temp directory, removed with everything in it when
/// the last reference goes away. Each test gets its own, so tests can run in parallel.
public final class TemporaryDirectory: Sendable {
    /// The directory; it exists from `init` until deinitialisation.
    public let url: URL

    /// Creates `<tmp>/<prefix>-<uuid>`.
    /// - Throws: the file system's error when the directory cannot be created.
    public init(prefix: String = "keyrelay-test") throws {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        self.url = url
    }

    deinit {
        try? FileManager.default.removeItem(at: self.url)
    }

    /// The path of `name` inside the directory (not created).
    public func path(_ name: String) -> String {
        self.url.appendingPathComponent(name).path
    }
}
