/// A failed store operation. `description` names the operation and a code, never server text,
/// SQL values or secrets, so it is safe for logs and error bodies.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ name: String) { self.description = name }

        /// The database could not be opened or reached.
        public static let unavailable = Code("unavailable")
        /// The connection dropped during the operation.
        public static let connectionLost = Code("connection lost")
        /// A constraint or concurrent change refused the write.
        public static let conflict = Code("conflict")
        /// An applied migration file changed afterwards.
        public static let checksumMismatch = Code("checksum mismatch")
        /// The database's schema is newer than this build knows.
        public static let schemaTooNew = Code("schema too new")
        /// Migrations are pending and the caller asked not to apply them (`keyrelay migrate` does).
        public static let schemaBehind = Code("schema not migrated")
        /// A row or key the operation names does not exist.
        public static let notFound = Code("not found")
        /// The database answered with an error not listed above.
        public static let database = Code("database error")
        /// The store was closed.
        public static let closed = Code("closed")
    }

    public var code: Code
    /// What was being done: `reserve`, `migrate 0003_add_usage_daily`.
    public var operation: String
    /// SQLite's extended result code or PostgreSQL's SQLSTATE, when the database gave one.
    public var nativeCode: String?

    public init(_ code: Code, operation: String, nativeCode: String? = nil) {
        self.code = code
        self.operation = operation
        self.nativeCode = nativeCode
    }

    public var description: String { "store error: \(self.operation) failed (\(self.code))" }

    public var debugDescription: String {
        "StoreError(code: \(self.code), operation: \(self.operation), native: \(self.nativeCode ?? "none"))"
    }
}
