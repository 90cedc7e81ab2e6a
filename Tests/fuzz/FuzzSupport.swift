// Shared by every fuzz target (compiled into each one; see scripts/fuzz.sh).
@testable import ChatHooksCore

/// The fuzz input as an array.
func fuzzInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// A property the code promises, checked on every input. A broken one is a
/// finding like a crash: it stops the run and leaves a reproducer.
func invariant(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz invariant broken: \(message())") }
}

/// Any HTTPError becomes a response whose body is strict JSON with the
/// error's code, and whose status is one a client can be sent.
func checkErrorResponse(_ error: HTTPError, _ kind: ReceiverKind?) {
    invariant((400...599).contains(error.status), "error status \(error.status) for \(error.code)")
    let response = kind?.errorResponse(error, .failed(ConfigError(path: "x", problems: []))) ?? OwnErrorForm.response(error)
    invariant(response.status == error.status, "the response status differs from the error's")
    do {
        let value = try JSONParser.parse(response.body, mode: .strict)
        invariant(value.objectValue != nil, "an error body is not an object")
    } catch {
        invariant(false, "an error body is not JSON: \(error)")
    }
    checkCGIHead(response.cgiBytes)
}

/// A CGI response's head: lines that end in CRLF, no bare CR or LF inside
/// one, each `Name: value`, then an empty line.
func checkCGIHead(_ bytes: [UInt8]) {
    var i = 0
    var lineStart = 0
    while i < bytes.count {
        if bytes[i] == 0x0D || bytes[i] == 0x0A {
            invariant(bytes[i] == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A, "a bare CR or LF in the CGI head at \(i)")
            if i == lineStart { return }  // the empty line: the head is over
            let line = bytes[lineStart..<i]
            invariant(line.contains(UInt8(ascii: ":")), "a CGI head line without a colon")
            i += 2
            lineStart = i
            continue
        }
        i += 1
    }
    invariant(false, "the CGI head never ends")
}
