// Fuzz target: libfcgi's own reading of a request. The input is what a web
// server sends on a FastCGI connection (records: BEGIN_REQUEST, PARAMS,
// STDIN, management records…). It is written into a Unix socket connection,
// the client closes, and FCGX_Accept_r reads it as the FastCGI transport
// does; an accepted request's envp then goes through Request.variables and
// its body through FastCGIBodyReader, and the request is finished.
//
// Bounded: the listening socket is non-blocking, so once the one connection
// is used up FCGX_Accept_r returns instead of waiting for the next; the
// client has closed, so libfcgi's reads end at the input's end and its
// writes fail (SIGPIPE ignored) rather than wait. (libfcgi is not instrumented: coverage is of our side, but ASan's
// interceptors still check libfcgi's memcpy and malloc.)
import CFastCGI
import Glibc
@testable import ChatHooksCore

/// The listening socket, at an abstract Unix address of this process's own.
let fuzzListener: Int32 = {
    signal(SIGPIPE, SIG_IGN)
    guard FCGX_Init() == 0 else { fatalError("FCGX_Init failed") }
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = fuzzAddress()
    let bound = withUnsafePointer(to: &address.0) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.1) }
    }
    guard fd >= 0, bound == 0, listen(fd, 4) == 0 else { fatalError("cannot listen: errno \(errno)") }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    return fd
}()

func fuzzAddress() -> (sockaddr_un, socklen_t) {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let name = Array("chathooks-fuzz-\(getpid())".utf8)
    withUnsafeMutableBytes(of: &address.sun_path) { path in
        path[0] = 0  // abstract: no file to clean up
        for (i, b) in name.enumerated() { path[i + 1] = b }
    }
    return (address, socklen_t(MemoryLayout<sa_family_t>.size + 1 + name.count))
}

/// Whether libfcgi 2.4.2's known abort may apply: a name-value pair whose
/// two lengths add up, with 2, past Int32.max. ReadParams computes that sum
/// in an int and its Malloc asserts
/// (FuzzFindingsTests.libfcgiSurvivesParamsWhoseLengthsAddUpPastInt32).
/// Such inputs are skipped so that the target keeps finding other things.
/// Where libfcgi reads a pair depends on its record quirks (the padding of a
/// BEGIN_REQUEST is read as the next header, for one), so every offset is
/// tried: a few inputs too many are skipped, none too few.
func hitsKnownLibfcgiOverflow(_ input: [UInt8]) -> Bool {
    func length(at k: Int) -> (value: Int, width: Int)? {
        guard k < input.count else { return nil }
        if input[k] & 0x80 == 0 { return (Int(input[k]), 1) }
        guard k + 4 <= input.count else { return nil }
        return (Int(input[k] & 0x7F) << 24 | Int(input[k + 1]) << 16 | Int(input[k + 2]) << 8 | Int(input[k + 3]), 4)
    }
    for k in input.indices where input[k] & 0x80 != 0 || (k + 1 < input.count && input[k + 1] & 0x80 != 0) {
        guard let name = length(at: k), let value = length(at: k + name.width) else { continue }
        if name.value + value.value + 2 > Int(Int32.max) { return true }
    }
    return false
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFastCGIRecords(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = fuzzInput(data, size)
    if hitsKnownLibfcgiOverflow(input) { return 0 }
    let listener = fuzzListener
    let client = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = fuzzAddress()
    let connected = withUnsafePointer(to: &address.0) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, address.1) }
    }
    invariant(client >= 0 && connected == 0, "cannot connect: errno \(errno)")
    // -max_len keeps the input far below the socket's buffer: this never
    // blocks. The client then closes: libfcgi still reads what was sent,
    // and its replies (one per management record) fail at once instead of
    // filling a buffer that nobody reads.
    invariant(writeAll(client, input), "cannot write the input: errno \(errno)")
    close(client)

    var raw = FCGX_Request()
    invariant(FCGX_InitRequest(&raw, listener, 0) == 0, "FCGX_InitRequest failed")
    defer { FCGX_Free(&raw, 1) }
    guard FCGX_Accept_r(&raw) >= 0 else { return 0 }

    let request = Request(variables: Request.variables(fromBlock: raw.envp))
    var count = 0
    if let envp = raw.envp { while envp[count] != nil { count += 1 } }
    invariant(request.variables.count <= count, "\(request.variables.count) variables from \(count) entries")
    _ = Router.byPath.kind(for: request)
    var body = FastCGIBodyReader(stream: raw.in)
    do {
        let length = try BodyDecoder.contentLength(request, limit: 1 << 16)
        let bytes = try BodyDecoder.read(&body, length: length)
        invariant(bytes.count == length, "read \(bytes.count) of \(length) body bytes")
        _ = try? BodyDecoder.decode(bytes, as: try BodyDecoder.kind(request))
    } catch {
        checkErrorResponse(error, .form)
    }
    let reply = OwnErrorForm.response(Router.notFound).cgiBytes
    _ = reply.withUnsafeBufferPointer { b in
        b.withMemoryRebound(to: CChar.self) { FCGX_PutStr($0.baseAddress, Int32($0.count), raw.out) }
    }
    body.discard(upTo: BodyDrain.limit(announced: request.contentLength))
    FCGX_Finish_r(&raw)
    return 0
}
