import Glibc

/// Appends whole lines to a JSON Lines file so that concurrent writers (CGI
/// processes, FastCGI workers) never interleave: one `write` of the whole line
/// under an exclusive `flock`, on an `O_APPEND` descriptor, then `fsync`.
/// A line that cannot be written completely is cut back off, so the file never
/// holds half a record.
///
/// A writer that is killed in the middle of its `write` (SIGKILL, the OOM
/// killer, a power cut) leaves a fragment with no newline, and never answered
/// 200 for it. So, under the lock and before every append, the file's last
/// byte is checked: when it is not a newline, the fragment is ended with one
/// and kept as a line of its own (every reader reports it by its byte offset
/// and skips it), the new line starts after it, and stderr says where the
/// fragment is. Nothing is cut away: the fragment may be the only trace of a
/// call, and a file the user seeded by hand may simply lack its last newline.
public struct LineAppender: Sendable {
    public var path: String
    public var fsync: Bool

    public init(path: String, fsync: Bool) {
        self.path = path
        self.fsync = fsync
    }

    public func append(_ line: [UInt8]) throws(SystemError) {
        precondition(line.last == 0x0A, "a journal line ends with a newline")
        // Read and write: the last byte is read back before each append.
        var fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        var readable = true
        if fd < 0 && errno == EACCES {
            // A file we may write but not read (set up so by hand, as a
            // hardening): its last byte cannot be checked, so every line is
            // written after a newline of its own. A torn fragment before it
            // then stays a line apart; otherwise it costs an empty line,
            // which readers skip.
            fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
            readable = false
        }
        var created = false
        if fd < 0 && errno == ENOENT {
            // A new file: its folder's entry must be synced too, or a power
            // cut could lose the file with its first line.
            try Files.makeDirectories(Files.directoryName(path))
            fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            created = true
        }
        guard fd >= 0 else { throw SystemError("open", path: path) }
        // Closing the descriptor releases the lock: no LOCK_UN call of its own.
        // (The descriptor is this call's alone, and close-on-exec.)
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw SystemError("flock", path: path) }
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError("fstat", path: path) }
        let sizeBefore = st.st_size
        var torn = false
        if sizeBefore > 0 {
            if readable {
                var last: UInt8 = 0
                guard pread(fd, &last, 1, sizeBefore - 1) == 1 else { throw SystemError("read", path: path) }
                torn = last != 0x0A
            } else {
                torn = true  // unknown: see above
            }
        }
        if torn {
            // The fragment's newline and the new line in one write.
            try write(fd, [0x0A] + line, restoring: sizeBefore)
            if readable { TornLine.report(fd: fd, path: path, end: sizeBefore) }
        } else {
            try write(fd, line, restoring: sizeBefore)
        }
        if fsync {
            guard Glibc.fsync(fd) == 0 else {
                let failure = SystemError("fsync", path: path)
                cutBack(fd, to: sizeBefore)
                throw failure
            }
            if created { try Files.syncDirectory(Files.directoryName(path)) }
        }
    }

    /// Writes every byte, or cuts the file back to `size` and throws (a full
    /// disk, a file-size limit: `EFBIG` once SIGXFSZ is ignored).
    private func write(_ fd: Int32, _ bytes: [UInt8], restoring size: off_t) throws(SystemError) {
        let written = bytes.withUnsafeBytes { raw -> Int in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return -1
                }
                offset += n
            }
            return offset
        }
        if written != bytes.count {
            let failure = SystemError("write", path: path)
            cutBack(fd, to: size)
            throw failure
        }
    }

    /// Cuts off what a failed append wrote. Where that is refused (an
    /// append-only file, `chattr +a`), says so: the part stays, without a
    /// newline, and the next append keeps it a line apart.
    private func cutBack(_ fd: Int32, to size: off_t) {
        guard ftruncate(fd, size) != 0 else { return }
        let failure = SystemError("ftruncate")
        var st = stat()
        let now = fstat(fd, &st) == 0 ? st.st_size : size
        logError("\(path): could not cut back a failed append (\(failure)): "
                 + "\(now - size) bytes at byte offset \(size) stay; the next append keeps them a line apart, and readers skip them")
    }
}

