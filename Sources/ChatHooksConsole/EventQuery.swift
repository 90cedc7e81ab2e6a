import CStartup
import ChatHooksCore
import Glibc

/// The events page's filter, from its query string: source, event, a date
/// range (local dates of receipt, both included), a text to search for, and
/// where the page starts (a cursor: the journal file and the byte offset of
/// the line after the page's last one).
struct EventFilter {
    var source = ""
    var event = ""
    var from = ""
    var to = ""
    var q = ""
    var before = ""

    init(_ query: [String: String]) {
        source = query["source"] ?? ""
        event = query["event"] ?? ""
        from = EventFilter.date(query["from"])
        to = EventFilter.date(query["to"])
        q = String((query["q"] ?? "").prefix(200))
        before = query["before"] ?? ""
    }

    /// A `YYYY-MM-DD` date, or "" (anything else is ignored, not an error).
    static func date(_ s: String?) -> String {
        guard let s, s.utf8.count == 10 else { return "" }
        let b = Array(s.utf8)
        for (i, c) in b.enumerated() {
            if i == 4 || i == 7 { if c != 0x2D { return "" } } else if !(0x30...0x39).contains(c) { return "" }
        }
        return s
    }

    /// The pairs of the query string that repeats this filter (without the cursor).
    var pairs: [(String, String)] {
        [("source", source), ("event", event), ("from", from), ("to", to), ("q", q)]
    }

    /// The same test on a line's bytes, before any String is made of it.
    func acceptsRaw(_ raw: RawHead) -> Bool {
        if !source.isEmpty && !raw.source.elementsEqual(source.utf8) { return false }
        if !event.isEmpty && !raw.event.elementsEqual(event.utf8) { return false }
        if !from.isEmpty && raw.date.lexicographicallyPrecedes(from.utf8) { return false }
        if !to.isEmpty && to.utf8.lexicographicallyPrecedes(raw.date) { return false }
        return true
    }

    func acceptsHead(_ head: JournalLineHead) -> Bool {
        if !source.isEmpty && head.source != source { return false }
        if !event.isEmpty && head.event != event { return false }
        let date = head.date
        if !from.isEmpty && date < from { return false }
        if !to.isEmpty && date > to { return false }
        return true
    }

    /// The same filter as `chathooks export`'s.
    var exportFilter: (from: String?, to: String?, source: String?, event: String?) {
        (from.isEmpty ? nil : from, to.isEmpty ? nil : to, source.isEmpty ? nil : source, event.isEmpty ? nil : event)
    }
}

/// A journal line's date, source and event where the line holds them:
/// what a filter looks at on every line of a long scan, without a String.
struct RawHead {
    let date: ArraySlice<UInt8>
    let source: ArraySlice<UInt8>
    let event: ArraySlice<UInt8>

    init?(_ line: ArraySlice<UInt8>) {
        var f = LeadingFields(line)
        guard let r = f.nextRange("{\"received_at\":\""), r.count >= 10, let s = f.nextRange(",\"source\":\""),
              let e = f.nextRange(",\"event\":\"") else { return nil }
        date = line[r.lowerBound..<(r.lowerBound + 10)]
        source = line[s]
        event = line[e]
    }
}

/// One journal line found, and where: enough to show it in a list and to
/// open it again without a search.
struct FoundEvent {
    var head: JournalLineHead
    var record: JournalRecord
    var file: String
    var offset: Int
}

/// The journal read newest first: pages, a text search, one event by id.
struct EventStore {
    let files: JournalFiles
    let paths: [String]

    init(_ files: JournalFiles) {
        self.files = files
        self.paths = files.all(.journal)
    }

    /// The file of a cursor, by its name among the journal's files (never a path from the request).
    func path(named name: String) -> String? {
        paths.first { Files.baseName($0) == name }
    }

