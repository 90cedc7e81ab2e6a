import Glibc

/// A failed system call, keeping its `errno` (the detail goes to stderr, never
/// to a response body).
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var operation: String
    public var path: String?
    public var errno: Int32

    public init(_ operation: String, path: String? = nil, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        let reason = String(cString: strerror(errno))
        if let path { return "\(operation) \(path): \(reason) (errno \(errno))" }
        return "\(operation): \(reason) (errno \(errno))"
    }
}

/// Writes a line to stderr, which the web server keeps in its error log.
/// Control characters (request text can carry them) are written as `\xNN`, so
/// one call is always exactly one log line and a sender cannot forge others.
public func logError(_ message: String) {
    let line = logLine(message)
    if let sink = LogSink.current { sink(line) } else { writeAll(2, line) }
}

/// Where log lines go instead of stderr: under FastCGI, the request's error
/// stream, which the web server writes to its error log.
public enum LogSink {
    nonisolated(unsafe) public static var current: (([UInt8]) -> Void)?
}

public func logLine(_ message: String) -> [UInt8] {
    var line = Array("chathooks: ".utf8)
    for s in message.unicodeScalars {
        let v = s.value
        if v < 0x20 || v == 0x7F {
            line += [0x5C, UInt8(ascii: "x"), upperHexDigits[Int(v >> 4)], upperHexDigits[Int(v & 0xF)]]
        } else if (0x80...0x9F).contains(v) || v == 0x2028 || v == 0x2029 {
            // C1 controls (NEL) and the Unicode line and paragraph separators end lines too.
            line += Array("\\u{\(String(v, radix: 16, uppercase: true))}".utf8)
        } else {
            UTF8.encode(s) { line.append($0) }
        }
    }
    line.append(0x0A)
    return line
}

/// Hexadecimal digits, uppercase (log escapes, percent-encoding).
package let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

/// Writes every byte, retrying short writes and EINTR. Returns false on failure.
@discardableResult
public func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += n
        }
        return true
    }
}
