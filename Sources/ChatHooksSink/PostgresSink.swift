import CPostgres
import ChatHooksCore
import Glibc

/// `chathooks sink postgres`: forwards the journal (and the action outcomes)
/// into one PostgreSQL, from any number of nodes, each event exactly once.
///
/// Each node reads its own journal files from where it stopped (its state
/// file: each file's name and byte offset), sends a batch in one
/// transaction with `ON CONFLICT (request_id) DO NOTHING`, and only after the
/// commit saves the new offsets (fsync, atomic rename). A crash at any point
/// re-sends at most the batch in flight, which the conflict clause drops: no
/// gap, nothing twice.
public struct PostgresSink {
    public var settings: PostgresSinkSettings
    public var files: JournalFiles

    public init(settings: PostgresSinkSettings, files: JournalFiles) {
        self.settings = settings
        self.files = files
    }

    /// What one pass did.
    public struct Pass {
        public var events = 0
        public var outcomes = 0
        public var rejected = 0
        /// True when a file still had more than one batch: pass again at once.
        public var more = false
    }

    /// One batch of each stream, committed, then the state saved.
    public func pass(_ db: Connection) throws(SinkError) -> Pass {
        var state = SinkState.load(settings.state)
        var result = Pass()
        for stream in [RecordStream.journal, .outcomes] {
            var lines: [PendingLine] = []
            var ends: [String: Int] = [:]
            for path in files.all(stream) {
                let name = SinkState.name(path)
                let start = state.offsets[name] ?? 0
                let room = settings.batch - lines.count
                guard room > 0 else { result.more = true; break }
                let (read, end, left) = SinkReader.lines(path: path, from: start, limit: room)
                lines += read.map { PendingLine(file: name, bytes: $0) }
                if end != start { ends[name] = end }
                if left { result.more = true }
            }
            guard !lines.isEmpty || !ends.isEmpty else { continue }
            let (sent, rejected) = try send(stream, lines, db)
            for (name, end) in ends { state.offsets[name] = end }
            try state.save(settings.state)
            if stream == .journal { result.events += sent } else { result.outcomes += sent }
            result.rejected += rejected
        }
        // Files that are gone (archived): their positions are dropped.
        let present = Set((files.all(.journal) + files.all(.outcomes)).map(SinkState.name))
        if state.offsets.keys.contains(where: { !present.contains($0) }) {
            state.offsets = state.offsets.filter { present.contains($0.key) }
            try state.save(settings.state)
        }
        return result
    }

    struct PendingLine {
        var file: String
        var bytes: [UInt8]
    }

    /// Sends the lines in one transaction; a line PostgreSQL cannot take (or
    /// that is not a record) is kept aside in the rejected file and reported,
    /// and the rest go on. Returns (sent, rejected).
    func send(_ stream: RecordStream, _ lines: [PendingLine], _ db: Connection) throws(SinkError) -> (Int, Int) {
        var rows: [(line: PendingLine, values: [String?])] = []
        var rejected = 0
        for line in lines {
            switch row(stream, line.bytes) {
            case .success(let values): rows.append((line, values))
            case .failure(let why):
                try keepAside(line, why: why)
                rejected += 1
            }
        }
        guard !rows.isEmpty else { return (0, rejected) }
        try db.exec("BEGIN")
        do {
            try insert(stream, rows.map(\.values), db)
            try db.exec("COMMIT")
            return (rows.count, rejected)
        } catch {
            _ = try? db.exec("ROLLBACK")
            guard error.isDataError else { throw error }
        }
        // A row was refused: find it, a savepoint a row, and send the rest.
        try db.exec("BEGIN")
        var sent = 0
        for r in rows {
            try db.exec("SAVEPOINT row")
            do {
                try insert(stream, [r.values], db)
                try db.exec("RELEASE SAVEPOINT row")
                sent += 1
            } catch {
                guard error.isDataError else { _ = try? db.exec("ROLLBACK"); throw error }
                try db.exec("ROLLBACK TO SAVEPOINT row")
                try keepAside(r.line, why: SinkReason("PostgreSQL refused it: \(error.message)"))
                rejected += 1
            }
        }
        try db.exec("COMMIT")
        return (sent, rejected)
    }

