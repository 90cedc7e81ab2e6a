/// A parsed JSON document that keeps what a sender sent: object members in their
/// order, numbers as the literal text they were written as (so a journal line
/// repeats `12345678901234567890` or `1.10` exactly), and nothing dropped.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's literal, always a valid RFC 8259 number (JSON5 forms such as
    /// `0x1F` or `.5` are rewritten to it when parsed).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The JSON type's name as a person reads it in an error message.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The value as a string when it is a scalar: strings as they are, numbers as
    /// written, booleans as `true`/`false`. Arrays, objects and null give nil.
    public var scalarText: String? {
        switch self {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: nil
        }
    }
}

/// A JSON object with its members in document order. Lookups are linear: the
/// objects this project reads have a handful of keys.
public struct JSONObject: Equatable, Sendable {
    public struct Member: Equatable, Sendable {
        public var key: String
        public var value: JSONValue
        public init(key: String, value: JSONValue) {
            self.key = key
            self.value = value
        }
    }

    public var members: [Member]

    public init(_ members: [Member] = []) {
        self.members = members
    }

    public subscript(key: String) -> JSONValue? {
        for member in members where member.key == key { return member.value }
        return nil
    }

    public var keys: [String] { members.map { $0.key } }

    /// A copy without the named members (used to strip secrets before journaling).
    public func removing(_ names: [String]) -> JSONObject {
        JSONObject(members.filter { !names.contains($0.key) })
    }

    public mutating func append(_ key: String, _ value: JSONValue) {
        members.append(Member(key: key, value: value))
    }
}
