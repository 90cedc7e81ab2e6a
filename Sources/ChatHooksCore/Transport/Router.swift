/// Which receiver a request is for: fixed by the executable's name, or taken
/// from the request path when one executable serves them all (the `chathooks`
/// FastCGI endpoint, or `chathooks.cgi/chatdealer/chat-start` as one CGI file).
public enum Router: Sendable {
    case fixed(ReceiverKind)
    case byPath

    /// The receiver, or nil when the path names none.
    public func kind(for request: Request) -> ReceiverKind? {
        switch self {
        case .fixed(let k): return k
        case .byPath:
            // PATH_INFO for `chathooks.cgi/chatdealer/form`; SCRIPT_NAME or the
            // document URI when the web server hands the whole path over.
            for name in ["PATH_INFO", "SCRIPT_NAME", "DOCUMENT_URI"] {
                if let p = request.variables[name], !p.isEmpty, let k = ReceiverKind(path: p) { return k }
            }
            return nil
        }
    }

    package static var notFound: HTTPError {
        let known = ReceiverKind.allCases.map { "/" + $0.route }.joined(separator: ", ")
        return HTTPError(404, "not_found", "no receiver at this path; the receivers are \(known)")
    }

    /// The web console (`admin/`), when the executable links it (`chathooks`
    /// sets it before it serves: no receiver's executable has one). It gets
    /// the body read whole, at most `consoleBodyLimit` bytes (a login or a
    /// button's form); nil when it was longer.
    nonisolated(unsafe) public static var console: (@Sendable (Request, [UInt8]?, ConfigOutcome) -> Response)?
    public static let consoleBodyLimit = 64 << 10

    /// `(prefix, page)` when the path is the console's: `/hooks/admin/events`
    /// → ("/hooks/admin", "/events"). PATH_INFO when there is one (the
    /// `chathooks.cgi/admin/` bundle), else the path the web server handed over.
    public static func consolePath(_ request: Request) -> (prefix: String, page: String)? {
        let info = request.pathInfo
        let names = info.isEmpty ? ["SCRIPT_NAME", "DOCUMENT_URI"] : ["PATH_INFO"]
        for name in names {
            guard let p = request.variables[name], !p.isEmpty else { continue }
            let b = Array(p.utf8), key = Array("/admin".utf8)
            var i = 0
            while i + key.count <= b.count {
                if b[i..<(i + key.count)].elementsEqual(key), i + key.count == b.count || b[i + key.count] == UInt8(ascii: "/") {
                    return (String(decoding: b[..<i], as: UTF8.self), String(decoding: b[(i + key.count)...], as: UTF8.self))
                }
                i += 1
            }
        }
        return nil
    }

    /// Handles one request: routing, then the pipeline.
    public func respond<B: BodyReader>(to request: Request, body: inout B,
                                       config: (Request) -> ConfigOutcome) -> Response {
        guard let kind = kind(for: request) else {
            if case .byPath = self, let console = Router.console, Router.consolePath(request) != nil {
                return console(request, Router.readWhole(&body, request), config(request))
            }
            let error = Router.notFound
            // The path only: a query string may hold anything.
            let uri = request.variables["REQUEST_URI"] ?? request.pathInfo
            let path = String((uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").prefix(200))
            logError("\(path): \(error.status) \(error.code)")
            Pipeline.recordRejection(route: String(path.prefix(100)), error, request, config(request))
            return OwnErrorForm.response(error)
        }
        var finder = HandlerFinder<B>()
        return kind.visit(&finder)(request, &body, config(request))
    }

    /// The body, when it is at most `consoleBodyLimit` bytes.
    @inline(never)
    static func readWhole<B: BodyReader>(_ body: inout B, _ request: Request) -> [UInt8]? {
        let announced = BodyDrain.limit(announced: request.contentLength)
        guard announced <= consoleBodyLimit else { return nil }
        // Read to its end (a pipe may give it in pieces); a body cut short is an empty form.
        guard announced > 0, let bytes = try? BodyDecoder.read(&body, length: announced) else { return [] }
        return bytes
    }

    /// The pipeline for whichever receiver the kind names, as a function that
    /// captures nothing. (A visitor that held the request and the body would
    /// have to be destroyed, and destroying a generic struct makes the runtime
    /// build its metadata: 2,500 instructions a CGI request.)
    struct HandlerFinder<B: BodyReader>: ReceiverVisitor {
        func visit<R: Receiver>(_ receiver: R.Type) -> (Request, inout B, ConfigOutcome) -> Response {
            // From here (before the configuration is read), a crash answers in the route's form.
            if R.crashesInSpaloForm { CrashGuard.spaloForm = 1 }
            return { request, body, config in Pipeline.handle(R.self, request: request, body: &body, config: config) }
        }
    }
}
