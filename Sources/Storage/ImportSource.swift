import CSQLite
import Dispatch
import Foundation

/// The tables of a gemini-balance database that `keyrelay import-v1` reads, as text cells: its
/// settings (`t_settings`) and its usage table in the v1.5 shape (`t_usage_stats`) or the v2 shape
/// (`t_usage_matrix`), read from its SQLite file or from one CSV file per table.
///
/// Reading never changes the source: the SQLite file is opened read-only.
public struct ImportSource: Sendable {
    /// One table: its header and its rows, cells as text (nil is SQL NULL).
    public struct Table: Sendable, Hashable {
        /// The table's name, e.g. `t_usage_matrix`.
        public var name: String
        /// Column names in file order, lower-cased.
        public var columns: [String]
        /// Rows in source order.
        public var rows: [Row]

        public init(name: String, columns: [String], rows: [Row]) {
            self.name = name
            self.columns = columns.map { $0.lowercased() }
            self.rows = rows
        }
    }

    /// One row of a table, with its 1-based position so reports can name it without its content.
    public struct Row: Sendable, Hashable {
        /// 1-based position among the table's data rows (the CSV header is not counted).
        public var number: Int
        /// Column name → text; a column the row has no value for is absent.
        public var cells: [String: String?]

        public init(number: Int, cells: [String: String?]) {
            self.number = number
            self.cells = cells
        }

        /// The non-empty text of `column` with surrounding whitespace trimmed, or nil.
        public func text(_ column: String) -> String? {
            guard case .some(.some(let value)) = self.cells[column] else { return nil }
            let trimmed = value.trimmingWhitespace()
            return trimmed.isEmpty ? nil : trimmed
        }
    }

    /// Tables this importer understands; any other table of the source is ignored.
    public static let knownTables = ["t_settings", "t_usage_stats", "t_usage_matrix"]

    /// `t_settings`, when the source has it.
    public var settings: Table?
    /// Usage tables found (`t_usage_stats`, `t_usage_matrix`, or both after a failed migration).
    public var usage: [Table]
    /// Rows that could not be read at all (a CSV row of the wrong width), for the report.
    public var unreadable: [ImportSkip]
    /// Where the tables came from, for the report (a path; never a secret).
    public var origin: String

    public init(settings: Table?, usage: [Table], unreadable: [ImportSkip] = [], origin: String) {
        self.settings = settings
        self.usage = usage
        self.unreadable = unreadable
        self.origin = origin
    }

    /// Builds a source from tables; unknown table names are ignored.
    static func from(tables: [Table], unreadable: [ImportSkip], origin: String) throws(ImportError) -> ImportSource {
        let settings = tables.first { $0.name == "t_settings" }
        let usage = tables.filter { $0.name == "t_usage_stats" || $0.name == "t_usage_matrix" }
            .sorted { $0.name > $1.name }
        guard settings != nil || !usage.isEmpty else {
            throw ImportError(.notGeminiBalance, detail: "\(origin) has none of " + knownTables.joined(separator: ", "))
        }
        return ImportSource(settings: settings, usage: usage, unreadable: unreadable, origin: origin)
    }

    // MARK: - SQLite

    /// Reads the known tables of a gemini-balance SQLite file, read-only, on a queue of its own.
    /// - Throws: `.cannotOpen` when the file is missing or not SQLite; `.notGeminiBalance` when it
    ///   has none of the known tables.
    public static func readSQLite(path: String) async throws(ImportError) -> ImportSource {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ImportError(.cannotOpen, detail: "no file at \(path)")
        }
        let queue = DispatchQueue(label: "keyrelay.import.source")
        let result: Result<[Table], ImportError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(ImportError) {
                    continuation.resume(returning: .success(try Self.readTables(path: path)))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try Self.from(tables: try result.get(), unreadable: [], origin: path)
    }

    private static func readTables(path: String) throws(ImportError) -> [Table] {
        var handle: OpaquePointer?
        let rc = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        defer { sqlite3_close_v2(handle) }
        guard rc == SQLITE_OK, let handle else {
            throw ImportError(.cannotOpen, detail: "\(path) cannot be opened (SQLite code \(rc))")
        }
        sqlite3_busy_timeout(handle, 5000)
        let present: [String]
        do {
            present = try Self.select("SELECT name FROM sqlite_master WHERE type = 'table'", on: handle).rows
                .compactMap { $0.text("name") }
        } catch {
            throw ImportError(.cannotOpen, detail: "\(path) is not a SQLite database")
        }
        var tables: [Table] = []
        for name in Self.knownTables where present.contains(name) {
            // The name comes from the fixed list above, never from the file.
            var table = try Self.select("SELECT * FROM \(name)", on: handle)
            table.name = name
            tables.append(table)
        }
        return tables
    }

