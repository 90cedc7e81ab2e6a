import ChatHooksCore
import Glibc

/// One action's outcome, as a line of the outcomes file holds it.
struct ActionOutcome {
    var index: Int
    var type: String
    var outcome: String
    var why: String
    var ms: String
}

/// One line of the outcomes file.
struct OutcomeLine {
    var at: String
    var requestID: String
    var source: String
    var event: String
    var receivedAt: String
    var run: String
    var actions: [ActionOutcome]

    init?(_ value: JSONValue) {
        guard let at = value["at"]?.stringValue, let id = value["request_id"]?.stringValue,
              case .array(let list)? = value["actions"] else { return nil }
        self.at = at
        self.requestID = id
        self.source = value["source"]?.stringValue ?? ""
        self.event = value["event"]?.stringValue ?? ""
        self.receivedAt = value["received_at"]?.stringValue ?? ""
        self.run = value["run"]?.stringValue ?? ""
        self.actions = list.compactMap { a in
            guard let index = a["index"]?.scalarText.flatMap({ Int($0) }), let outcome = a["outcome"]?.stringValue else { return nil }
            return ActionOutcome(index: index, type: a["type"]?.stringValue ?? "", outcome: outcome,
                                 why: a["why"]?.stringValue ?? "", ms: a["ms"]?.scalarText ?? "")
        }
    }

    /// Where `at` and `request_id`, the line's first fields, are in it (nothing parsed).
    static func rawHead(_ line: ArraySlice<UInt8>) -> (at: Range<Int>, id: Range<Int>)? {
        var f = LeadingFields(line)
        guard let time = f.nextRange("{\"at\":\""), let id = f.nextRange(",\"request_id\":\"") else { return nil }
        return (time, id)
    }
}

/// A time that the lines read back are compared with: as bytes when a line
/// is written with the same UTC offset as the limit (our writers' form, one
/// length: the bytes then sort as the times do), parsed only otherwise.
struct TimeLimit {
    let seconds: Int
    let text: [UInt8]

    init(seconds: Int) {
        self.seconds = seconds
        self.text = Array(Timestamp(seconds: seconds).rfc3339.utf8)
    }

    /// True when `at` is before the limit.
    func isOlder(_ at: ArraySlice<UInt8>) -> Bool {
        if at.count == text.count, at.suffix(6).elementsEqual(text.suffix(6)) { return at.lexicographicallyPrecedes(text) }
        guard let t = Timestamp(rfc3339: String(decoding: at, as: UTF8.self)) else { return false }
        return t.seconds < seconds
    }
}

/// Request ids looked up by their bytes, without a String per line read.
struct IDSet {
    let sorted: [[UInt8]]

    init(_ ids: Set<String>) { sorted = ids.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) } }

    func contains(_ id: ArraySlice<UInt8>) -> Bool {
        var lo = 0, hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid].elementsEqual(id) { return true }
            if sorted[mid].lexicographicallyPrecedes(id) { lo = mid + 1 } else { hi = mid }
        }
        return false
    }
}

/// What the console reads besides the journal: the outcomes, the
/// rejections, the spool.
struct Records {
    let config: Config
    var files: JournalFiles { config.journal.files }

    /// Every outcome line of these requests, oldest first, read back from
    /// the end of the outcomes only to `since` (an outcome is written after
    /// its event was received: nothing older can be one of theirs).
    func outcomes(for ids: Set<String>, since: Timestamp) -> [String: [OutcomeLine]] {
        var out: [String: [OutcomeLine]] = [:]
        guard !ids.isEmpty else { return out }
        let limit = TimeLimit(seconds: since.seconds - 60)
        let wanted = IDSet(ids)
        for path in files.all(.outcomes).reversed() {
            var done = false
            BackwardReader.lines(path: path) { line, _ in
                guard let head = OutcomeLine.rawHead(line) else { return true }
                if limit.isOlder(line[head.at]) { done = true; return false }
                guard wanted.contains(line[head.id]), let value = try? JSONParser.parse(Array(line)), let o = OutcomeLine(value) else { return true }
                out[o.requestID, default: []].insert(o, at: 0)
                return true
            }
            if done { break }
        }
        return out
    }

    /// The latest outcome of each action of each request.
    static func latest(_ lines: [OutcomeLine]) -> [Int: ActionOutcome] {
        var out: [Int: ActionOutcome] = [:]
        for line in lines { for a in line.actions { out[a.index] = a } }
        return out
    }

