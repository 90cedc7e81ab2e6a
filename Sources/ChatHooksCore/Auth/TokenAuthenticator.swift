/// Chat Dealer's only protection: a header its admin screen sends with every
/// call. Every configured token is compared (no early exit), in constant time.
public struct TokenAuthenticator: Sendable {
    public let header: String
    public let tokens: [String]
    /// The CGI variable the header arrives in (`HTTP_X_CHATHOOKS_TOKEN`).
    let variable: String

    public init(header: String, tokens: [String]) {
        self.header = header
        self.tokens = tokens
        self.variable = Request.metaVariableName(forHeader: header)
    }

    public func authenticate(_ request: Request) throws(HTTPError) {
        guard !tokens.isEmpty else {
            // Fail closed: a config with no tokens accepts nobody.
            throw HTTPError(503, "not_configured", "no token is configured", detail: "chatdealer.auth.tokens is empty")
        }
        guard let presented = request.variables[variable] else {
            throw HTTPError.unauthorized("the \(header) header is missing")
        }
        var matched = false
        for token in tokens {
            // `|` rather than `||`: compare every token whatever the result.
            matched = constantTimeEquals(presented.utf8, token.utf8) | matched
        }
        guard matched else { throw HTTPError.unauthorized("the \(header) header does not hold an accepted token") }
    }
}

extension Bool {
    static func | (a: Bool, b: Bool) -> Bool { (a ? 1 : 0) | (b ? 1 : 0) == 1 }
}
