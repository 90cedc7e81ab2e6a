import Glibc

/// Appends whole lines to a JSON Lines file so that concurrent writers (CGI
/// processes, FastCGI workers) never interleave: one `write` of the whole line
/// under an exclusive `flock`, on an `O_APPEND` descriptor, then `fsync`.
/// A line that cannot be written completely is cut back off, so the file never
/// holds half a record.
public struct LineAppender: Sendable {
    public var path: String
    public var fsync: Bool

    public init(path: String, fsync: Bool) {
        self.path = path
        self.fsync = fsync
    }

    public func append(_ line: [UInt8]) throws(SystemError) {
        precondition(line.last == 0x0A, "a journal line ends with a newline")
        var fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        var created = false
        if fd < 0 && errno == ENOENT {
            // A new file: its folder's entry must be synced too, or a power
            // cut could lose the file with its first line.
            try Files.makeDirectories(Files.directoryName(path))
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
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
        let written = line.withUnsafeBytes { raw -> Int in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return -1
                }
                offset += n
            }
            return offset
        }
        if written != line.count {
            let failure = SystemError("write", path: path)
            _ = ftruncate(fd, sizeBefore)
            throw failure
        }
        if fsync {
            guard Glibc.fsync(fd) == 0 else {
                let failure = SystemError("fsync", path: path)
                _ = ftruncate(fd, sizeBefore)
                throw failure
            }
            if created { try Files.syncDirectory(Files.directoryName(path)) }
        }
    }
}

/// One accepted event, as the journal records it.
public struct JournalRecord: Sendable {
    public var receivedAt: Timestamp
    public var source: String
    public var event: String
    public var requestID: String
    public var remoteAddress: String
    /// Every field as received, unknown ones included, secrets removed.
    public var payload: JSONObject

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
