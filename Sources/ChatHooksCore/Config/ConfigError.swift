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
