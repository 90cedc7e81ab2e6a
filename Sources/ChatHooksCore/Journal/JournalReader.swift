import Glibc

/// Reads journal lines back into records: the one reader that `replay` (and
/// every later reader) goes through, beside the writer (`LineAppender`).
///
/// Only lines that end with a newline are read. A last line without one is a
/// record still being written, or the fragment of a writer that was killed
/// mid-write: neither was ever answered 200, and the next append ends such a
/// fragment with a newline (see `LineAppender`). Empty lines are skipped. A line that is not a record
/// (such a fragment, or a line edited by hand) is reported with its line
/// number and byte offset and skipped; the records around it are read.
public enum JournalReader {
    /// The records of every journal file (`JournalFiles.all`: the plain one,
    /// then the months or days in order) that `select` accepts, in order.
    public static func records(files: JournalFiles, select: (JSONValue) -> Bool) -> [JournalRecord] {
        var out: [JournalRecord] = []
        for path in files.all(.journal) { out += records(path: path, select: select) }
        return out
    }

    /// Every line of every file of a stream (the outcomes, the rejections),
    /// parsed, in order; lines that are not JSON objects are reported and skipped.
    public static func lines(files: JournalFiles, _ stream: RecordStream) -> [JSONValue] {
        var out: [JSONValue] = []
        for path in files.all(stream) {
            scan(path: path, what: "line") { value in
                guard value.objectValue != nil else { return false }
                out.append(value)
                return true
            }
        }
        return out
    }

    /// The records whose parsed line `select` accepts, in journal order.
    /// Reads the file in 64 KiB pieces.
    public static func records(path: String, select: (JSONValue) -> Bool) -> [JournalRecord] {
        var out: [JournalRecord] = []
        scan(path: path, what: "journal record") { value in
            guard let record = JournalRecord(value) else { return false }
            if select(value) { out.append(record) }
            return true
        }
        return out
    }

    /// The file's size now (0 when it cannot be read).
    public static func size(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }

    /// The whole records that follow byte `offset` (a line's start), and the
    /// offset after the last of them: what a follower reads next time.
    public static func records(path: String, from offset: Int) -> ([JournalRecord], Int) {
        let (lines, end, _) = self.lines(path: path, from: offset)
        return (lines.compactMap { (try? JSONParser.parse($0)).flatMap(JournalRecord.init) }, end)
    }

    /// At most `limit` newline-ended lines after `offset` (a line's start),
    /// the offset after the last one, and whether more whole lines follow. A
    /// last line without its newline yet is left for the next pass.
    /// A line longer than `maxLine` is passed over without being held (the
    /// console's readers give `BackwardReader.maxLine`; by default every line
    /// is read whole, however long).
    public static func lines(path: String, from offset: Int, limit: Int = .max, maxLine: Int = .max) -> ([[UInt8]], Int, Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return ([], offset, false) }
        defer { close(fd) }
        var out: [[UInt8]] = []
        var position = offset
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var readAt = offset
        var dropped = 0  // bytes read of a line too long to keep (pending is then empty)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(readAt)) }
            if n <= 0 { break }
            readAt += n
            var searchFrom = pending.count
            if dropped > 0 {
                // Inside a line too long to keep: only its end is looked for,
                // and nothing of it is held.
                guard let end = newline(in: chunk, from: 0, to: n) else {
                    dropped += n
                    continue
                }
                position += dropped + end + 1
                logError("journal: \(path): a line of more than \(maxLine) bytes ending at byte offset \(position - 1) is not read")
                dropped = 0
                pending = Array(chunk[(end + 1)..<n])
                searchFrom = 0
            } else {
                // Only the new bytes are searched for a newline (as in `scan`).
                pending += chunk[0..<n]
            }
            var start = 0
            while out.count < limit, let newline = newline(in: pending, from: searchFrom, to: pending.count) {
                let line = Array(pending[start..<newline])
                position += newline - start + 1
                start = newline + 1
                searchFrom = start
                if !line.isEmpty { out.append(line) }  // empty lines: a write-only journal's, skipped
            }
            pending.removeSubrange(..<start)
            if pending.count > maxLine {
                dropped += pending.count
                pending.removeAll(keepingCapacity: true)
            }
        }
        // More to read: a whole line after the last one taken?
        var more = pending.contains(0x0A)
        if !more && out.count >= limit {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(readAt)) }
            more = n > 0 && (pending + chunk[0..<max(n, 0)]).contains(0x0A)
        }
        return (out, position, more)
    }

    /// The first newline in `bytes[from..<to]` (memchr: this is the readers' inner loop).
    static func newline(in bytes: [UInt8], from: Int, to: Int) -> Int? {
        guard from < to else { return nil }
        return bytes.withUnsafeBufferPointer { b -> Int? in
            guard let p = memchr(b.baseAddress! + from, 0x0A, to - from) else { return nil }
            return UnsafeRawPointer(p) - UnsafeRawPointer(b.baseAddress!)
        }
    }

    /// Calls `visit` with each newline-ended line of the file, parsed; a line
    /// that does not parse, or that `visit` says is not `what`, is reported
    /// with its line number and byte offset. Reads in 64 KiB pieces.
    static func scan(path: String, what: String, _ visit: (JSONValue) -> Bool) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            logError("journal: \(SystemError("open", path: path))")
            return
        }
        defer { close(fd) }
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var lineNumber = 0
        var offset = 0  // of pending's first byte in the file
        func consume(_ line: ArraySlice<UInt8>, at lineOffset: Int) {
            lineNumber += 1
            // An empty line: what a write-only journal's appends leave (see LineAppender).
            if line.isEmpty { return }
            guard let value = try? JSONParser.parse(Array(line)), visit(value) else {
                logError("journal: \(path) line \(lineNumber) (byte offset \(lineOffset), \(line.count) bytes) is not a \(what)"
                         + " (a line torn by a writer that was killed, or edited by hand); skipped")
                return
            }
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { logError("journal: \(SystemError("read", path: path))") }
            if n <= 0 { break }
            // Only the new bytes are searched for a newline: a line of many
            // pieces is not scanned again with each one.
            var searchFrom = pending.count
            pending += chunk[0..<n]
            // Every whole line of the chunk, then what is left moved down once.
            var start = pending.startIndex
            while let newline = pending[searchFrom...].firstIndex(of: 0x0A) {
                consume(pending[start..<newline], at: offset + start)
                start = newline + 1
                searchFrom = start
            }
            pending.removeSubrange(..<start)
            offset += start
        }
        if !pending.isEmpty {
            logError("journal: \(path) ends in \(pending.count) bytes with no newline at byte offset \(offset)"
                     + " (a record being written, or torn by a writer that was killed); not read")
        }
    }
}

extension JournalRecord {
    /// A record from its journal line.
    public init?(_ value: JSONValue) {
        guard let at = value["received_at"]?.stringValue, let time = Timestamp(rfc3339: at),
              let source = value["source"]?.stringValue, let event = value["event"]?.stringValue,
              let id = value["request_id"]?.stringValue, let payload = value["payload"]?.objectValue else { return nil }
        self.init(receivedAt: time, source: source, event: event, webhook: value["webhook"]?.stringValue ?? "", requestID: id,
                  remoteAddress: value["remote_addr"]?.stringValue ?? "", payload: payload)
    }
}
