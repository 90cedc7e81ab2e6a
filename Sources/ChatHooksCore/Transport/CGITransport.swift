import Glibc

/// CGI (RFC 3875): the request is the environment plus stdin, the response goes
/// to stdout. Works under Apache mod_cgi, fcgiwrap, and from a shell.
public enum CGITransport {
    public static func run(_ endpoint: Endpoint) -> Int32 {
        CrashGuard.install()
        signal(SIGPIPE, SIG_IGN)
        let request = Request(variables: environment())
        let configPath = ConfigLoader.locate(environment: { request.variables[$0] })
        let config = Result { () throws(ConfigError) in
            try ConfigLoader.load(path: configPath, environment: { request.variables[$0] })
        }
        var body = FileDescriptorBodyReader(fd: 0)
        let response = Pipeline.handle(endpoint, request: request, body: &body, config: config)
        CrashGuard.responseStarted()
        return writeAll(1, response.cgiBytes) ? 0 : 1
    }

    /// The process environment as a dictionary.
    public static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                result[String(s[..<eq])] = String(s[s.index(after: eq)...])
            }
            p += 1
        }
        return result
    }
}

/// Reads a body from a file descriptor (stdin under CGI).
public struct FileDescriptorBodyReader: BodyReader {
    public var fd: Int32

    public init(fd: Int32) { self.fd = fd }

    public mutating func read(count: Int) throws(HTTPError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count) }
            if n >= 0 {
                buffer.removeSubrange(n...)
                return buffer
            }
            if errno == EINTR { continue }
            throw HTTPError(400, "read_failed", "the body could not be read", detail: "\(SystemError("read stdin"))")
        }
    }
}

extension CGITransport {
    /// Runs one CGI request and exits.
    public static func main(_ endpoint: Endpoint) -> Never {
        exit(run(endpoint))
    }
}
