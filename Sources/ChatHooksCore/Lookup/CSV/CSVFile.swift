import Glibc

/// What identifies one version of a file: a change of content changes at
/// least the ctime, even when the size stays and the mtime is set back.
struct FileIdentity: Equatable {
    var device: UInt64, inode: UInt64, size: UInt64
    var mtimeSeconds: UInt64, mtimeNanoseconds: UInt64
    var ctimeSeconds: UInt64, ctimeNanoseconds: UInt64

    init(_ st: stat) {
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = UInt64(bitPattern: Int64(st.st_size))
        mtimeSeconds = UInt64(bitPattern: Int64(st.st_mtim.tv_sec))
        mtimeNanoseconds = UInt64(bitPattern: Int64(st.st_mtim.tv_nsec))
        ctimeSeconds = UInt64(bitPattern: Int64(st.st_ctim.tv_sec))
        ctimeNanoseconds = UInt64(bitPattern: Int64(st.st_ctim.tv_nsec))
    }

    init(fields: [UInt64]) {
        (device, inode, size) = (fields[0], fields[1], fields[2])
        (mtimeSeconds, mtimeNanoseconds, ctimeSeconds, ctimeNanoseconds) = (fields[3], fields[4], fields[5], fields[6])
    }

    var fields: [UInt64] {
        [device, inode, size, mtimeSeconds, mtimeNanoseconds, ctimeSeconds, ctimeNanoseconds]
    }

    /// git's "racy" rule: a change within the same timestamp tick as the last
    /// one would leave every field as it is, so a version is only trusted
    /// (an index written for it) once its mtime and ctime are at least two
    /// seconds older than `now`.
    func isRacy(now: Timestamp) -> Bool {
        func recent(_ seconds: UInt64, _ nanoseconds: UInt64) -> Bool {
            let s = Int(Int64(bitPattern: seconds)) + 2
            return s > now.seconds || (s == now.seconds && Int(nanoseconds) > now.nanoseconds)
        }
        return recent(mtimeSeconds, mtimeNanoseconds) || recent(ctimeSeconds, ctimeNanoseconds)
    }
}

/// System calls a lookup made: what the manual measurement reports.
struct CSVReadStats {
    var reads = 0
    var bytes = 0
}

/// An open file, closed when it goes.
struct OpenFile: ~Copyable {
    let fd: Int32
    let path: String

    init(_ path: String) throws(LookupError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LookupError("\(SystemError("open", path: path))") }
        self.fd = fd
        self.path = path
    }

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    func identity() throws(LookupError) -> FileIdentity {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw LookupError("\(SystemError("fstat", path: path))") }
        return FileIdentity(st)
    }

    /// Reads up to `count` bytes at `offset` into `buffer` (fewer only at the
    /// end of the file).
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int, stats: inout CSVReadStats) throws(LookupError) -> Int {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            stats.reads += 1
            if n < 0 {
                if errno == EINTR { continue }
                throw LookupError("\(SystemError("read", path: path))")
            }
            if n == 0 { break }
            done += n
            stats.bytes += n
        }
        return done
    }

    /// `count` bytes at `offset`, fewer at the end of the file.
    func read(_ count: Int, at offset: Int, stats: inout CSVReadStats) throws(LookupError) -> [UInt8] {
        var failure: LookupError? = nil
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(LookupError) {
                initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset, stats: &stats)
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}