    private static func select(_ sql: String, on handle: OpaquePointer) throws(ImportError) -> Table {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw ImportError(.cannotOpen, detail: "cannot read the source database")
        }
        defer { sqlite3_finalize(statement) }
        let count = sqlite3_column_count(statement)
        let columns = (0..<count).map { String(cString: sqlite3_column_name(statement, $0)).lowercased() }
        var rows: [Row] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else { throw ImportError(.cannotOpen, detail: "reading failed (code \(step))") }
            var cells: [String: String?] = [:]
            for index in 0..<count {
                let text = sqlite3_column_text(statement, index).map { String(cString: $0) }
                cells[columns[Int(index)]] = .some(text)
            }
            rows.append(Row(number: rows.count + 1, cells: cells))
        }
        return Table(name: "", columns: columns, rows: rows)
    }

    // MARK: - CSV

    /// Reads `t_settings.csv`, `t_usage_stats.csv` and `t_usage_matrix.csv` (whichever exist) from
    /// `directory`: a header row, then RFC 4180 rows (quotes, doubled quotes, CRLF). An unquoted
    /// `\N` or `NULL` is SQL NULL, as MySQL exports write it. A row of the wrong width is reported
    /// in `unreadable` and left out.
    /// - Throws: `.cannotOpen` for a missing directory or unreadable file; `.notGeminiBalance` when
    ///   none of the files exists.
    public static func readCSV(directory: String) throws(ImportError) -> ImportSource {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ImportError(.cannotOpen, detail: "no directory at \(directory)")
        }
        var tables: [Table] = []
        var unreadable: [ImportSkip] = []
        for name in Self.knownTables {
            let path = URL(fileURLWithPath: directory).appendingPathComponent("\(name).csv").path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
            else { throw ImportError(.cannotOpen, detail: "\(path) cannot be read as UTF-8 text") }
            var records = CSVParser.records(text)
            guard !records.isEmpty else { continue }
            let header = records.removeFirst().map { ($0.text ?? "").trimmingWhitespace().lowercased() }
            var rows: [Row] = []
            for (offset, record) in records.enumerated() {
                let number = offset + 1
                if record.count == 1, record[0].text?.isEmpty ?? false { continue }  // blank line
                guard record.count == header.count else {
                    unreadable.append(
                        ImportSkip(
                            item: "\(name).csv row \(number)",
                            reason: "has \(record.count) fields, the header has \(header.count)"
                        )
                    )
                    continue
                }
                var cells: [String: String?] = [:]
                for (column, field) in zip(header, record) { cells[column] = .some(field.text) }
                rows.append(Row(number: number, cells: cells))
            }
            tables.append(Table(name: name, columns: header, rows: rows))
        }
        return try Self.from(tables: tables, unreadable: unreadable, origin: directory)
    }
}

/// A minimal RFC 4180 reader: fields separated by commas, records by LF or CRLF, quoted fields
/// may hold commas, newlines and doubled quotes.
enum CSVParser {
    struct Field: Hashable {
        /// The field's text; nil for an unquoted `\N` or `NULL` (SQL NULL in MySQL exports).
        var text: String?
    }

    static func records(_ text: String) -> [[Field]] {
        var records: [[Field]] = []
        var record: [Field] = []
        var field = ""
        var quoted = false
        var wasQuoted = false
        var iterator = Array(text.unicodeScalars)
        if iterator.first == "\u{FEFF}" { iterator.removeFirst() }
        var index = 0

        func finishField() {
            let isNull = !wasQuoted && (field == "\\N" || field == "NULL")
            record.append(Field(text: isNull ? nil : field))
            field = ""
            wasQuoted = false
        }
        while index < iterator.count {
            let scalar = iterator[index]
            index += 1
            if quoted {
                if scalar == "\"" {
                    if index < iterator.count, iterator[index] == "\"" {
                        field.unicodeScalars.append("\"")
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty:
                quoted = true
                wasQuoted = true
            case ",":
                finishField()
            case "\r":
                continue
            case "\n":
                finishField()
                records.append(record)
                record = []
            default:
                field.unicodeScalars.append(scalar)
            }
        }
        if !field.isEmpty || wasQuoted || !record.isEmpty {
            finishField()
            records.append(record)
        }
        return records
    }
}

/// Something the importer left out, and why. `item` names it by table and row number, setting
/// name and entry number, or a fingerprint: never by a secret.
public struct ImportSkip: Sendable, Hashable, CustomStringConvertible {
    /// What was skipped, e.g. `API_KEYS entry 3 (#1a2b3c4d)` or `t_usage_stats row 7`.
    public var item: String
    /// Why, e.g. `malformed key (whitespace or a control character)`.
    public var reason: String

    public init(item: String, reason: String) {
        self.item = item
        self.reason = reason
    }

    public var description: String { "\(self.item): \(self.reason)" }
}

/// Why an import could not start. `description` names a path, never a secret.
public struct ImportError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ name: String) { self.description = name }

        /// The source file or directory is missing or unreadable.
        public static let cannotOpen = Code("cannot open the source")
        /// The source holds none of gemini-balance's tables.
        public static let notGeminiBalance = Code("not a gemini-balance database")
    }

    public var code: Code
    /// A path or a count; never a cell's content.
    public var detail: String

    public init(_ code: Code, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(self.code): \(self.detail)" }
}
