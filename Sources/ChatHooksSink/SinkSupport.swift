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

    /// Connects; the error names what libpq says, never the password. A
    /// connection string libpq cannot parse is refused without libpq's
    /// message, which quotes the string (password and all).
    public init(_ conninfo: String) throws(SinkError) {
        var parseError: UnsafeMutablePointer<CChar>? = nil
        guard let options = PQconninfoParse(conninfo, &parseError) else {
            if let parseError { PQfreemem(parseError) }
            throw SinkError("sink.postgres.conninfo cannot be read as a libpq connection string (libpq's message is left out:"
                            + " it quotes the string, password and all); see the README's \"More than one server\"", dataError: false)
        }
        // The password, to be taken out of any message libpq gives later.
        var secrets: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if String(cString: keyword) == "password", let value = option.pointee.val { secrets.append(String(cString: value)) }
            option += 1
        }
        PQconninfoFree(options)
        if let password = getenv("PGPASSWORD") { secrets.append(String(cString: password)) }
        self.secrets = secrets.filter { !$0.isEmpty }
        guard let c = PQconnectdb(conninfo) else { throw SinkError("libpq could not allocate a connection", dataError: false) }
        guard PQstatus(c) == CONNECTION_OK else {
            var message = String(cString: PQerrorMessage(c)).trimmingTrailingNewlines
            for secret in self.secrets { message = message.replacingBytes(secret, with: "[secret]") }
            PQfinish(c)
            throw SinkError("cannot connect to PostgreSQL: \(message)", dataError: false)
        }
        conn = c
    }

    /// The password this connection was given: never in a message.
    let secrets: [String]

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
            let message = redact(String(cString: PQresultErrorMessage(result)).trimmingTrailingNewlines)
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

    var errorMessage: String { redact(String(cString: PQerrorMessage(conn)).trimmingTrailingNewlines) }

    func redact(_ message: String) -> String {
        var out = message
        for secret in secrets { out = out.replacingBytes(secret, with: "[secret]") }
        return out
    }

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
                throw SinkError("PostgreSQL: \(redact(String(cString: PQresultErrorMessage(r)).trimmingTrailingNewlines))", dataError: false)
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
                let message = redact(String(cString: PQresultErrorMessage(r)).trimmingTrailingNewlines)
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

/// The sink's read position: how far each file has been forwarded, by name,
/// with the file's inode (a file replaced or cut back under the same name is
/// read again from its start: the conflict clauses drop what was sent).
struct SinkState {
    var offsets: [String: Int] = [:]
    var inodes: [String: UInt64] = [:]

    static func name(_ path: String) -> String {
        String(path.split(separator: "/").last ?? Substring(path))
    }

    static func load(_ path: String) -> SinkState {
        guard let bytes = try? Files.read(path, limit: 16 << 20), let value = try? JSONParser.parse(bytes),
              case .object(let files)? = value["files"] else { return SinkState() }
        var state = SinkState()
        for m in files.members {
            // {"name": offset} (the first format) or {"name": {"offset": n, "inode": i}}.
            if let n = m.value.scalarText.flatMap({ Int($0) }) {
                state.offsets[m.key] = n
            } else if let n = m.value["offset"]?.scalarText.flatMap({ Int($0) }) {
                state.offsets[m.key] = n
                state.inodes[m.key] = m.value["inode"]?.scalarText.flatMap { UInt64($0) }
            }
        }
        return state
    }

    /// Where to read `path` from: its saved offset, unless the file there is
    /// not the one the offset was saved for (another inode, or shorter than
    /// the offset): then from its start, said on stderr.
    mutating func start(of path: String) -> Int {
        let name = SinkState.name(path)
        var st = stat()
        guard stat(path, &st) == 0 else { return offsets[name] ?? 0 }
        let inode = UInt64(st.st_ino)
        defer { inodes[name] = inode }
        guard let offset = offsets[name] else { return 0 }
        if let known = inodes[name], known != inode || Int(st.st_size) < offset {
            writeAll(2, Array("chathooks sink: \(name) is not the file whose position was saved (replaced or cut back): read again from its start\n".utf8))
            offsets[name] = 0
            return 0
        }
        if Int(st.st_size) < offset {
            writeAll(2, Array("chathooks sink: \(name) is shorter than its saved position: read again from its start\n".utf8))
            offsets[name] = 0
            return 0
        }
        return offset
    }

    /// Written whole or not at all (`Files.replace`: a temporary file, fsync, rename, the folder's fsync).
    func save(_ path: String) throws(SinkError) {
        var files = JSONObject()
        for (k, v) in offsets.sorted(by: { $0.key < $1.key }) {
            var entry = JSONObject()
            entry.append("offset", .number(String(v)))
            if let inode = inodes[k] { entry.append("inode", .number(String(inode))) }
            files.append(k, .object(entry))
        }
        var root = JSONObject()
        root.append("files", .object(files))
        let bytes = JSONWriter.serialize(.object(root)) + [0x0A]
        do {
            try Files.replace(path, with: bytes, durable: true)
        } catch {
            throw SinkError("cannot save the sink's position: \(error)", dataError: false)
        }
    }

    /// One sink a node at a time: a lock beside the state file, held for the
    /// process's life (cron and a --follow at once would race on it).
    static func lock(_ path: String) throws(SinkError) {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw SinkError("cannot open \(lockPath): \(SystemError("open", path: lockPath))", dataError: false) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw SinkError("another chathooks sink is forwarding this journal (\(lockPath) is locked); one at a time", dataError: false)
        }
        // Kept open (and locked) until the process ends.
    }
}
