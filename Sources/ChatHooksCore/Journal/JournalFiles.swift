import Glibc

/// How the journal and the files beside it are split over time
/// (`journal.rotate`): one file for ever, one a month, or one a day.
public enum Rotation: String, Sendable, CaseIterable {
    case none, monthly, daily
}

/// The three record files: the journal (accepted events), the outcomes of
/// their actions, and the refused calls. They share a folder and a rotation.
public enum RecordStream: Sendable {
    case journal, outcomes, rejections
}

/// Which file a line goes to, and every file a reader reads. The name is
/// chosen per append from the time the line is written (the event's receipt,
/// for the journal), so any number of writers agree without talking to each
/// other: `journal-2026-12.jsonl`, `outcomes-2026-12.jsonl`,
/// `rejections-2026-12.jsonl` (daily: `journal-2026-12-01.jsonl`). Each file
/// keeps its own lock (`LineAppender`).
public struct JournalFiles: Sendable {
    /// The configured journal path, `data/journal.jsonl`: with no rotation,
    /// the journal itself; else the pattern its monthly or daily names follow.
    public var journal: String
    public var rotate: Rotation

    public init(journal: String, rotate: Rotation) {
        self.journal = journal
        self.rotate = rotate
    }

    public var folder: String { Files.directoryName(journal) }

    /// The stream's file without a period: `data/journal.jsonl`, `data/outcomes.jsonl`.
    public func plain(_ stream: RecordStream) -> String {
        switch stream {
        case .journal: journal
        case .outcomes: folder + "/outcomes.jsonl"
        case .rejections: folder + "/rejections.jsonl"
        }
    }

    /// The file a line written at `time` goes to.
    public func path(_ stream: RecordStream, at time: Timestamp) -> String {
        switch rotate {
        case .none: return plain(stream)
        case .monthly: return named(stream, String(time.localDate.utf8.prefix(7))!)
        case .daily: return named(stream, time.localDate)
        }
    }

    /// `data/journal-2026-12.jsonl` for the period `2026-12`.
    func named(_ stream: RecordStream, _ period: String) -> String {
        let (stem, ext) = JournalFiles.split(plain(stream))
        return "\(stem)-\(period)\(ext)"
    }

    /// `("/d/journal", ".jsonl")`; a name without an extension has none.
    static func split(_ path: String) -> (String, String) {
        let name = path.utf8.lastIndex(of: UInt8(ascii: "/")).map { path.utf8.index(after: $0) } ?? path.startIndex
        guard let dot = path.utf8[name...].lastIndex(of: UInt8(ascii: ".")), dot != name else { return (path, "") }
        return (String(path[..<dot]), String(path[dot...]))
    }

    /// Every file of the stream that exists, oldest first: the plain file
    /// (written before rotation was turned on, or with none), then the
    /// monthly and daily files in the order of their periods — whatever the
    /// rotation is now, so that changing it loses nothing. A rotated
    /// rejections file's older parts (`rejections-2026-12.1.jsonl`) come
    /// before it.
    public func all(_ stream: RecordStream) -> [String] {
        let plainPath = plain(stream)
        let (stemPath, ext) = JournalFiles.split(plainPath)
        let stem = String(stemPath.utf8.split(separator: UInt8(ascii: "/")).last.map { String(decoding: $0, as: UTF8.self) } ?? stemPath)
        var periods: [(period: String, part: Int, path: String)] = []
        for name in Files.names(in: folder) {
            guard name.hasPrefix(stem), name.hasSuffix(ext) else { continue }
            let middle = name.utf8.dropFirst(stem.utf8.count).dropLast(ext.utf8.count)
            let (period, part) = JournalFiles.period(Substring(middle))
            guard let period else { continue }
            periods.append((period, part, folder + "/" + name))
        }
        // By the time of each file's first line: a month's file and the days of
        // that month (the rotation changed in the middle of it) fall in the
        // order they were written, which their names alone cannot tell. Within
        // a period, the parts a capped file moved aside first (highest number oldest).
        // One key a file, so the order is total: the first line's time, else
        // (an empty file, an unreadable first line) the start of its period.
        var starts: [String: Int] = [:]
        for p in periods { starts[p.path] = JournalFiles.firstTime(p.path) ?? JournalFiles.periodStart(p.period) ?? 0 }
        periods.sort { a, b in
            let (ta, tb) = (starts[a.path] ?? 0, starts[b.path] ?? 0)
            if a.period != b.period { return ta != tb ? ta < tb : a.period < b.period }
            return a.part > b.part
        }
        var out: [String] = []
        var plainParts: [(Int, String)] = []
        for p in periods where p.period.isEmpty { plainParts.append((p.part, p.path)) }
        for (_, p) in plainParts.sorted(by: { $0.0 > $1.0 }) { out.append(p) }
        if access(plainPath, F_OK) == 0 { out.append(plainPath) }
        for p in periods where !p.period.isEmpty { out.append(p.path) }
        return out
    }

    /// When the file's first line was written (`received_at`, or `at` for the
    /// outcomes and rejections files), in seconds; nil when it cannot be read.
    static func firstTime(_ path: String) -> Int? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // Up to the first newline (a chat-end's line is often longer than a
        // page), at most 1 MiB.
        var head: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        var newline: Int? = nil
        while newline == nil && head.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { break }
            let before = head.count
            head += chunk[0..<n]
            newline = head[before...].firstIndex(of: 0x0A)
        }
        guard let newline, let value = try? JSONParser.parse(Array(head[0..<newline])),
              let text = value["received_at"]?.stringValue ?? value["at"]?.stringValue,
              let t = Timestamp(rfc3339: text) else { return nil }
        return t.seconds
    }

    /// The start of a period, `2026-12` or `2026-12-05`, as UTC seconds (an
    /// order key for a file whose first line tells nothing); 0 for none.
    static func periodStart(_ period: String) -> Int? {
        let b = Array(period.utf8)
        guard b.count >= 7, let y = decimal(b, 0..<4), let m = decimal(b, 5..<7) else { return period.isEmpty ? 0 : nil }
        let d = b.count == 10 ? (decimal(b, 8..<10) ?? 1) : 1
        var parts = tm()
        parts.tm_year = Int32(y - 1900)
        parts.tm_mon = Int32(m - 1)
        parts.tm_mday = Int32(d)
        return timegm(&parts)
    }

    /// What sits between a stream's stem and its extension: `-2026-12`,
    /// `-2026-12-01`, `.1` (an older part), `-2026-12.2`; nil for anything else.
    static func period(_ middle: Substring) -> (String?, Int) {
        var s = middle
        var part = 0
        if let dot = s.lastIndex(of: "."), let n = Int(s[s.index(after: dot)...]), n > 0 {
            part = n
            s = s[..<dot]
        }
        if s.isEmpty { return part > 0 ? ("", part) : (nil, 0) }
        guard s.first == "-" else { return (nil, 0) }
        let p = s.dropFirst()
        let b = Array(p.utf8)
        let isDigits = { (r: Range<Int>) in r.allSatisfy { b[$0] >= 0x30 && b[$0] <= 0x39 } }
        if b.count == 7, b[4] == UInt8(ascii: "-"), isDigits(0..<4), isDigits(5..<7) { return (String(p), part) }
        if b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"), isDigits(0..<4), isDigits(5..<7), isDigits(8..<10) {
            return (String(p), part)
        }
        return (nil, 0)
    }
}
