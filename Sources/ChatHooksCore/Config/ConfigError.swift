/// Why a configuration could not be used: every problem found, each with where
/// it is (a line and column for syntax, a key path such as
/// `chatdealer.auth.tokens[1]` for the rest). Never contains a secret's value.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// No file where the configuration is looked for.
        case missing
        /// A file that is there but cannot be read (its permissions, mostly).
        case unreadable
        /// A file that cannot be used: a syntax error, a problem.
        case invalid
        /// A file the web server may hand out to anyone (no `.htaccess`
        /// denying it inside the document root).
        case exposed
    }

    public var path: String
    public var problems: [String]
    public var kind: Kind = .invalid

    public init(path: String, problems: [String], kind: Kind = .invalid) {
        self.path = path
        self.problems = problems
        self.kind = kind
    }

    /// One problem per line, each naming the file (for a terminal).
    public var description: String {
        problems.map { "\(path): \($0)" }.joined(separator: "\n")
    }

    /// All the problems on one line that reads well (for the error log, where
    /// a newline would be escaped): `FILE: 2 problems: (1) …; (2) …`.
    public var logLine: String {
        if problems.count == 1 { return "\(path): \(problems[0])" }
        return "\(path): \(problems.count) problems: "
            + problems.enumerated().map { "(\($0.offset + 1)) \($0.element)" }.joined(separator: "; ")
    }
}

/// A configuration, or why there is none. (Not `Result`:
/// that generic type's runtime setup costs a CGI handler more than the rest
/// of its request.)
public enum ConfigOutcome: Sendable {
    case loaded(Config)
    case failed(ConfigError)

    public init(_ load: () throws(ConfigError) -> Config) {
        do { self = .loaded(try load()) } catch { self = .failed(error) }
    }

}

extension HTTPError {
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

    /// A sender whose own block of the file has problems is not received
    /// (the other sender's may be: see `Config.chatdealerProblems`).
    static func refuseBrokenBlock(_ problems: [String], of config: Config) throws(HTTPError) {
        guard problems.isEmpty else {
            throw HTTPError.invalidConfiguration(ConfigError(path: config.path, problems: problems).logLine)
        }
    }
}
