import Glibc

/// Runs a program with an argument vector (never a shell), bytes on its stdin,
/// a clean environment, and a deadline; captures its output up to a bound.
/// A non-zero exit, a signal or the deadline is a result, not an error.
public struct Subprocess {
    public enum Termination: Equatable, Sendable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)
        case timedOut(seconds: Int)

        public var succeeded: Bool { self == .exited(0) }

        public var description: String {
            switch self {
            case .exited(let code): "exited with status \(code)"
            case .signalled(let sig): "was killed by signal \(sig)"
            case .timedOut(let s): "did not finish within \(s) s and was killed"
            }
        }
    }

    public struct Result: Sendable {
        public var termination: Termination
        public var stdout: [UInt8]
        public var stderr: [UInt8]
        /// True when output beyond the capture bound was dropped.
        public var truncated: Bool
    }

    public var argv: [String]
    public var environment: [String: String]
    public var stdin: [UInt8]
    public var timeoutSeconds: Int
    public var captureLimit: Int
    /// Kill the whole process group as soon as the program has exited (and
    /// its output has had `exitGrace` to drain): nothing it started outlives
    /// it. For a lookup, whose answer is all that is wanted; an action may
    /// start work that goes on.
    public var killGroupAfterExit = false

    /// How long output is still read once the program has exited: a child it
    /// left behind may hold the pipes open, and is not waited for.
    static let exitGraceMilliseconds = 100

    public init(argv: [String], environment: [String: String], stdin: [UInt8] = [], timeoutSeconds: Int,
                captureLimit: Int = 8192) {
        self.argv = argv
        self.environment = environment
        self.stdin = stdin
        self.timeoutSeconds = timeoutSeconds
        self.captureLimit = captureLimit
    }

    /// Runs the program; throws only when it cannot be started at all.
    public func run() throws(SystemError) -> Result {
        // A child that exits without reading its input must not kill us with
        // SIGPIPE (the handlers ignore it anyway; the CLI and tests might not).
        let previous = signal(SIGPIPE, SIG_IGN)
        defer { signal(SIGPIPE, previous) }
        Subprocess.closeOtherDescriptorsOnExec()
        var inPipe: [Int32] = [-1, -1], outPipe: [Int32] = [-1, -1], errPipe: [Int32] = [-1, -1]
        // Close-on-exec, so only the dup2'd ends reach the child (single-threaded: no race).
        for i in 0..<3 {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw SystemError("pipe") }
            for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            if i == 0 { inPipe = fds } else if i == 1 { outPipe = fds } else { errPipe = fds }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group, so a timeout kills what it started too; and
        // default signal handling (we ignore SIGPIPE, the child must not inherit that).
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGPIPE, SIGXFSZ, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        // Nothing blocked in the child (the FastCGI loop blocks SIGTERM while serving).
        var noneBlocked = sigset_t()
        sigemptyset(&noneBlocked)
        posix_spawnattr_setsigmask(&attributes, &noneBlocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard spawned == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw SystemError("start \(argv[0])", errno: spawned)
        }
        return collect(pid: pid, stdinFD: inPipe[1], stdoutFD: outPipe[0], stderrFD: errPipe[0])
    }

    private func collect(pid: pid_t, stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32) -> Result {
        let deadline = monotonicMilliseconds() + timeoutSeconds * 1000
        var inFD = stdinFD
        var written = 0
        _ = fcntl(inFD, F_SETFL, fcntl(inFD, F_GETFL) | O_NONBLOCK)
        if stdin.isEmpty { close(inFD); inFD = -1 }
        var outFD = stdoutFD, errFD = stderrFD
        var out: [UInt8] = [], err: [UInt8] = []
        var truncated = false
        var timedOut = false
        var buffer = [UInt8](repeating: 0, count: 16384)
        var status: Int32 = 0
        var exited = false
        var drainUntil = Int.max

        while inFD >= 0 || outFD >= 0 || errFD >= 0 {
            let now = monotonicMilliseconds()
            if !exited {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid {
                    exited = true
                    drainUntil = now + Subprocess.exitGraceMilliseconds
                }
            }
            // Exited, and its output drained (or held open by something it left behind).
            if exited && now >= drainUntil { break }
            let left = min(deadline, drainUntil) - now
            if left <= 0 { timedOut = !exited; break }
            var fds: [pollfd] = []
            if inFD >= 0 { fds.append(pollfd(fd: inFD, events: Int16(POLLOUT), revents: 0)) }
            if outFD >= 0 { fds.append(pollfd(fd: outFD, events: Int16(POLLIN), revents: 0)) }
            if errFD >= 0 { fds.append(pollfd(fd: errFD, events: Int16(POLLIN), revents: 0)) }
            // Short waits: the program's exit wakes no poll while a child holds its pipes.
            let ready = poll(&fds, nfds_t(fds.count), Int32(min(left, 50)))
            if ready < 0 && errno != EINTR { break }
            for p in fds where p.revents != 0 {
                if p.fd == inFD {
                    let n = stdin.withUnsafeBytes { write(inFD, $0.baseAddress! + written, $0.count - written) }
                    if n > 0 { written += n }
                    if n < 0 && errno != EAGAIN && errno != EINTR || written == stdin.count {
                        close(inFD); inFD = -1  // done, or the child stopped reading
                    }
                } else {
                    let n = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                    if n <= 0 {
                        if n < 0 && errno == EINTR { continue }
                        close(p.fd)
                        if p.fd == outFD { outFD = -1 } else { errFD = -1 }
                        continue
                    }
                    var target = p.fd == outFD ? out : err
                    let room = max(0, captureLimit - target.count)
                    target += buffer[0..<min(n, room)]
                    if n > room { truncated = true }
                    if p.fd == outFD { out = target } else { err = target }
                }
            }
        }
        for fd in [inFD, outFD, errFD] where fd >= 0 { close(fd) }
        if !timedOut && !exited {
            // Output closed; wait for the exit, still within the deadline.
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { break }
                if r < 0 && errno != EINTR { break }
                if monotonicMilliseconds() >= deadline { timedOut = true; break }
                usleep(2000)
            }
        }
        if timedOut {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return Result(termination: .timedOut(seconds: timeoutSeconds), stdout: out, stderr: err, truncated: truncated)
        }
        // What it left behind in its group (it has been reaped: the group id
        // stays in use only while a member lives, so this names no one else).
        if killGroupAfterExit { kill(-pid, SIGKILL) }
        let termination: Termination = (status & 0x7F) == 0 ? .exited((status >> 8) & 0xFF) : .signalled(status & 0x7F)
        return Result(termination: termination, stdout: out, stderr: err, truncated: truncated)
    }
}

extension Subprocess {
    /// The child gets stdin, stdout and stderr only: every other descriptor (a
    /// FastCGI connection, the journal) is marked close-on-exec first, so a
    /// daemonizing sendmail cannot hold a web server's connection open.
    static func closeOtherDescriptorsOnExec() {
        var fds: [Int32] = []
        if let dir = opendir("/proc/self/fd") {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if let fd = Int32(name) { fds.append(fd) }
            }
            closedir(dir)
        } else {
            fds = Array(0..<1024)
        }
        for fd in fds where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0 && flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }
}

func monotonicMilliseconds() -> Int {
    Int(monotonicNanoseconds() / 1_000_000)
}

/// The monotonic clock (never set back), for deadlines and durations.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
