import Glibc

/// CGI (RFC 3875): the request is the environment plus stdin, the response goes
/// to stdout. Works under Apache mod_cgi, fcgiwrap, and from a shell.
public enum CGITransport {
    /// Answers the one request and ends the process. It exits from here, with
    /// everything still in scope, rather than returning: the process is about
    /// to end, and destroying the request, the response and the configuration
    /// first would only cost time (for some types, the first destroy even
    /// makes the runtime build type metadata).
    public static func run(_ router: Router) -> Never {
        CrashGuard.install()
        signal(SIGPIPE, SIG_IGN)
        FileSizeLimit.ignoreSignal()
        Teardown.parking = true
        let request = Request(variables: environment())
        var body = FileDescriptorBodyReader(fd: 0)
        let response = router.respond(to: request, body: &body) { request in
            let path = ConfigLoader.locate(environment: { request.variables[$0] })
            if let refusal = ConfigExposure.refusal(configPath: path, variables: request.variables) { return refusal }
            return ConfigOutcome { () throws(ConfigError) in
                try ConfigLoader.load(path: path, environment: { request.variables[$0] })
            }
        }
        CrashGuard.responseStarted()
        let written = writeAll(1, response.cgiBytes)
        body.discard(upTo: BodyDrain.limit(announced: request.contentLength))
        exit(written ? 0 : 1)
    }

    /// The process environment.
    public static func environment() -> Request.Variables {
        Request.variables(fromBlock: environ)
    }
}

/// A refused request (401, 413, …) is answered without reading its body, but a
/// gateway such as fcgiwrap writes the whole body to the handler and turns the
/// broken pipe into a 502 if the handler has gone. So once the answer is
/// written, the rest of the announced body is read and thrown away: never
/// stored, and never more than `maxDrain` bytes.
enum BodyDrain {
    static let maxDrain = 64 << 20

    /// How many bytes, in all, the body is to be read up to.
    static func limit(announced: String?) -> Int {
        guard let announced, !announced.isEmpty, announced.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return 0 }
        return min(Int(announced) ?? maxDrain, maxDrain)
    }
}

/// Reads a body from a file descriptor (stdin under CGI).
public struct FileDescriptorBodyReader: BodyReader {
    public var fd: Int32
    /// Bytes read so far.
    public private(set) var consumed = 0

    public init(fd: Int32) { self.fd = fd }

    public mutating func read(count: Int) throws(HTTPError) -> [UInt8] {
        var failure: Int32 = 0
        // Read straight into the array's storage: nothing zero-filled first.
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            while true {
                let n = Glibc.read(fd, buffer.baseAddress, count)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { failure = errno }
                initialized = max(n, 0)
                return
            }
        }
        guard failure == 0 else {
            throw HTTPError(400, "read_failed", "the body could not be read", detail: "\(SystemError("read stdin", errno: failure))")
        }
        consumed += bytes.count
        return bytes
    }
}
