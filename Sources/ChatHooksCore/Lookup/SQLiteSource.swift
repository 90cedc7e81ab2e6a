import CSQLite
import Glibc

/// A lookup in an SQLite database file that another program may be writing:
/// one SELECT with named parameters (`:email`, `@id`, `$name`), each bound as
/// TEXT from the request, never written into the SQL.
///
/// Every call opens the file read-only (`SQLITE_OPEN_READONLY`, not
/// `immutable`: a writer's changes are seen), prepares the query, and closes the
/// connection again before returning, on every path. A statement that would
/// write (`DELETE`, `INSERT`, `PRAGMA journal_mode=…`) is refused before it runs;
/// the read-only connection would refuse it anyway.
///
/// Column values, as text:
/// - INTEGER: decimal (`42`, `-7`).
/// - REAL: SQLite's own rendering, the same as `CAST(x AS TEXT)`: `1.5`,
///   `100.0`, `1.0e+20`, `1.0e-07`, 15 significant digits
///   (`1.23456789012346e+17`), `Inf`/`-Inf`.
/// - TEXT: as stored. Text that is not UTF-8 fails the lookup (LookupError
///   naming the column) rather than being altered.
/// - NULL and BLOB: the field is left out of the row.
public struct SQLiteSource: Sendable {
    /// How long one lookup's SQL may run (wall clock, from opening the file)
    /// before it is stopped: SPALO waits 5 s for the whole answer.
    public static let defaultTimeLimitMilliseconds = 2000
    /// The most of one value that is read: 50 characters of up to 4 bytes, with room.
    static let valuePrefix = 1024

    public let path: String
    public let query: String
    public let busyTimeoutMilliseconds: Int
    public let timeLimitMilliseconds: Int

    /// `busyTimeoutMilliseconds`: how long to wait for a database another program is writing (locked) before failing.
    public init(path: String, query: String, busyTimeoutMilliseconds: Int = 1000,
                timeLimitMilliseconds: Int = SQLiteSource.defaultTimeLimitMilliseconds) {
        self.path = path
        self.query = query
        self.busyTimeoutMilliseconds = busyTimeoutMilliseconds
        self.timeLimitMilliseconds = timeLimitMilliseconds
    }

    /// Opens read-only and prepares; the parameter names the query uses, as written (":email", "@id", "$name").
    /// Fails when the file is missing, is not a database, the SQL does not prepare, is not one reading
    /// statement, or has positional parameters (`?`, `?1`): only named parameters can be bound from the config.
    public func parameterNames() throws(LookupError) -> [String] {
        try withStatement { statement throws(LookupError) in try statement.parameterNames() }
    }

    /// Runs the query with each named parameter bound as TEXT, at most `limit` rows (none when `limit` < 1).
    /// `parameters` names each parameter without its prefix character: `email` binds `:email` (or `@email`,
    /// `$email`, however the query writes it). They must be exactly the query's parameters, each once.
    public func rows(binding parameters: [LookupField], limit: Int) throws(LookupError) -> [LookupRow] {
        try withStatement { statement throws(LookupError) in
            try statement.bind(parameters)
            return try statement.rows(limit: limit)
        }
    }

    /// For `chathooks check`: opens, prepares, and compares the query's parameters with `expected`
    /// (the names the config binds, without prefix, as for `rows`); a one-line summary or the error.
    public func check(expected: [String]) -> Result<String, LookupError> {
        do {
            return .success(try withStatement { statement throws(LookupError) in
                let written = try statement.parameterNames()
                try statement.matchParameters(expected)
                let columns = statement.columnNames()
                let binds = written.isEmpty ? "binds nothing" : "binds " + written.joined(separator: ", ")
                let returns = columns.isEmpty ? "returns no columns" : "returns " + columns.joined(separator: ", ")
                return "SQLite \(path): opens read-only; the query \(binds) and \(returns)"
            })
        } catch {
            return .failure(error)
        }
    }

