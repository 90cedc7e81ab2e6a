import Glibc

/// `chathooks retry` and `chathooks replay`: the two ways an accepted event's
/// unfinished work gets done later.
enum Maintenance {
    /// Sends every spooled mail once; exit 1 when some are still waiting.
    static func retry(config: Config) -> Int32 {
        var failed = 0
        for directory in spoolDirectories(config) {
            let report = MailSpool(directory: directory).retry()
            for name in report.sent { print("sent \(directory)/\(name)") }
            for name in report.failed { print("still waiting: \(directory)/\(name)") }
            failed += report.failed.count
        }
        return failed == 0 ? 0 : 1
    }

    static func spoolDirectories(_ config: Config) -> [String] {
        var dirs: [String] = []
        let all = (config.chatdealer?.events.all.flatMap(\.actions) ?? []) + (config.spalo?.actions ?? [])
        for case .mail(let m) in all where !dirs.contains(m.spool) { dirs.append(m.spool) }
        return dirs
    }

    /// Runs the configured actions again for journaled events, by request id.
    /// `only` limits it to one action type (e.g. `command`). Never re-journals.
    static func replay(config: Config, ids: [String], only: String?) -> Int32 {
        var wanted = Set(ids)
        var status: Int32 = 0
        let found = JournalReader.records(path: config.journal.path) { line in
            guard let id = line["request_id"]?.stringValue, wanted.contains(id) else { return false }
            wanted.remove(id)
            return true
        }
        for record in found {
            let actions = actionsFor(record, config: config)
            let count = actions.filter { only == nil || $0.typeName == only }.count
            let results = Pipeline.runActions(actions, AcceptedEvent(record: record), only: only)
            let line = "\(record.requestID) \(record.source)/\(record.event): \(count) action\(count == 1 ? "" : "s")"
            if results.failures.isEmpty && results.deferred.isEmpty {
                print("\(line) done")
            } else {
                status = 1
                print("\(line); " + (results.failures.map { "failed: \($0)" } + results.deferred.map { "deferred: \($0)" }).joined(separator: "; "))
            }
        }
        for id in wanted.sorted() {
            print("\(id): not in \(config.journal.path)")
            status = 1
        }
        return status
    }

    static func actionsFor(_ record: JournalRecord, config: Config) -> [ActionSettings] {
        switch (record.source, record.event) {
        case ("spalo", _): return config.spalo?.actions ?? []
        case ("chatdealer", let e): return ChatDealerEvent(rawValue: e).flatMap { config.chatdealer?.events[$0]?.actions } ?? []
        default: return []
        }
    }
}

/// Reads journal lines back into records.
enum JournalReader {
    /// The records whose parsed line `select` accepts, in journal order. Reads
    /// the file in pieces; a line that is not a record is skipped with a note.
    static func records(path: String, select: (JSONValue) -> Bool) -> [JournalRecord] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            logError("replay: \(SystemError("open", path: path))")
            return []
        }
        defer { close(fd) }
        var out: [JournalRecord] = []
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var lineNumber = 0
        func consume(_ line: ArraySlice<UInt8>) {
            lineNumber += 1
            guard let value = try? JSONParser.parse(Array(line)) else {
                logError("replay: \(path) line \(lineNumber) is not a journal record; skipped")
                return
            }
            guard select(value) else { return }
            if let record = JournalRecord(value) { out.append(record) }
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += chunk[0..<n]
            // Every whole line of the chunk, then what is left moved down once.
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                consume(pending[start..<newline])
                start = newline + 1
            }
            pending.removeSubrange(..<start)
        }
        if !pending.isEmpty { consume(pending[...]) }
        return out
    }
}

extension JournalRecord {
    /// A record from its journal line.
    init?(_ value: JSONValue) {
        guard let at = value["received_at"]?.stringValue, let time = Timestamp(rfc3339: at),
              let source = value["source"]?.stringValue, let event = value["event"]?.stringValue,
              let id = value["request_id"]?.stringValue, let payload = value["payload"]?.objectValue else { return nil }
        self.init(receivedAt: time, source: source, event: event, requestID: id,
                  remoteAddress: value["remote_addr"]?.stringValue ?? "", payload: payload)
    }
}

extension Timestamp {
    /// Parses what `rfc3339` writes: `2026-11-22T22:10:05.123+09:00` (or `Z`).
    init?(rfc3339 s: String) {
        let b = Array(s.utf8)
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[10] == UInt8(ascii: "T") else { return nil }
        let num = { (r: Range<Int>) in decimal(b, r) }
        guard let year = num(0..<4), let month = num(5..<7), let day = num(8..<10),
              let hour = num(11..<13), let minute = num(14..<16), let second = num(17..<19) else { return nil }
        var i = 19
        var nanos = 0
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                if digits < 9 { nanos = nanos * 10 + Int(b[i] - 0x30); digits += 1 }
                i += 1
            }
            while digits < 9 { nanos *= 10; digits += 1 }
        }
        var offset = 0
        if i < b.count && b[i] == UInt8(ascii: "Z") {
            i += 1
        } else if i + 6 == b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), let h = num((i + 1)..<(i + 3)), let m = num((i + 4)..<(i + 6)) {
            offset = (h * 60 + m) * 60 * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        }
        guard i == b.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        self.init(seconds: timegm(&parts) - offset, nanoseconds: nanos)
    }
}
