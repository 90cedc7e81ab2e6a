import CPostgres
import ChatHooksCore
import Glibc

/// Why the sink stopped; `dataError` when PostgreSQL refused the data (the
/// row is kept aside and the rest go on), not the connection or the schema.
public struct SinkError: Error, CustomStringConvertible {
    public var message: String
    public var isDataError: Bool

    init(_ message: String, dataError: Bool) {
        self.message = message
        self.isDataError = dataError
    }

    public var description: String { message }
}

/// One libpq connection.
public final class Connection {
    let conn: OpaquePointer

    /// Connects; the error names what libpq says, never the password.
    public init(_ conninfo: String) throws(SinkError) {
        guard let c = PQconnectdb(conninfo) else { throw SinkError("libpq could not allocate a connection", dataError: false) }
        guard PQstatus(c) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(c)).trimmingTrailingNewlines
            PQfinish(c)
            throw SinkError("cannot connect to PostgreSQL: \(message)", dataError: false)
        }
        conn = c
    }

    deinit { PQfinish(conn) }

    var isBroken: Bool { PQstatus(conn) != CONNECTION_OK }

    /// Runs one statement with text parameters; its rows as text.
    @discardableResult
    func exec(_ sql: String, _ params: [String?] = []) throws(SinkError) -> [[String?]] {
        var cStrings: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0) } ?? nil }
        defer { for p in cStrings { free(p) } }
        // Without parameters, PQexec: it takes several statements (the schema's steps).
        let result: OpaquePointer? = params.isEmpty ? PQexec(conn, sql) : cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { values in
                PQexecParams(conn, sql, Int32(params.count), nil, values, nil, nil, 0)
            }
        }
        guard let result else { throw SinkError("PostgreSQL: \(errorMessage)", dataError: false) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
            let message = String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines
            // SQLSTATE class 22 (data exception) and 23 (integrity): the data, not the connection.
            throw SinkError("PostgreSQL: \(message)", dataError: state.hasPrefix("22") || state.hasPrefix("23"))
        }
        var rows: [[String?]] = []
        for r in 0..<PQntuples(result) {
            var row: [String?] = []
            for c in 0..<PQnfields(result) {
                row.append(PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c)))
            }
            rows.append(row)
        }
        return rows
    }

    var errorMessage: String { String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines }

    /// The statements prepared on this connection, by name.
    var prepared: Set<String> = []

    /// Sends one statement with text parameters and returns at once (its
    /// result is `result()`'s): the caller works on while the server does.
    /// Prepared once per connection under `name`: a statement of thousands
    /// of parameters is parsed and planned once, not for every batch.
    func send(_ sql: String, _ params: [String?], name: String) throws(SinkError) {
        if !prepared.contains(name) {
            guard let r = PQprepare(conn, name, sql, Int32(params.count), nil) else {
                throw SinkError("PostgreSQL: \(errorMessage)", dataError: false)
            }
            defer { PQclear(r) }
            guard PQresultStatus(r) == PGRES_COMMAND_OK else {
                throw SinkError("PostgreSQL: \(String(cString: PQresultErrorMessage(r)).trimmingTrailingNewlines)", dataError: false)
            }
            prepared.insert(name)
        }
        let cStrings: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0) } ?? nil }
        defer { for p in cStrings { free(p) } }
        let sent = cStrings.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { values in
                PQsendQueryPrepared(conn, name, Int32(params.count), values, nil, nil, 0)
            }
        }
        guard sent == 1 else { throw SinkError("PostgreSQL: \(errorMessage)", dataError: false) }
    }

    /// Waits for the sent statement's result; throws as `exec` does.
    func result() throws(SinkError) {
        var failure: SinkError? = nil
        var got = false
        while let r = PQgetResult(conn) {
            defer { PQclear(r) }
            got = true
            let status = PQresultStatus(r)
            if failure == nil && status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK {
                let state = PQresultErrorField(r, Int32(UInt8(ascii: "C"))).map { String(cString: $0) } ?? ""
                let message = String(cString: PQresultErrorMessage(r)).trimmingTrailingNewlines
                failure = SinkError("PostgreSQL: \(message)", dataError: state.hasPrefix("22") || state.hasPrefix("23"))
            }
        }
        if let failure { throw failure }
        guard got else { throw SinkError("PostgreSQL: \(errorMessage)", dataError: false) }
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = self
        while s.hasSuffix("\n") || s.hasSuffix("\r") { s.removeLast() }
        return s
    }
}

/// Whole lines after a byte offset.
enum SinkReader {
    /// At most `limit` newline-ended lines after `offset` (a line's start),
    /// the offset after the last one, and whether more whole lines follow. A
    /// last line without its newline yet is left for the next pass.
    static func lines(path: String, from offset: Int, limit: Int) -> ([[UInt8]], Int, Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return ([], offset, false) }
        defer { close(fd) }
        var out: [[UInt8]] = []
        var position = offset
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var readAt = offset
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(readAt)) }
            if n <= 0 { break }
            readAt += n
            pending += chunk[0..<n]
            var start = 0
            while out.count < limit, let newline = pending[start...].firstIndex(of: 0x0A) {
                let line = Array(pending[start..<newline])
                position += newline - start + 1
                start = newline + 1
                if !line.isEmpty { out.append(line) }  // empty lines: a write-only journal's, skipped
            }
            pending.removeSubrange(..<start)
        }
        // More to read: a whole line after the last one taken?
        var more = pending.contains(0x0A)
        if !more && out.count >= limit {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(readAt)) }
            more = n > 0 && (pending + chunk[0..<max(n, 0)]).contains(0x0A)
        }
        return (out, position, more)
    }
}

/// The sink's read position: how far each file has been forwarded, by name.
struct SinkState {
    var offsets: [String: Int] = [:]

    static func name(_ path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }

    static func load(_ path: String) -> SinkState {
        guard let bytes = try? Files.read(path, limit: 16 << 20), let value = try? JSONParser.parse(bytes),
              case .object(let files)? = value["files"] else { return SinkState() }
        var state = SinkState()
        for m in files.members {
            if let n = m.value.scalarText.flatMap({ Int($0) }) { state.offsets[m.key] = n }
        }
        return state
    }

    /// Written whole or not at all: a temporary file, fsync, rename, the folder's fsync.
    func save(_ path: String) throws(SinkError) {
        var files = JSONObject()
        for (k, v) in offsets.sorted(by: { $0.key < $1.key }) { files.append(k, .number(String(v))) }
        var root = JSONObject()
        root.append("files", .object(files))
        let bytes = JSONWriter.serialize(.object(root)) + [0x0A]
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0, writeAll(fd, bytes), fsync(fd) == 0 else {
            if fd >= 0 { close(fd) }
            throw SinkError("cannot write the sink's position to \(temporary): \(SystemError("write", path: temporary))", dataError: false)
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            throw SinkError("cannot save the sink's position: \(SystemError("rename", path: path))", dataError: false)
        }
        try? Files.syncDirectory(Files.directoryName(path))
    }
}