    /// `成功`, or what failed or waits, in one short line.
    static func summary(_ lines: [OutcomeLine]?) -> (text: String, ok: Bool)? {
        guard let lines, !lines.isEmpty else { return nil }
        let latest = Records.latest(lines).sorted { $0.key < $1.key }.map(\.value)
        let bad = latest.filter { $0.outcome != "done" }
        if bad.isEmpty { return ("成功", true) }
        return (bad.map { "\($0.outcome == "failed" ? "失敗" : "保留"): \($0.type)" }.joined(separator: ", "), false)
    }

    /// An action whose latest outcome is not done, and the line that says so.
    struct Problem {
        var line: OutcomeLine
        var action: ActionOutcome
    }

    /// Actions whose latest outcome, within the last `days` days, is failed
    /// or deferred: newest first.
    func problems(days: Int = 30, now: Timestamp) -> [Problem] {
        let limit = TimeLimit(seconds: now.seconds - days * 86400)
        var settled = Set<String>()  // "id#index" whose latest outcome has been seen
        var out: [Problem] = []
        let request = Array("\"run\":\"request\"".utf8), failed = Array("\"outcome\":\"failed\"".utf8),
            deferred = Array("\"outcome\":\"deferred\"".utf8)
        for path in files.all(.outcomes).reversed() {
            var done = false
            BackwardReader.lines(path: path) { line, _ in
                guard let head = OutcomeLine.rawHead(line) else { return true }
                if limit.isOlder(line[head.at]) { done = true; return false }
                // A request's own line comes before any retry or replay of it:
                // when all its actions were done, nothing older can be changed by it.
                if TextSearch.exact(line, request) && !TextSearch.exact(line, failed) && !TextSearch.exact(line, deferred) {
                    return true
                }
                guard let value = try? JSONParser.parse(Array(line)), let o = OutcomeLine(value) else { return true }
                for a in o.actions {
                    let key = "\(o.requestID)#\(a.index)"
                    guard !settled.contains(key) else { continue }
                    settled.insert(key)
                    if a.outcome != "done" {
                        out.append(Problem(line: o, action: a))
                    }
                }
                return true
            }
            if done { break }
        }
        return out
    }

    struct Spooled {
        var directory: String
        var name: String
        var requestID: String
        var index: Int
        var since: Int
    }

    /// Every mail waiting in a spool, oldest first.
    func spool() -> [Spooled] {
        var out: [Spooled] = []
        for directory in Maintenance.spoolDirectories(config) {
            for name in Files.names(in: directory) where name.hasSuffix(".mail") && !name.hasPrefix(".") {
                let stem = String(name.dropLast(5))
                let dash = stem.lastIndex(of: "-")
                let id = dash.map { String(stem[..<$0]) } ?? stem
                let index = dash.flatMap { Int(stem[stem.index(after: $0)...]) } ?? 0
                var st = stat()
                let since = stat(directory + "/" + name, &st) == 0 ? Int(st.st_mtim.tv_sec) : 0
                out.append(Spooled(directory: directory, name: name, requestID: id, index: index, since: since))
            }
        }
        return out.sorted { $0.since < $1.since }
    }

    struct Rejection {
        var at: String
        var route: String
        var status: String
        var error: String
        var message: String
        var remote: String
    }

    /// The newest `limit` rejections, newest first, and how many there were today.
    func rejections(limit: Int = 200, today: String) -> (list: [Rejection], today: Int) {
        var out: [Rejection] = []
        var todayCount = 0
        for path in files.all(.rejections).reversed() {
            var done = false
            BackwardReader.lines(path: path) { line, _ in
                guard let value = try? JSONParser.parse(Array(line)), let at = value["at"]?.stringValue else { return true }
                let isToday = at.hasPrefix(today)
                if isToday { todayCount += 1 }
                if out.count < limit {
                    out.append(Rejection(at: at, route: value["route"]?.stringValue ?? "", status: value["status"]?.scalarText ?? "",
                                         error: value["error"]?.stringValue ?? "", message: value["message"]?.stringValue ?? "",
                                         remote: value["remote_addr"]?.stringValue ?? ""))
                } else if !isToday && at.prefix(10) < today.prefix(10) {
                    done = true
                    return false
                }
                return true
            }
            if done { break }
        }
        return (out, todayCount)
    }
}
