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

    public static func invalidConfiguration(_ detail: String) -> HTTPError {
        HTTPError(503, "invalid_config", "the configuration file is invalid; see the web server's error log, or run: chathooks check",
                  detail: detail)
    }
}
