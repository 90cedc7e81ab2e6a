/// Why a configuration could not be used: every problem found, each with where
/// it is (a line and column for syntax, a key path such as
/// `chatdealer.auth.tokens[1]` for the rest). Never contains a secret's value.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var problems: [String]

    public var description: String {
        problems.map { "\(path): \($0)" }.joined(separator: "\n")
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
