import ChatHooksCore
import Glibc

/// Events per day per route, and each route's last event, for the overview.
/// Counted forward through each journal file once; what was counted is kept
/// in `<journal folder>/console/cache/counts.json` with the file's device,
/// inode and the offset counted to, so a later visit reads only the lines
/// added since. A file that was replaced (another inode), is shorter than
/// the offset, begins with other bytes, or has no line ending just before
/// the offset (emptied in place and written again) is counted again from
/// its start. Without a writable cache it still works,
/// counting every time.
struct DailyCounts {
    struct Last {
        var receivedAt: String
        var requestID: String
        var file: String
        var offset: Int
    }

    struct FileCount {
        var name: String
        var device: UInt64
        var inode: UInt64
        var offset: Int
        /// BLAKE2b of the file's first bytes (up to 256) when it was counted.
        var head = ""
        var days: [String: [String: Int]] = [:]  // date → route → count
        var last: [String: Last] = [:]  // route → its newest event in this file
    }

    var days: [String: [String: Int]] = [:]
    var last: [String: Last] = [:]

    static func route(_ head: JournalLineHead) -> String { head.source + "/" + head.event }

    /// The counts of every journal file now.
    static func load(_ files: JournalFiles, cacheFolder: String) -> DailyCounts {
        let cachePath = cacheFolder + "/counts.json"
        var cached: [String: FileCount] = [:]
        if let bytes = try? Files.read(cachePath, limit: 16 << 20), let value = try? JSONParser.parse(bytes) {
            for f in value["files"]?.arrayValue ?? [] { if let c = FileCount(f) { cached[c.name] = c } }
        }
        var result = DailyCounts()
        var kept: [FileCount] = []
        var changed = false
        for path in files.all(.journal) {
            let name = Files.baseName(path)
            var st = stat()
            guard stat(path, &st) == 0 else { continue }
            var count = cached[name] ?? FileCount(name: name, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), offset: 0)
            if count.device != UInt64(st.st_dev) || count.inode != UInt64(st.st_ino) || count.offset > Int(st.st_size)
                || !count.stillCounts(path) {
                count = FileCount(name: name, device: UInt64(st.st_dev), inode: UInt64(st.st_ino), offset: 0)
            }
            if count.offset < Int(st.st_size) {
                count.advance(path)
                changed = true
            }
            for (date, routes) in count.days {
                for (route, n) in routes { result.days[date, default: [:]][route, default: 0] += n }
            }
            // Files are oldest first: a later file's last event is newer.
            for (route, l) in count.last { result.last[route] = l }
            kept.append(count)
        }
        if changed || kept.count != cached.count {
            let value = jsonObject([("files", .array(kept.map(\.json)))])
            do {
                try Files.makeDirectories(cacheFolder, mode: 0o700)
                try Files.replace(cachePath, with: JSONWriter.serialize(value), mode: 0o600)
            } catch {
                logError("console: \(error); the counts are not kept (they are counted again next time)")
            }
        }
        return result
    }
}

extension DailyCounts.FileCount {
    /// The first bytes (a hash of at most 256) and the byte before the
    /// offset (a newline) are what they were: the file was only appended to.
    func stillCounts(_ path: String) -> Bool {
        guard offset > 0 else { return true }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var last: UInt8 = 0
        guard pread(fd, &last, 1, off_t(offset - 1)) == 1, last == 0x0A else { return false }
        return DailyCounts.FileCount.headHash(fd, upTo: offset) == head
    }

    static func headHash(_ fd: Int32, upTo offset: Int) -> String {
        var first = [UInt8](repeating: 0, count: min(256, offset))
        let n = first.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        return Secure.hashHex(Array(first[0..<max(n, 0)]))
    }

