import Glibc

/// Small file helpers over Glibc.
public enum Files {
    /// Reads a whole file. Refuses files larger than `limit`. One buffer sized
    /// from `fstat`, read into directly (nothing is zero-filled first).
    public static func read(_ path: String, limit: Int = 16 << 20) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        var st = stat()
        var capacity = (fstat(fd, &st) == 0 ? min(max(Int(st.st_size), 0), limit) : 0) + 1
        var buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { buffer.deallocate() }
        var count = 0
        while true {
            if count == capacity {
                // The file grew since fstat: a bigger buffer.
                guard count <= limit else { throw SystemError("read", path: path, errno: EFBIG) }
                let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
                bigger.moveInitialize(from: buffer, count: count)
                buffer.deallocate()
                buffer = bigger
                capacity *= 2
            }
            let n = Glibc.read(fd, buffer + count, capacity - count)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", path: path)
            }
            if n == 0 { break }
            count += n
        }
        guard count <= limit else { throw SystemError("read", path: path, errno: EFBIG) }
        return Array(UnsafeBufferPointer(start: buffer, count: count))
    }

    /// `mkdir -p`: creates every missing folder of `path`, each one synced
    /// into its parent.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws(SystemError) {
        // Each prefix of the path that ends a component, cut from its bytes:
        // joining Substrings goes through unspecialised generic code, which
        // cost the first append to a new file (a chat's own file) ~120k
        // instructions.
        let bytes = Array(path.utf8)
        let slash = UInt8(ascii: "/")
        var parentEnd: Int? = nil  // where the last component made ends
        var i = 0
        while i < bytes.count {
            while i < bytes.count && bytes[i] == slash { i += 1 }
            if i == bytes.count { break }
            var j = i
            while j < bytes.count && bytes[j] != slash { j += 1 }
            let current = String(decoding: bytes[0..<j], as: UTF8.self)
            if mkdir(current, mode) == 0 {
                let parent = parentEnd.map { String(decoding: bytes[0..<$0], as: UTF8.self) } ?? (bytes[0] == slash ? "/" : ".")
                try syncDirectory(parent)
            } else if errno != EEXIST {
                throw SystemError("mkdir", path: current)
            }
            parentEnd = j
            i = j
        }
    }

    /// Makes a folder's entries (a file just created or renamed into it)
    /// survive a power cut.
    /// Replaces `path` with `bytes` whole or not at all: a temporary file in
    /// the same folder (named by this process), synced, renamed over it. With
    /// `durable`, the folder is synced too, so the rename survives a power cut.
    public static func replace(_ path: String, with bytes: [UInt8], mode: mode_t = 0o640, durable: Bool = false) throws(SystemError) {
        let temporary = path + ".tmp\(getpid())"
        var fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        if fd < 0 && errno == EEXIST {
            unlink(temporary)  // left by a process of the same pid that died
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        }
        guard fd >= 0 else { throw SystemError("open", path: temporary) }
        let written = writeAll(fd, bytes)
        let error = errno
        let synced = written && fsync(fd) == 0
        close(fd)
        guard written, synced else {
            unlink(temporary)
            throw SystemError(written ? "fsync" : "write", path: temporary, errno: written ? errno : error)
        }
        guard rename(temporary, path) == 0 else {
            let error = SystemError("rename", path: path)
            unlink(temporary)
            throw error
        }
        if durable { try syncDirectory(directoryName(path)) }
    }

    public static func syncDirectory(_ path: String) throws(SystemError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: path) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SystemError("fsync", path: path) }
    }

    /// The last part of a path: `journal-2026-12.jsonl`.
    public static func baseName(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return path }
        return String(path[path.utf8.index(after: slash)...])
    }

    public static func directoryName(_ path: String) -> String {
        // By bytes: a Character search would run grapheme breaking over the path.
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == path.utf8.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// Resolves `path` against `base` unless it is absolute.
    public static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }

    /// The running executable's own path (`/proc/self/exe`), links resolved.
    public static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The names in a folder (not `.` and `..`), in no order; none when it cannot be read.
    public static func names(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
