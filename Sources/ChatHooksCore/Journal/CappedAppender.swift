import Glibc

/// Appends lines to a file that must not grow without bound whoever sends
/// what (the rejections file: an attacker decides how many refusals there
/// are). At `cap` bytes the file is moved aside as `name.1.ext` (the older
/// parts shift to `.2`, `.3`, and the oldest beyond `keep` is removed), and a
/// new file begins: at most `cap × (keep + 1)` bytes in all. Each append is one
/// open, one lock and one write; the moving aside happens once per `cap`
/// bytes, under the lock of the file being moved.
public struct CappedAppender: Sendable {
    public var path: String
    public var cap: Int
    public var keep: Int

    public init(path: String, cap: Int, keep: Int) {
        self.path = path
        self.cap = cap
        self.keep = keep
    }

    /// The path of the `n`th older part: `rejections.1.jsonl`.
    public func part(_ n: Int) -> String {
        let (stem, ext) = JournalFiles.split(path)
        return "\(stem).\(n)\(ext)"
    }

    public func append(_ line: [UInt8]) throws(SystemError) {
        // A writer that waited for the lock of a file another one moved aside
        // opens the new file and tries again (at most a few times: each move
        // needs `cap` bytes written first).
        for _ in 0..<4 {
            var fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            if fd < 0 && errno == ENOENT {
                try Files.makeDirectories(Files.directoryName(path))
                fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            }
            guard fd >= 0 else { throw SystemError("open", path: path) }
            defer { close(fd) }
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else { throw SystemError("flock", path: path) }
            }
            var mine = stat(), named = stat()
            guard fstat(fd, &mine) == 0 else { throw SystemError("fstat", path: path) }
            guard stat(path, &named) == 0, named.st_ino == mine.st_ino, named.st_dev == mine.st_dev else { continue }
            if mine.st_size > 0 && Int(mine.st_size) + line.count > cap {
                // Full: this file becomes part 1, and the next attempt opens a new one.
                unlink(part(keep))
                for n in stride(from: keep - 1, through: 1, by: -1) { rename(part(n), part(n + 1)) }
                guard rename(path, part(1)) == 0 else { throw SystemError("rename", path: path) }
                continue
            }
            guard writeAll(fd, line) else { throw SystemError("write", path: path) }
            return
        }
        throw SystemError("append (the file kept being moved aside)", path: path)
    }
}
