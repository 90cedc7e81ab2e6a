/// An error that carries its HTTP status, a short code, and a message that is
/// safe to show the sender (it names the problem, never a secret). `detail`
/// goes to stderr only. One place (`Pipeline`) turns these into responses.
public struct HTTPError: Error, Sendable {
    public var status: Int
    public var code: String
    public var message: String
    public var detail: String?
    /// Extra response headers, in order (e.g. `Allow` on a 405).
    public var headers: [(name: String, value: String)] = []

    public init(_ status: Int, _ code: String, _ message: String, detail: String? = nil, headers: [(name: String, value: String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers
    }

    public static func badRequest(_ code: String, _ message: String) -> HTTPError {
        HTTPError(400, code, message)
    }

    public static func invalidField(_ path: String, _ problem: String) -> HTTPError {
        HTTPError(400, "invalid_field", "\(path): \(problem)")
    }

    public static func unauthorized(_ message: String) -> HTTPError {
        HTTPError(401, "unauthorized", message)
    }

    public static let methodNotAllowed = HTTPError(405, "method_not_allowed", "only POST is accepted", headers: [("Allow", "POST")])

    public static let lengthRequired = HTTPError(411, "length_required", "a Content-Length header is required")

    public static func notConfigured(_ detail: String) -> HTTPError {
        HTTPError(503, "not_configured", "this receiver is not configured; see the web server's error log", detail: detail)
    }

    /// The configuration cannot be used: the response says which of four
    /// things is wrong, in words a non-expert can act on, and nothing more;
    /// the details (key paths, line numbers) go to the error log.
    public static func configuration(_ error: ConfigError) -> HTTPError {
        switch error.kind {
        case .missing:
            HTTPError(503, "not_configured", "no configuration file was found; see the web server's error log", detail: error.logLine)
        case .unreadable:
            HTTPError(503, "invalid_config",
                      "the configuration file cannot be read (its permissions?); see the web server's error log", detail: error.logLine)
        case .invalid:
            invalidConfiguration(error.logLine)
        case .exposed:
            HTTPError(503, "config_exposed",
                      "the configuration file may be downloadable by anyone, so nothing is received: upload the bundle's .htaccess next to it"
                      + " (FTP clients often hide files that start with a dot), or move it above the document root; see the web server's error log",
                      detail: error.logLine)
        }
    }

    public static func invalidConfiguration(_ detail: String) -> HTTPError {
        HTTPError(503, "invalid_config", "the configuration file is invalid; see the web server's error log, or run: chathooks check",
                  detail: detail)
    }
}
