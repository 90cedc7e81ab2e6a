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
