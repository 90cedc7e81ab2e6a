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

    static var notFound: HTTPError {
        let known = ReceiverKind.allCases.map { "/" + $0.route }.joined(separator: ", ")
        return HTTPError(404, "not_found", "no receiver at this path; the receivers are \(known)")
    }

    /// Handles one request: routing, then the pipeline.
    public func respond<B: BodyReader>(to request: Request, body: inout B,
                                       config: (Request) -> ConfigOutcome) -> Response {
        guard let kind = kind(for: request) else {
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
