import CFastCGI
import CStartup
import Glibc

/// FastCGI through libfcgi's reentrant `FCGX_*` API, when fd 0 is a listening
/// socket (spawn-fcgi, Apache mod_fcgid, a systemd socket unit). The request
/// path is the same as CGI's; only how bytes come and go differs.
///
/// The loop is fcgi2's: init once, then accept → handle → finish until accept
/// fails. SIGTERM lets the request in flight finish, then the process exits;
/// SIGHUP re-reads the configuration (it is also re-read when its file
/// changes); SIGPIPE is ignored, so a client that went away costs nothing.
public enum FastCGITransport {
    nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0
    nonisolated(unsafe) static var reloadRequested: sig_atomic_t = 0

    /// True when fd 0 is a listening socket: the FastCGI convention.
    public static func isFastCGI() -> Bool {
        var listening: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(0, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening != 0
    }

    /// How long a connection may stall (no byte to read, or none taken from
    /// us) before it is dropped: `CHATHOOKS_FASTCGI_TIMEOUT` seconds, else 10.
    /// The web server sends a buffered request at once (nginx: keep
    /// `fastcgi_request_buffering on`, the default), so only a broken or
    /// hostile peer ever waits this long.
    static let defaultConnectionTimeout: Int32 = 10

    static func connectionTimeout() -> Int32 {
        guard let text = ConfigLoader.processEnvironment("CHATHOOKS_FASTCGI_TIMEOUT") else { return defaultConnectionTimeout }
        guard let seconds = Int32(text), (1...3600).contains(seconds) else {
            logError("FastCGI: CHATHOOKS_FASTCGI_TIMEOUT=\(text) is not a number of seconds from 1 to 3600; using \(defaultConnectionTimeout)")
            return defaultConnectionTimeout
        }
        return seconds
    }

    public static func run(_ router: Router) -> Int32 {
        installSignalHandlers()
        chathooks_set_connection_timeout(connectionTimeout())
        guard FCGX_Init() == 0 else {
            logError("FastCGI: FCGX_Init failed")
            return 1
        }
        var request = FCGX_Request()
        // FAIL_ACCEPT_ON_INTR: a SIGTERM while waiting ends the wait.
        guard FCGX_InitRequest(&request, 0, FCGI_FAIL_ACCEPT_ON_INTR) == 0 else {
            logError("FastCGI: FCGX_InitRequest failed")
            return 1
        }
        let configs = ConfigCache()
        // The signals that stop or reload wait while a request is served (a
        // read interrupted mid-body would cut the request short); they are let
        // in only while waiting for the next request.
        var signals = sigset_t()
        sigemptyset(&signals)
        for sig in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, sig) }
        sigprocmask(SIG_BLOCK, &signals, nil)
        while true {
            sigprocmask(SIG_UNBLOCK, &signals, nil)  // a pending SIGTERM runs its handler here
            let accepted = stopRequested == 0 ? FCGX_Accept_r(&request) : -1
            sigprocmask(SIG_BLOCK, &signals, nil)
            guard accepted >= 0, stopRequested == 0 else { break }
            if reloadRequested != 0 {
                reloadRequested = 0
                configs.reloadRequested = true
            }
            guard request.role == responderRole else {
                refuseRole(&request)
                continue
            }
            serve(&request, router: router, configs: configs)
            FCGX_Finish_r(&request)
        }
        FCGX_Free(&request, 1)
        return 0
    }

    /// FCGI_RESPONDER: the one role we play (FastCGI 1.0, section 6).
    static let responderRole: Int32 = 1

    /// A request in another role (Authorizer, Filter) is rejected as the
    /// FastCGI specification says (section 5.5): FCGI_END_REQUEST with
    /// FCGI_UNKNOWN_ROLE, nothing read, run or journaled, and the connection
    /// closed. libfcgi passes those two roles on without a way to answer them
    /// so, so the record is written here and the request released without the
    /// END_REQUEST that FCGX_Finish_r would send.
    static func refuseRole(_ raw: inout FCGX_Request) {
        logError("FastCGI: a request in role \(raw.role) (not Responder) was refused with FCGI_UNKNOWN_ROLE")
        let id = UInt16(truncatingIfNeeded: raw.requestId)
        // version 1, type 3 (END_REQUEST), request id, content length 8, no padding;
        // then appStatus 0, protocolStatus 3 (FCGI_UNKNOWN_ROLE), 3 reserved bytes.
        let record: [UInt8] = [1, 3, UInt8(id >> 8), UInt8(id & 0xFF), 0, 8, 0, 0,
                               0, 0, 0, 0, 3, 0, 0, 0]
        _ = writeAll(raw.ipcFd, record)
        FCGX_Free(&raw, 1)
    }

    static func serve(_ raw: inout FCGX_Request, router: Router, configs: ConfigCache) {
        let request = Request(variables: Request.variables(fromBlock: raw.envp))
        // Log lines go to this request's FastCGI stderr (the web server's error
        // log). The stream is kept in a static, so no closure is made per request.
        FastCGITransport.errorStream = raw.err
        LogSink.current = FastCGITransport.writeToErrorStream
        defer { LogSink.current = nil; FastCGITransport.errorStream = nil }
        var body = FastCGIBodyReader(stream: raw.in)
        let response = router.respond(to: request, body: &body) { request in
            let path = ConfigLoader.locate(environment: { request.variables[$0] ?? ConfigLoader.processEnvironment($0) })
            // Under Apache's mod_fcgid, as under its CGI (see ConfigExposure).
            if let refusal = ConfigExposure.refusal(configPath: path, variables: request.variables) { return refusal }
            return configs.config(at: path)
        }
        let bytes = response.cgiBytes
        // A client that has gone away makes this fail; there is no one to tell.
        _ = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), raw.out) }
        }
        body.discard(upTo: BodyDrain.limit(announced: request.contentLength))
    }

    nonisolated(unsafe) static var errorStream: UnsafeMutablePointer<FCGX_Stream>?

    static func writeToErrorStream(_ line: [UInt8]) {
        guard let stream = errorStream else { _ = writeAll(2, line); return }
        _ = line.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), stream) }
        }
    }

    static func installSignalHandlers() {
        signal(SIGPIPE, SIG_IGN)
        FileSizeLimit.ignoreSignal()
        var stop = sigaction()
        stop.__sigaction_handler.sa_handler = { _ in
            FastCGITransport.stopRequested = 1
            // Closing our copy of the listening socket makes an accept() that
            // is about to start fail at once (other processes keep theirs).
            close(0)
        }
        stop.sa_flags = 0  // no SA_RESTART: a waiting accept() returns EINTR
        sigaction(SIGTERM, &stop, nil)
        sigaction(SIGINT, &stop, nil)
        var reload = sigaction()
        reload.__sigaction_handler.sa_handler = { _ in FastCGITransport.reloadRequested = 1 }
        reload.sa_flags = SA_RESTART
        sigaction(SIGHUP, &reload, nil)
    }
}

/// Reads a body from a FastCGI stdin stream.
struct FastCGIBodyReader: BodyReader {
    let stream: UnsafeMutablePointer<FCGX_Stream>?
    private(set) var consumed = 0

    init(stream: UnsafeMutablePointer<FCGX_Stream>?) { self.stream = stream }

    mutating func read(count: Int) throws(HTTPError) -> [UInt8] {
        var n: Int32 = 0
        // Straight into the array's storage: nothing zero-filled first.
        let buffer = [UInt8](unsafeUninitializedCapacity: count) { b, initialized in
            n = b.withMemoryRebound(to: CChar.self) { FCGX_GetStr($0.baseAddress, Int32(count), stream) }
            initialized = max(Int(n), 0)
        }
        guard n >= 0 else { throw HTTPError(400, "read_failed", "the body could not be read", detail: "FCGX_GetStr failed") }
        consumed += Int(n)
        return buffer
    }
}

/// The entry point every executable shares: FastCGI when started on a
/// listening socket, else CGI.
public enum Server {
    public static func main(_ router: Router) -> Never {
        if FastCGITransport.isFastCGI() { exit(FastCGITransport.run(router)) }
        CGITransport.run(router)
    }
}
