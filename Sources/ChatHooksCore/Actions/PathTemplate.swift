/// A file path with `{name}` placeholders filled from the event, such as
/// `data/chats/{chat_id}.jsonl`. A value can never lead outside its folder:
/// `/`, `\`, `%` and control characters are percent-encoded, a leading `.` is
/// too (so `..` becomes `%2E.`), and an empty value becomes `_`.
public struct PathTemplate: Sendable, Equatable, CustomStringConvertible {
    enum Part: Sendable, Equatable {
        case literal(String)
        case placeholder(String)
    }

    public struct Invalid: Error {
        public var message: String
    }

    let parts: [Part]
    public let description: String

    /// Values longer than this (after encoding) are refused: file names are at
    /// most 255 bytes on Linux, and the template has text of its own.
    public static let maxValueBytes = 128

    public init(_ template: String) throws(Invalid) {
        description = template
        var parts: [Part] = []
        var literal = ""
        var name: String? = nil
        for c in template {
            if var n = name {
                if c == "}" {
                    guard !n.isEmpty else { throw Invalid(message: "empty placeholder {} in \"\(template)\"") }
                    parts.append(.placeholder(n))
                    name = nil
                } else if c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-") {
                    n.append(c)
                    name = n
                } else {
                    throw Invalid(message: "placeholder names use letters, digits, _ and - only, in \"\(template)\"")
                }
            } else if c == "{" {
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                name = ""
            } else if c == "}" {
                throw Invalid(message: "unmatched } in \"\(template)\"")
            } else {
                literal.append(c)
            }
        }
        guard name == nil else { throw Invalid(message: "unclosed { in \"\(template)\"") }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    public var placeholders: [String] {
        parts.compactMap { if case .placeholder(let n) = $0 { n } else { nil } }
    }

    /// The path with each placeholder replaced by `value(name)`, made safe.
    public func render(_ value: (String) -> String?) throws(Invalid) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .placeholder(let name):
                let safe = PathTemplate.sanitize(value(name) ?? "")
                guard safe.utf8.count <= PathTemplate.maxValueBytes else {
                    throw Invalid(message: "the value for {\(name)} is longer than \(PathTemplate.maxValueBytes) bytes")
                }
                out += safe
            }
        }
        return out
    }

    static func sanitize(_ value: String) -> String {
        if value.isEmpty { return "_" }
        var out: [UInt8] = []
        out.reserveCapacity(value.utf8.count)
        for (i, b) in value.utf8.enumerated() {
            let unsafe = b == UInt8(ascii: "/") || b == UInt8(ascii: "\\") || b == UInt8(ascii: "%")
                || b < 0x20 || b == 0x7F || (i == 0 && b == UInt8(ascii: "."))
            if unsafe {
                out += [UInt8(ascii: "%"), upperHexDigits[Int(b >> 4)], upperHexDigits[Int(b & 0xF)]]
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