    /// Up to `limit` events that the filter accepts, newest first, and the
    /// cursor of the next page: empty when no older event is accepted (the
    /// search goes on past the page for one). Reads back from the end of the
    /// newest file (or from the cursor) only as far as it must; stops early
    /// once the lines are older than `from`.
    func page(_ filter: EventFilter, limit: Int = 50) -> (events: [FoundEvent], next: String) {
        var out: [FoundEvent] = []
        var next = ""
        var startFile = paths.count - 1
        var startOffset: Int? = nil
        if !filter.before.isEmpty {
            let parts = filter.before.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let offset = Int(parts[1]), offset >= 0,
                  let i = paths.firstIndex(where: { Files.baseName($0) == String(parts[0]) }) else { return ([], "") }
            startFile = i
            startOffset = offset
        }
        let needle = filter.q.isEmpty ? nil : TextSearch(filter.q)
        // Up to `to` only: where each file's lines pass its end is found by time, not read to.
        let end = filter.to.isEmpty ? nil : Bisect.startOfDay(filter.to).map { $0 + 86400 }
        var olderInARow = 0
        var fileIndex = startFile
        while fileIndex >= 0 {
            let path = paths[fileIndex]
            let name = Files.baseName(path)
            var stop = false
            var before = fileIndex == startFile ? startOffset : nil
            if let end {
                let high = Bisect.bounds(path: path, seconds: end).high
                before = min(before ?? high, high)
            }
            BackwardReader.lines(path: path, before: before) { line, start in
                // The bytes first: most lines of a long scan go no further.
                if let raw = RawHead(line) {
                    if !filter.from.isEmpty && raw.date.lexicographicallyPrecedes(filter.from.utf8) {
                        // The journal is in time order: a few lines out of order
                        // around midnight are allowed for, then the search ends.
                        olderInARow += 1
                        if olderInARow > 1000 { stop = true; return false }
                        return true
                    }
                    olderInARow = 0
                    guard filter.acceptsRaw(raw) else { return true }
                }
                if let needle, !needle.mayMatch(line) { return true }
                guard let value = try? JSONParser.parse(Array(line)), let record = JournalRecord(value) else { return true }
                // (A line whose head is not in the usual form was not filtered above.)
                let head = JournalLineHead(line) ?? JournalLineHead(record: record)
                guard filter.acceptsHead(head) else { return true }
                if let needle, !needle.matches(record) { return true }
                if out.count == limit {
                    // One more: the next page starts with it.
                    next = "\(name):\(start + line.count + 1)"
                    stop = true
                    return false
                }
                out.append(FoundEvent(head: head, record: record, file: name, offset: start))
                return true
            }
            if stop { break }
            fileIndex -= 1
        }
        return (out, next)
    }

    /// The event with this request id: at `hint` (file:offset, from a link)
    /// when the line there is it, else searched for, newest first.
    func find(id: String, hint: String) -> FoundEvent? {
        let parts = hint.split(separator: ":", maxSplits: 1)
        if parts.count == 2, let offset = Int(parts[1]), offset >= 0, let path = path(named: String(parts[0])) {
            let (lines, _, _) = JournalReader.lines(path: path, from: offset, limit: 1, maxLine: BackwardReader.maxLine)
            if let line = lines.first, let found = EventStore.event(line[...], id: id, file: String(parts[0]), offset: offset) {
                return found
            }
        }
        // A request id says when it was made: the lines of that moment first.
        if let t = RequestID.milliseconds(of: id).map({ $0 / 1000 }) {
            for path in paths.reversed() {
                let name = Files.baseName(path)
                var offset = Bisect.bounds(path: path, seconds: t).low
                var past = false
                while !past {
                    let (lines, after, more) = JournalReader.lines(path: path, from: offset, limit: 200, maxLine: BackwardReader.maxLine)
                    var at = offset
                    for line in lines {
                        var f = LeadingFields(line[...])
                        if let r = f.nextRange("{\"received_at\":\"") {
                            _ = f.nextRange(",\"source\":\""); _ = f.nextRange(",\"event\":\""); _ = f.nextRange(",\"webhook\":\"")
                            if let i = f.nextRange(",\"request_id\":\""), line[i].elementsEqual(id.utf8),
                               let found = EventStore.event(line[...], id: id, file: name, offset: at) {
                                return found
                            }
                            // Past the moment (and its slack): not in this file.
                            if let time = Timestamp(rfc3339: String(decoding: line[r], as: UTF8.self)), time.seconds > t + 2 * Bisect.slack {
                                past = true
                                break
                            }
                        }
                        at += line.count + 1
                    }
                    offset = after
                    if !more || lines.isEmpty { break }
                }
            }
        }
        // Anywhere else (a line out of order, a hand-made id): every line, newest first.
        for path in paths.reversed() {
            var found: FoundEvent?
            let name = Files.baseName(path)
            BackwardReader.lines(path: path) { line, start in
                guard let head = JournalLineHead(line) ?? EventStore.headByParsing(line), head.requestID == id else { return true }
                found = EventStore.event(line, id: id, file: name, offset: start)
                return found == nil
            }
            if let found { return found }
        }
        return nil
    }