/// The note on stderr about a torn line found at the end of a file.
enum TornLine {
    /// Finds where the fragment that ends at `end` starts (after the file's
    /// last newline) and says so, with the request id when the fragment has
    /// one (a journal line names it near its start).
    static func report(fd: Int32, path: String, end: off_t) {
        var start: off_t = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        var position = end
        search: while position > 0 {
            let from = max(0, position - off_t(chunk.count))
            let count = Int(position - from)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, from) }
            guard n == count else { break }
            var i = count - 1
            while i >= 0 {
                if chunk[i] == 0x0A { start = from + off_t(i) + 1; break search }
                i -= 1
            }
            position = from
        }
        var head = [UInt8](repeating: 0, count: 256)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, Int(end - start)), start) }
        let id = n > 0 ? requestID(in: head[0..<n]) : nil
        logError("\(path): the last line was torn (\(end - start) bytes at byte offset \(start) with no newline: "
                 + "a writer killed while writing it, which never answered 200 for it, or a file that ended so"
                 + (id.map { "; it names request \($0)" } ?? "")
                 + "); it was ended with a newline and kept, and the new line follows it")
    }

    /// The value of `"request_id":"…"` in a journal line's first bytes.
    static func requestID(in bytes: ArraySlice<UInt8>) -> String? {
        let key = Array("\"request_id\":\"".utf8)
        guard bytes.count > key.count else { return nil }
        var i = bytes.startIndex
        while i + key.count <= bytes.endIndex {
            if bytes[i..<(i + key.count)].elementsEqual(key) {
                let valueStart = i + key.count
                var j = valueStart
                // A request id is a ULID: letters and digits only.
                while j < bytes.endIndex, j - valueStart < 32,
                      (0x30...0x39).contains(bytes[j]) || (0x41...0x5A).contains(bytes[j]) { j += 1 }
                return j > valueStart ? String(decoding: bytes[valueStart..<j], as: UTF8.self) : nil
            }
            i += 1
        }
        return nil
    }
}

/// One accepted event, as the journal records it.
public struct JournalRecord: Sendable {
    public var receivedAt: Timestamp
    public var source: String
    public var event: String
    /// Which configured webhook took it, for a sender with several (SPALO);
    /// empty for the others. (Not an Optional: copying a `String?` here makes
    /// the runtime build Optional's metadata, 25k instructions a CGI request.)
    public var webhook: String
    public var requestID: String
    public var remoteAddress: String
    /// Every field as received, unknown ones included, secrets removed.
    public var payload: JSONObject

    public init(receivedAt: Timestamp, source: String, event: String, webhook: String = "", requestID: String,
                remoteAddress: String, payload: JSONObject) {
        self.receivedAt = receivedAt
        self.source = source
        self.event = event
        self.webhook = webhook
        self.requestID = requestID
        self.remoteAddress = remoteAddress
        self.payload = payload
    }

    /// The record as one JSON Lines line (newline included). The fixed
    /// fields are written straight into the line; only the payload goes
    /// through the writer's walk of a value.
    public var line: [UInt8] {
        var writer = JSONWriter(reservingCapacity: 1024)
        writer.raw("{\"received_at\":")
        writer.writeString(receivedAt.rfc3339)
        writer.raw(",\"source\":")
        writer.writeString(source)
        writer.raw(",\"event\":")
        writer.writeString(event)
        if !webhook.isEmpty {
            writer.raw(",\"webhook\":")
            writer.writeString(webhook)
        }
        writer.raw(",\"request_id\":")
        writer.writeString(requestID)
        writer.raw(",\"remote_addr\":")
        writer.writeString(remoteAddress)
        writer.raw(",\"payload\":")
        writer.write(.object(payload))
        writer.raw("}\n")
        return writer.bytes
    }
}