    /// Counts the whole lines after `offset`, in batches.
    mutating func advance(_ path: String) {
        while true {
            let (lines, end, more) = JournalReader.lines(path: path, from: offset, limit: 20_000, maxLine: BackwardReader.maxLine)
            var at = offset
            // Per route: its newest line of this batch, and where it starts.
            var newest: [String: (line: Int, offset: Int)] = [:]
            var known: [(source: [UInt8], event: [UInt8], route: String)] = []
            for (i, line) in lines.enumerated() {
                // Where the line starts: a hint for its link (an empty line
                // skipped before it moves it; the event page then searches).
                let slice = line[...]
                let route: String
                let date: String
                if let raw = RawHead(slice) {
                    // The route's String made once per batch, not per line.
                    if let k = known.first(where: { $0.source.elementsEqual(raw.source) && $0.event.elementsEqual(raw.event) }) {
                        route = k.route
                    } else {
                        route = String(decoding: raw.source, as: UTF8.self) + "/" + String(decoding: raw.event, as: UTF8.self)
                        known.append((Array(raw.source), Array(raw.event), route))
                    }
                    date = String(decoding: raw.date, as: UTF8.self)
                } else if let head = EventStore.headByParsing(slice) {
                    route = DailyCounts.route(head)
                    date = String(head.date)
                } else {
                    at += line.count + 1
                    continue
                }
                days[date, default: [:]][route, default: 0] += 1
                newest[route] = (i, at)
                at += line.count + 1
            }
            for (route, n) in newest {
                let slice = lines[n.line][...]
                if let head = JournalLineHead(slice) ?? EventStore.headByParsing(slice) {
                    last[route] = DailyCounts.Last(receivedAt: head.receivedAt, requestID: head.requestID, file: name, offset: n.offset)
                }
            }
            offset = end
            if !more || lines.isEmpty { break }
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            head = DailyCounts.FileCount.headHash(fd, upTo: offset)
            close(fd)
        }
    }

    init?(_ v: JSONValue) {
        guard let name = v["name"]?.stringValue, let device = v["device"]?.scalarText.flatMap({ UInt64($0) }),
              let inode = v["inode"]?.scalarText.flatMap({ UInt64($0) }), let offset = v["offset"]?.scalarText.flatMap({ Int($0) })
        else { return nil }
        self.init(name: name, device: device, inode: inode, offset: offset)
        head = v["head"]?.stringValue ?? ""
        for m in v["days"]?.objectValue?.members ?? [] {
            for r in m.value.objectValue?.members ?? [] {
                if let n = r.value.scalarText.flatMap({ Int($0) }) { days[m.key, default: [:]][r.key] = n }
            }
        }
        for m in v["last"]?.objectValue?.members ?? [] {
            guard let at = m.value["at"]?.stringValue, let id = m.value["id"]?.stringValue,
                  let off = m.value["offset"]?.scalarText.flatMap({ Int($0) }) else { continue }
            last[m.key] = DailyCounts.Last(receivedAt: at, requestID: id, file: name, offset: off)
        }
    }

    var json: JSONValue {
        var d = JSONObject()
        for (date, routes) in days.sorted(by: { $0.key < $1.key }) {
            var r = JSONObject()
            for (route, n) in routes.sorted(by: { $0.key < $1.key }) { r.append(route, .number(String(n))) }
            d.append(date, .object(r))
        }
        var l = JSONObject()
        for (route, x) in last.sorted(by: { $0.key < $1.key }) {
            l.append(route, jsonObject([("at", .string(x.receivedAt)), ("id", .string(x.requestID)), ("offset", .number(String(x.offset)))]))
        }
        return jsonObject([("name", .string(name)), ("device", .number(String(device))), ("inode", .number(String(inode))),
                           ("offset", .number(String(offset))), ("head", .string(head)), ("days", .object(d)), ("last", .object(l))])
    }
}

func jsonObject(_ pairs: [(String, JSONValue)]) -> JSONValue {
    .object(JSONObject(pairs.map { JSONObject.Member(key: $0.0, value: $0.1) }))
}