    static func event(_ line: ArraySlice<UInt8>, id: String, file: String, offset: Int) -> FoundEvent? {
        guard let value = try? JSONParser.parse(Array(line)), let record = JournalRecord(value), record.requestID == id else { return nil }
        return FoundEvent(head: JournalLineHead(line) ?? JournalLineHead(record: record), record: record, file: file, offset: offset)
    }

    /// The head of a line whose fixed fields are not in the usual form.
    static func headByParsing(_ line: ArraySlice<UInt8>) -> JournalLineHead? {
        guard let value = try? JSONParser.parse(Array(line)), let r = JournalRecord(value) else { return nil }
        return JournalLineHead(record: r)
    }
}

/// A text searched for in events: case-insensitive for ASCII letters,
/// exact otherwise. First a cheap look at the line's bytes (the text as the
/// journal writes it, escaped), then the parsed values themselves, so that
/// a key's name or the JSON around the values never matches.
struct TextSearch {
    let folded: [UInt8]
    let escaped: [UInt8]

    init(_ text: String) {
        folded = TextSearch.fold(Array(text.utf8))
        var w = JSONWriter(reservingCapacity: text.utf8.count + 2)
        w.writeString(text)
        escaped = TextSearch.fold(Array(w.bytes.dropFirst().dropLast()))
    }

    static func fold(_ b: [UInt8]) -> [UInt8] {
        b.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 32 : $0 }
    }

    /// `needle` (folded) in `hay`, ASCII letters either case: memmem when
    /// the needle has no letter, else memchr for its first byte in either
    /// case and a folded compare of the rest.
    static func contains(_ hay: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard hay.count >= needle.count else { return false }
        let isLetter = { (c: UInt8) in c >= 0x61 && c <= 0x7A }
        return hay.withUnsafeBufferPointer { h -> Bool in
            needle.withUnsafeBufferPointer { nd -> Bool in
                let base = h.baseAddress!, n = nd.count
                if !needle.contains(where: isLetter) {
                    return chathooks_memmem(base, h.count, nd.baseAddress!, n) != nil
                }
                let first = nd[0]
                let other = isLetter(first) ? first - 32 : first
                let last = h.count - n
                // The next place of each case of the first byte (past `last`: none), found again only once passed.
                func find(_ c: UInt8, from i: Int) -> Int {
                    guard i <= last, let p = memchr(base + i, Int32(c), last - i + 1) else { return last + 1 }
                    return UnsafeRawPointer(p) - UnsafeRawPointer(base)
                }
                var nextA = find(first, from: 0)
                var nextB = other == first ? last + 1 : find(other, from: 0)
                while true {
                    let at = min(nextA, nextB)
                    guard at <= last else { return false }
                    var k = 1
                    while k < n {
                        var x = h[at + k]
                        if x >= 0x41 && x <= 0x5A { x += 32 }
                        if x != nd[k] { break }
                        k += 1
                    }
                    if k == n { return true }
                    if nextA == at { nextA = find(first, from: at + 1) }
                    if nextB == at { nextB = find(other, from: at + 1) }
                }
            }
        }
    }

    /// `needle` exactly (every byte as it is) in `hay`.
    static func exact(_ hay: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        hay.withUnsafeBufferPointer { h in
            needle.withUnsafeBufferPointer { nd in chathooks_memmem(h.baseAddress!, h.count, nd.baseAddress!, nd.count) != nil }
        }
    }

    func mayMatch(_ line: ArraySlice<UInt8>) -> Bool { TextSearch.contains(line, escaped) }

    func matches(_ record: JournalRecord) -> Bool {
        if TextSearch.contains(Array(record.requestID.utf8)[...], folded) { return true }
        return matches(.object(record.payload))
    }

    func matches(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let o): return o.members.contains { matches($0.value) }
        case .array(let a): return a.contains { matches($0) }
        default:
            guard let text = value.scalarText else { return false }
            return TextSearch.contains(Array(text.utf8)[...], folded)
        }
    }
}