    static let eventColumns = ["request_id", "node", "received_at", "source", "event", "webhook", "chat_id", "remote_addr", "payload"]
    static let outcomeColumns = ["request_id", "node", "at", "run", "source", "event", "actions", "line"]

    func insert(_ stream: RecordStream, _ rows: [[String?]], _ db: Connection) throws(SinkError) {
        let (table, columns, casts, conflict): (String, [String], [String], String) = stream == .journal
            ? ("events", Self.eventColumns, ["", "", "::timestamptz", "", "", "", "", "", "::jsonb"], "(request_id)")
            : ("outcomes", Self.outcomeColumns, ["", "", "::timestamptz", "", "", "", "::jsonb", "::jsonb"], "(request_id, node, run, at)")
        var sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        var params: [String?] = []
        for (i, r) in rows.enumerated() {
            if i > 0 { sql += ", " }
            sql += "(" + (0..<columns.count).map { "$\(i * columns.count + $0 + 1)\(casts[$0])" }.joined(separator: ", ") + ")"
            params += r
        }
        sql += " ON CONFLICT \(conflict) DO NOTHING"
        try db.exec(sql, params)
    }

    /// A line as the table's row, or why it cannot be one.
    func row(_ stream: RecordStream, _ bytes: [UInt8]) -> Result<[String?], SinkReason> {
        // PostgreSQL's text and jsonb hold no NUL: a record with one is refused
        // (kept aside) before it is sent.
        if bytes.contains(0) || Self.containsEscapedNUL(bytes) {
            return .failure(SinkReason("it holds a NUL character (\\u0000), which PostgreSQL's text and jsonb cannot store"))
        }
        guard let value = try? JSONParser.parse(bytes) else {
            return .failure(SinkReason("it is not JSON (a line torn by a writer that was killed, or edited by hand)"))
        }
        let text = String(decoding: bytes, as: UTF8.self)
        switch stream {
        case .journal:
            guard let record = JournalRecord(value) else { return .failure(SinkReason("it is not a journal record")) }
            return .success([record.requestID, settings.node, value["received_at"]?.stringValue, record.source, record.event,
                             record.webhook.isEmpty ? nil : record.webhook, record.payload["chat_id"]?.scalarText,
                             record.remoteAddress, JSONWriter.serialize(.object(record.payload)).string])
        case .outcomes, .rejections:
            guard let id = value["request_id"]?.stringValue, let at = value["at"]?.stringValue,
                  let run = value["run"]?.stringValue, case .array? = value["actions"] else {
                return .failure(SinkReason("it is not an outcomes line"))
            }
            return .success([id, settings.node, at, run, value["source"]?.stringValue, value["event"]?.stringValue,
                             value["actions"].map { JSONWriter.serialize($0).string }, text])
        }
    }

    static func containsEscapedNUL(_ bytes: [UInt8]) -> Bool {
        let needle = Array("\\u0000".utf8)
        guard bytes.count >= needle.count else { return false }
        var i = 0
        while i + needle.count <= bytes.count {
            if bytes[i] == 0x5C && bytes[i..<(i + needle.count)].elementsEqual(needle) {
                // An escaped backslash before it (\\u0000 as text) is not a NUL.
                var backslashes = 0
                var j = i - 1
                while j >= 0 && bytes[j] == 0x5C { backslashes += 1; j -= 1 }
                if backslashes % 2 == 0 { return true }
            }
            i += 1
        }
        return false
    }

    /// The line in the rejected file, with why; said on stderr.
    func keepAside(_ line: PendingLine, why: SinkReason) throws(SinkError) {
        var entry = JSONObject()
        entry.append("file", .string(line.file))
        entry.append("why", .string(why.message))
        entry.append("line", .string(String(decoding: line.bytes, as: UTF8.self)))
        do {
            try LineAppender(path: settings.rejected, fsync: true).append(JSONWriter.serialize(.object(entry)) + [0x0A])
        } catch {
            throw SinkError("cannot keep a refused line aside in \(settings.rejected): \(error)", dataError: false)
        }
        writeAll(2, Array("chathooks sink: a line of \(line.file) kept aside in \(settings.rejected): \(why.message)\n".utf8))
    }
}

struct SinkReason: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

extension Array where Element == UInt8 {
    var string: String { String(decoding: self, as: UTF8.self) }
}
