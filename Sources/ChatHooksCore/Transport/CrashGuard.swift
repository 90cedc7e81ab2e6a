import Glibc

/// The last line of defence for "never silent": if the process traps (a bug,
/// an overflow, a stack overflow) before its response is written, a signal
/// handler writes a fixed response to stdout and a line to stderr, using
/// only async-signal-safe calls on memory prepared in advance: a 500 in our
/// own form, or once the route is known to be SPALO's, SPALO's 400 text
/// (SPALO shows a 500 as a broken bot).
enum CrashGuard {
    /// Constant text in the binary: nothing to build or allocate at start-up,
    /// and always there for the handler. (Their Content-Lengths are checked by a test.)
    static let response: StaticString = "Status: 500 Internal Server Error\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 102\r\n\r\n{\"ok\":false,\"error\":\"internal_error\",\"message\":\"the receiver failed; see the web server's error log\"}\n"
    static let spaloResponse: StaticString = "Status: 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\nX-Chathooks-Error: internal_error\r\nContent-Length: 134\r\n\r\n{\"type\":\"text\",\"text\":\"ただいまデータを取得できません。しばらくしてからもう一度お試しください。\"}\n"
    /// 1 once the route is known to be SPALO's: the handler writes `spaloResponse`.
    /// (A flag, not a StaticString variable: that would be initialised lazily, on every request.)
    nonisolated(unsafe) static var spaloForm: sig_atomic_t = 0
    static let message: StaticString = "chathooks: the handler crashed (signal) before answering; a 500 was sent\n"
    nonisolated(unsafe) static var started: sig_atomic_t = 0

    static func install() {

        // An alternate stack, so a stack overflow can still be answered.
        let size = 64 * 1024
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        stack.ss_size = size
        stack.ss_flags = 0
        sigaltstack(&stack, nil)

        var action = sigaction()
        action.__sigaction_handler.sa_handler = { signal in
            if CrashGuard.started == 0 {
                CrashGuard.started = 1
                let reply = CrashGuard.spaloForm != 0 ? CrashGuard.spaloResponse : CrashGuard.response
                _ = write(1, reply.utf8Start, reply.utf8CodeUnitCount)
            }
            _ = write(2, CrashGuard.message.utf8Start, CrashGuard.message.utf8CodeUnitCount)
            // Back to the default action, so the crash still shows as one.
            Glibc.signal(signal, SIG_DFL)
            raise(signal)
        }
        action.sa_flags = SA_ONSTACK | Int32(bitPattern: UInt32(SA_RESETHAND))
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            sigaction(sig, &action, nil)
        }
    }

    static func responseStarted() {
        started = 1
    }
}
