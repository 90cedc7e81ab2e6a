/// Which endpoint a request is for: fixed by the executable's name, or taken
/// from the request path when one executable serves them all (the `chathooks`
/// FastCGI endpoint, or `chathooks.cgi/chatdealer/chat-start` as one CGI file).
public enum Router: Sendable {
    case fixed(Endpoint)
    case byPath

    /// The endpoint, or nil when the path names none.
    public func endpoint(for request: Request) -> Endpoint? {
        switch self {
        case .fixed(let e): return e
        case .byPath:
            // PATH_INFO for `chathooks.cgi/chatdealer/form`; SCRIPT_NAME or the
            // document URI when the web server hands the whole path over.
            for name in ["PATH_INFO", "SCRIPT_NAME", "DOCUMENT_URI"] {
                if let p = request.variables[name], !p.isEmpty, let e = Endpoint(path: p) { return e }
            }
            return nil
        }
    }

    static var notFound: HTTPError {
        let known = Endpoint.all.map { "/" + $0.route }.joined(separator: ", ")
        return HTTPError(404, "not_found", "no receiver at this path; the receivers are \(known)")
    }

    /// Handles one request: routing, then the pipeline.
    public func respond(to request: Request, body: inout some BodyReader,
                        config: (Request) -> ConfigOutcome) -> Response {
        guard let e = endpoint(for: request) else {
            let error = Router.notFound
            logError("\((request.variables["REQUEST_URI"] ?? request.pathInfo).prefix(200)): \(error.status) \(error.code)")
            return Pipeline.errorResponse(nil, error)
        }
        return Pipeline.handle(e, request: request, body: &body, config: config(request))
    }
}
