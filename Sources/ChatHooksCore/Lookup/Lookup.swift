/// What a lookup source (static list, CSV, SQLite, command) gives back for a
/// SPALO `dataset` or `search` call, and how it fails.

/// One named value of a found record: a CSV column, an SQLite result column.
public struct LookupField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One found record, its fields in the source's column order.
public struct LookupRow: Sendable, Equatable {
    public var fields: [LookupField]

    public init(_ fields: [LookupField]) { self.fields = fields }
}

/// Why a source could not answer: the file is missing or unreadable, not in
/// the named encoding, lacks a column, the query fails, the command hangs…
/// The message is for stderr and `chathooks check` (it may name paths); the
/// bot user sees only the configured text.
public struct LookupError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
