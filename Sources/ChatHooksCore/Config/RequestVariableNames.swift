/// The environment variables a web server sets for each request under CGI,
/// FastCGI or fcgiwrap. Their values come from the request, so none of them
/// may be the source of a secret (`{ env: "…" }`).
enum RequestVariableNames {
    /// RFC 3875's meta-variables, and those nginx, Apache, fcgiwrap and
    /// LiteSpeed add, all filled from the request or the connection.
    static let names: [String] = [
        // RFC 3875 §4.1
        "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "GATEWAY_INTERFACE", "PATH_INFO", "PATH_TRANSLATED",
        "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_IDENT", "REMOTE_USER", "REQUEST_METHOD",
        "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE",
        // Common additions (nginx's fastcgi_params, Apache's mod_cgi and mod_rewrite)
        "REQUEST_URI", "DOCUMENT_URI", "DOCUMENT_ROOT", "SCRIPT_FILENAME", "SCRIPT_URI", "SCRIPT_URL",
        "REMOTE_PORT", "SERVER_ADDR", "REQUEST_SCHEME", "HTTPS", "CONTEXT_PREFIX", "CONTEXT_DOCUMENT_ROOT",
        "SERVER_ADMIN", "SERVER_SIGNATURE", "UNIQUE_ID", "ORIG_PATH_INFO", "ORIG_SCRIPT_NAME",
        "REDIRECT_STATUS", "REDIRECT_URL", "REDIRECT_QUERY_STRING",
    ]

    /// Why `name` cannot hold a secret, or nil when it can.
    static func clientControlled(_ name: String) -> String? {
        if name.hasPrefixIgnoringASCIICase("HTTP_") { return "holds a request header, sent by the client" }
        if name.hasPrefixIgnoringASCIICase("REDIRECT_") { return "is set by the web server from a request it redirected" }
        if name.hasPrefixIgnoringASCIICase("SSL_") { return "is set by the web server from the TLS connection" }
        let upper = String(decoding: name.utf8.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 0x20 : $0 }, as: UTF8.self)
        return names.contains(upper) ? "is set by the web server from each request" : nil
    }
}