    /// Opens, prepares, runs `body`, and finalizes and closes whatever happens.
    private func withStatement<R>(_ body: (SQLiteStatement) throws(LookupError) -> R) throws(LookupError) -> R {
        var deadline = monotonicNanoseconds() + UInt64(max(timeLimitMilliseconds, 0)) * 1_000_000
        return try withUnsafeMutablePointer(to: &deadline) { deadline throws(LookupError) in
            var db: OpaquePointer?
            defer { sqlite3_close_v2(db) }  // also after a failed open, which still allocates a handle
            let opened = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil)
            guard opened == SQLITE_OK, let db else {
                throw failure("cannot open", db: db, code: opened)
            }
            sqlite3_busy_timeout(db, Int32(clamping: busyTimeoutMilliseconds))
            // Polled every 1000 virtual-machine steps: a nonzero return interrupts the statement.
            sqlite3_progress_handler(db, 1000, { deadline in
                guard let deadline else { return 0 }
                return monotonicNanoseconds() >= deadline.load(as: UInt64.self) ? 1 : 0
            }, deadline)
            var handle: OpaquePointer?
            var tail: UnsafePointer<CChar>?
            let prepared = query.withCString { sqlite3_prepare_v2(db, $0, -1, &handle, &tail) }
            defer { sqlite3_finalize(handle) }
            guard prepared == SQLITE_OK else {
                throw failure(prepared & 0xff == SQLITE_ERROR ? "the query does not prepare" : "cannot read",
                              db: db, code: prepared)
            }
            guard let handle else { throw LookupError("SQLite \(path): the query is empty") }
            if let tail, try hasStatement(db, tail) {
                throw LookupError("SQLite \(path): the query is more than one statement")
            }
            guard sqlite3_stmt_readonly(handle) != 0 else {
                throw LookupError("SQLite \(path): the query would write to the database; only reading queries run")
            }
            return try body(SQLiteStatement(db: db, handle: handle, source: self))
        }
    }

    /// Whether SQL after the first statement holds another one (not just spaces and comments).
    private func hasStatement(_ db: OpaquePointer, _ sql: UnsafePointer<CChar>) throws(LookupError) -> Bool {
        var next: OpaquePointer?
        let code = sqlite3_prepare_v2(db, sql, -1, &next, nil)
        defer { sqlite3_finalize(next) }
        guard code == SQLITE_OK else { throw failure("the query does not prepare", db: db, code: code) }
        return next != nil
    }

    fileprivate func failure(_ what: String, db: OpaquePointer?, code: Int32) -> LookupError {
        var detail = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        if code & 0xff == SQLITE_INTERRUPT {
            detail = "stopped after \(timeLimitMilliseconds) ms"
        } else if code & 0xff == SQLITE_CANTOPEN || code & 0xff == SQLITE_IOERR, let db, sqlite3_system_errno(db) != 0 {
            detail += " (" + String(cString: strerror(sqlite3_system_errno(db))) + ")"
        }
        return LookupError("SQLite \(path): \(what): \(detail)")
    }
}

/// A prepared statement on an open connection, valid only inside `withStatement`.
private struct SQLiteStatement {
    let db: OpaquePointer
    let handle: OpaquePointer
    let source: SQLiteSource

    /// The names as written, prefix included; positional parameters refused.
    func parameterNames() throws(LookupError) -> [String] {
        var names: [String] = []
        let count = sqlite3_bind_parameter_count(handle)
        guard count > 0 else { return [] }
        for index in 1...count {
            guard let name = sqlite3_bind_parameter_name(handle, index).map({ String(cString: $0) }),
                  !name.hasPrefix("?") else {
                throw LookupError("SQLite \(source.path): the query has a positional parameter (? or ?N); "
                                  + "only named ones (:name, @name, $name) can be bound from the config")
            }
            names.append(name)
        }
        let bare = names.map { String($0.dropFirst()) }
        if let twice = bare.enumerated().first(where: { bare[..<$0.offset].contains($0.element) }) {
            let spellings = names.filter { $0.dropFirst() == twice.element }.joined(separator: ", ")
            throw LookupError("SQLite \(source.path): the query writes parameter \(twice.element) "
                              + "with two prefixes (\(spellings))")
        }
        return names
    }

