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
    let hex = Array("0123456789ABCDEF".utf8)
    for b in message.utf8 {
        if b < 0x20 || b == 0x7F {
            line += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(b >> 4)], hex[Int(b & 0xF)]]
        } else {
            line.append(b)
        }
    }
    line.append(0x0A)
    return line
}

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
