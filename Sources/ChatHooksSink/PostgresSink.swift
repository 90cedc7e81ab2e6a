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

    /// Everything there is of each stream, batch after batch: while
    /// PostgreSQL inserts one batch (a single multi-row INSERT: one statement,
    /// its own transaction), the next is read and made ready; each batch's
    /// positions are saved once its INSERT has committed.
    public func pass(_ db: Connection) throws(SinkError) -> Pass {
        var state = SinkState.load(settings.state)
        var result = Pass()
        // The files, listed once a pass.
        let listed: [(RecordStream, [String])] = [(.journal, files.all(.journal)), (.outcomes, files.all(.outcomes))]
        for (stream, paths) in listed {
            // Each file's start, checked: a file replaced or cut back is read again.
            for path in paths { state.offsets[SinkState.name(path)] = state.start(of: path) }
            var positions = state.offsets
            var inFlight: Batch? = nil
            while true {
                let next = try prepare(stream, paths, from: positions)
                if let batch = inFlight {
                    let sent = try finish(stream, batch, db)
                    for (name, end) in batch.ends { state.offsets[name] = end }
                    try state.save(settings.state)
                    if stream == .journal { result.events += sent } else { result.outcomes += sent }
                    result.rejected += batch.rejected
                    inFlight = nil
                }
                guard !next.rows.isEmpty || !next.ends.isEmpty else { break }
                for (name, end) in next.ends { positions[name] = end }
                if next.rows.isEmpty {
                    // Only lines kept aside: nothing to send, the positions move on.
                    for (name, end) in next.ends { state.offsets[name] = end }
                    try state.save(settings.state)
                    result.rejected += next.rejected
                    continue
                }
                try db.send(SQLText.insert(stream, rows: next.rows.count), next.rows.flatMap(\.values),
                            name: "\(stream == .journal ? "events" : "outcomes")_\(next.rows.count)")
                inFlight = next
            }
        }
        // Files that are gone (archived): their positions are dropped.
        let present = Set(listed.flatMap(\.1).map(SinkState.name))
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

    /// One batch, read and made into rows; what it moves each file's position to.
    struct Batch {
        var rows: [(line: PendingLine, values: [String?])] = []
        var ends: [String: Int] = [:]
        var rejected = 0
    }

    /// The next batch after `positions`: up to `batch` lines across the
    /// files in order. Lines that cannot be rows are kept aside here.
    func prepare(_ stream: RecordStream, _ paths: [String], from positions: [String: Int]) throws(SinkError) -> Batch {
        var batch = Batch()
        for path in paths {
            let room = settings.batch - batch.rows.count - batch.rejected
            guard room > 0 else { break }
            let name = SinkState.name(path)
            let start = positions[name] ?? 0  // (checked against the file's identity by pass)
            let (lines, end, _) = JournalReader.lines(path: path, from: start, limit: room)
            if end != start { batch.ends[name] = end }
            for bytes in lines {
                let line = PendingLine(file: name, bytes: bytes)
                switch row(stream, bytes) {
                case .success(let values): batch.rows.append((line, values))
                case .failure(let why):
                    try keepAside(line, why: why)
                    batch.rejected += 1
                }
            }
        }
        return batch
    }

    /// The sent batch's result; when PostgreSQL refused a row of it, the batch
    /// again a row at a time (a savepoint each), the refused ones kept aside.
    /// Returns how many rows went in.
    func finish(_ stream: RecordStream, _ batch: Batch, _ db: Connection) throws(SinkError) -> Int {
        do {
            try db.result()
            return batch.rows.count
        } catch {
            guard error.isDataError else { throw error }
        }
        try db.exec("BEGIN")
        var sent = 0
        for r in batch.rows {
            try db.exec("SAVEPOINT row")
            do {
                try db.exec(SQLText.insert(stream, rows: 1), r.values)
                try db.exec("RELEASE SAVEPOINT row")
                sent += 1
            } catch {
                guard error.isDataError else { _ = try? db.exec("ROLLBACK"); throw error }
                try db.exec("ROLLBACK TO SAVEPOINT row")
                try keepAside(r.line, why: SinkReason("PostgreSQL refused it: \(error.message)"))
            }
        }
        try db.exec("COMMIT")
        return sent
    }

    static let eventColumns = ["request_id", "node", "received_at", "source", "event", "webhook", "chat_id", "remote_addr", "payload"]
    static let outcomeColumns = ["request_id", "node", "at", "run", "source", "event", "actions", "line"]

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
            // The record's fields as the line has them (what JournalRecord reads, without building one).
            guard let at = value["received_at"]?.stringValue, Timestamp(rfc3339: at) != nil,
                  let source = value["source"]?.stringValue, let event = value["event"]?.stringValue,
                  let id = value["request_id"]?.stringValue, case .object(let payload)? = value["payload"] else {
                return .failure(SinkReason("it is not a journal record"))
            }
            let webhook = value["webhook"]?.stringValue ?? ""
            return .success([id, settings.node, at, source, event, webhook.isEmpty ? nil : webhook, payload["chat_id"]?.scalarText,
                             value["remote_addr"]?.stringValue ?? "", Self.payloadText(bytes) ?? JSONWriter.serialize(.object(payload)).string])
        case .outcomes, .rejections:
            guard let id = value["request_id"]?.stringValue, let at = value["at"]?.stringValue,
                  let run = value["run"]?.stringValue, case .array? = value["actions"] else {
                return .failure(SinkReason("it is not an outcomes line"))
            }
            return .success([id, settings.node, at, run, value["source"]?.stringValue, value["event"]?.stringValue,
                             value["actions"].map { JSONWriter.serialize($0).string }, text])
        }
    }

    /// The payload's JSON as the line holds it: our journal writes it last,
    /// `…,"payload":{…}}`, and nothing before it can hold that text (its
    /// strings' quotes are escaped). Nil for a line not of that shape (edited
    /// by hand): the payload is written out again then.
    static func payloadText(_ bytes: [UInt8]) -> String? {
        let key = Array(",\"payload\":".utf8)
        guard bytes.last == UInt8(ascii: "}"), bytes.count > key.count + 2 else { return nil }
        var i = 0
        while i + key.count < bytes.count {
            if bytes[i] == 0x2C && bytes[i..<(i + key.count)].elementsEqual(key) {
                let start = i + key.count
                guard bytes[start] == UInt8(ascii: "{") else { return nil }
                return String(decoding: bytes[start..<(bytes.count - 1)], as: UTF8.self)
            }
            i += 1
        }
        return nil
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

/// The INSERT statements, built once for each number of rows.
enum SQLText {
    nonisolated(unsafe) static var cache: [String: String] = [:]

    static func insert(_ stream: RecordStream, rows: Int) -> String {
        let key = "\(stream == .journal ? "e" : "o")\(rows)"
        if let sql = cache[key] { return sql }
        let (table, columns, casts, conflict): (String, [String], [String], String) = stream == .journal
            ? ("events", PostgresSink.eventColumns, ["", "", "::timestamptz", "", "", "", "", "", "::jsonb"], "(request_id)")
            : ("outcomes", PostgresSink.outcomeColumns, ["", "", "::timestamptz", "", "", "", "::jsonb", "::jsonb"], "(request_id, node, run, at)")
        var sql = "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES "
        for i in 0..<rows {
            if i > 0 { sql += ", " }
            sql += "("
            for c in 0..<columns.count {
                if c > 0 { sql += ", " }
                sql += "$" + String(i * columns.count + c + 1) + casts[c]
            }
            sql += ")"
        }
        sql += " ON CONFLICT \(conflict) DO NOTHING"
        cache[key] = sql
        return sql
    }
}