    /// `names` (without prefix) must be exactly the query's parameters; their indexes in that order.
    @discardableResult
    func matchParameters(_ names: [String]) throws(LookupError) -> [Int32] {
        let written = try parameterNames()
        let bare = written.map { String($0.dropFirst()) }
        if let doubled = names.enumerated().first(where: { names[..<$0.offset].contains($0.element) }) {
            throw LookupError("SQLite \(source.path): parameter \(doubled.element) is bound twice")
        }
        if let extra = names.first(where: { !bare.contains($0) }) {
            let hint = bare.contains(String(extra.dropFirst())) ? " (name it without its prefix)" : ""
            throw LookupError("SQLite \(source.path): the config binds \(extra), which the query does not use\(hint)")
        }
        if let missing = written.first(where: { !names.contains(String($0.dropFirst())) }) {
            throw LookupError("SQLite \(source.path): the query needs \(missing), which the config does not bind")
        }
        return names.map { name in Int32(bare.firstIndex(of: name)! + 1) }
    }

    func bind(_ parameters: [LookupField]) throws(LookupError) {
        let indexes = try matchParameters(parameters.map(\.name))
        for (parameter, index) in zip(parameters, indexes) {
            // The length in bytes, so that a NUL inside the value is bound too and does not end it.
            let code = parameter.value.withCString { text in
                sqlite3_bind_text64(handle, index, text, UInt64(parameter.value.utf8.count),
                                    chathooks_sqlite_transient(), UInt8(SQLITE_UTF8))
            }
            guard code == SQLITE_OK else {
                throw source.failure("cannot bind \(parameter.name)", db: db, code: code)
            }
        }
    }

    func columnNames() -> [String] {
        (0..<sqlite3_column_count(handle)).map { String(cString: sqlite3_column_name(handle, $0)) }
    }

    func rows(limit: Int) throws(LookupError) -> [LookupRow] {
        let names = columnNames()
        var rows: [LookupRow] = []
        while rows.count < limit {
            let code = sqlite3_step(handle)
            if code == SQLITE_DONE { break }
            guard code == SQLITE_ROW else { throw source.failure("the query failed", db: db, code: code) }
            var fields: [LookupField] = []
            for (column, name) in names.enumerated() {
                if let value = try value(Int32(column), name: name, row: rows.count + 1) {
                    fields.append(LookupField(name: name, value: value))
                }
            }
            rows.append(LookupRow(fields))
        }
        return rows
    }

    /// The column's value as text; nil for NULL and BLOB.
    private func value(_ column: Int32, name: String, row: Int) throws(LookupError) -> String? {
        switch sqlite3_column_type(handle, column) {
        case SQLITE_INTEGER:
            return String(sqlite3_column_int64(handle, column))
        case SQLITE_FLOAT, SQLITE_TEXT:
            // For REAL, SQLite's own text rendering; text first, then its length in bytes (the order SQLite asks).
            guard let text = sqlite3_column_text(handle, column) else {
                throw source.failure("cannot read column \(name)", db: db, code: sqlite3_errcode(db))
            }
            // SPALO takes 50 characters: at most `valuePrefix` bytes are
            // copied and checked (a row may hold megabytes), ending at a
            // character's end.
            var count = min(Int(sqlite3_column_bytes(handle, column)), SQLiteSource.valuePrefix)
            if count == SQLiteSource.valuePrefix {
                while count > 0 && text[count] & 0xC0 == 0x80 { count -= 1 }
            }
            let bytes = UnsafeBufferPointer(start: text, count: count)
            guard let value = String(validating: bytes, as: UTF8.self) else {
                throw LookupError("SQLite \(source.path): column \(name) of row \(row) is not UTF-8 text")
            }
            return value
        default:
            return nil
        }
    }
}
