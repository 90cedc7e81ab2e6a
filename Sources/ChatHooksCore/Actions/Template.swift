/// A small Mustache (the logic-less template language) for plain-text mail:
/// `{{name}}`, `{{a.b}}`, `{{.}}`, sections `{{#list}}…{{/list}}` (repeated for
/// each element, or shown when the value is truthy), inverted sections
/// `{{^name}}…{{/name}}`, comments `{{! … }}`, and `{{{name}}}`/`{{& name}}`
/// (the same as `{{name}}`: nothing is HTML-escaped in a text mail). A tag alone
/// on its line takes the line with it, as the Mustache spec says.
///
/// (swift-mustache imports Foundation, which the handlers never link, so this
/// is written here; it is parsed once, when the configuration is read.)
public struct Template: Sendable, Equatable {
    indirect enum Node: Sendable, Equatable {
        case text(String)
        case variable([String])
        case section([String], inverted: Bool, [Node])
    }

    public struct SyntaxError: Error, Equatable {
        public var message: String
    }

    let nodes: [Node]

    public init(_ source: String) throws(SyntaxError) {
        var parser = Parser(source: Array(source.unicodeScalars))
        nodes = try parser.parse(until: nil)
    }

    public func render(_ context: JSONValue) -> String {
        var out = ""
        Template.render(nodes, stack: [context], into: &out)
        return out
    }

    static func render(_ nodes: [Node], stack: [JSONValue], into out: inout String) {
        for node in nodes {
            switch node {
            case .text(let s):
                out += s
            case .variable(let path):
                if let v = lookup(path, in: stack) { out += text(v) }
            case .section(let path, let inverted, let children):
                let value = lookup(path, in: stack)
                if inverted {
                    if !truthy(value) { render(children, stack: stack, into: &out) }
                } else if case .array(let items)? = value {
                    for item in items { render(children, stack: stack + [item], into: &out) }
                } else if let value, truthy(value) {
                    render(children, stack: stack + [value], into: &out)
                }
            }
        }
    }

    static func lookup(_ path: [String], in stack: [JSONValue]) -> JSONValue? {
        if path == ["."] { return stack.last }
        // The first name is looked up from the innermost context outwards.
        for context in stack.reversed() {
            guard var value = context[path[0]] else { continue }
            for name in path.dropFirst() {
                guard let next = value[name] else { return nil }
                value = next
            }
            return value
        }
        return nil
    }

    static func truthy(_ value: JSONValue?) -> Bool {
        switch value {
        case nil, .null?, .bool(false)?: false
        case .string(let s)?: !s.isEmpty
        case .array(let a)?: !a.isEmpty
        default: true
        }
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: ""
        case .array, .object: JSONWriter.string(value)
        default: value.scalarText ?? ""
        }
    }

    /// Sections nest at most this deep (parsing and rendering recurse).
    public static let maxDepth = 32

    struct Parser {
        let source: [Unicode.Scalar]
        var i = 0
        var depth = 0

        mutating func parse(until closing: [String]?) throws(SyntaxError) -> [Node] {
            var nodes: [Node] = []
            var text = ""
            while i < source.count {
                guard startsWith("{{", at: i) else {
                    text.unicodeScalars.append(source[i])
                    i += 1
                    continue
                }
                let tagStart = i
                let triple = startsWith("{{{", at: i)
                let close = triple ? "}}}" : "}}"
                i += triple ? 3 : 2
                guard let end = find(close, from: i) else { throw SyntaxError(message: "unclosed tag at character \(tagStart)") }
                var body = String(String.UnicodeScalarView(source[i..<end])).trimmingASCIISpaces
                i = end + close.unicodeScalars.count
                var sigil: Character = " "
                if !triple, let first = body.first, "#^/!&".contains(first) {
                    sigil = first
                    body = String(body.dropFirst()).trimmingASCIISpaces
                }
                // A section or comment tag alone on its line takes the line with it.
                if "#^/!".contains(sigil) { standalone(tagStart: tagStart, text: &text) }
                if !text.isEmpty { nodes.append(.text(text)); text = "" }
                if sigil == "!" { continue }
                guard !body.isEmpty, body.unicodeScalars.allSatisfy({ !$0.properties.isWhitespace }) else {
                    throw SyntaxError(message: "empty or spaced name in tag at character \(tagStart)")
                }
                let path = body == "." ? ["."] : body.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                guard !path.contains("") else { throw SyntaxError(message: "bad name \"\(body)\" at character \(tagStart)") }
                switch sigil {
                case "#", "^":
                    depth += 1
                    guard depth <= Template.maxDepth else {
                        throw SyntaxError(message: "sections nested deeper than \(Template.maxDepth) at character \(tagStart)")
                    }
                    let children = try parse(until: path)
                    depth -= 1
                    nodes.append(.section(path, inverted: sigil == "^", children))
                case "/":
                    guard path == closing else {
                        throw SyntaxError(message: "{{/\(body)}} at character \(tagStart) closes no open section"
                                          + (closing.map { " (open: \($0.joined(separator: ".")))" } ?? ""))
                    }
                    return nodes
                default:
                    nodes.append(.variable(path))
                }
            }
            if let closing { throw SyntaxError(message: "section {{#\(closing.joined(separator: "."))}} is never closed") }
            if !text.isEmpty { nodes.append(.text(text)) }
            return nodes
        }

        /// If only spaces precede the tag on its line and only spaces and a
        /// newline follow it, drops them (and the newline).
        mutating func standalone(tagStart: Int, text: inout String) {
            var lineStart = tagStart
            while lineStart > 0 && (source[lineStart - 1] == " " || source[lineStart - 1] == "\t") { lineStart -= 1 }
            guard lineStart == 0 || source[lineStart - 1] == "\n" else { return }
            var j = i
            while j < source.count && (source[j] == " " || source[j] == "\t") { j += 1 }
            if j < source.count && source[j] == "\r" { j += 1 }
            guard j == source.count || source[j] == "\n" else { return }
            i = min(j + 1, source.count)
            let spaces = tagStart - lineStart
            if spaces > 0 { text.unicodeScalars.removeLast(spaces) }
        }

        func startsWith(_ s: String, at k: Int) -> Bool {
            var k = k
            for c in s.unicodeScalars {
                guard k < source.count, source[k] == c else { return false }
                k += 1
            }
            return true
        }

        func find(_ s: String, from k: Int) -> Int? {
            var k = k
            while k < source.count {
                if startsWith(s, at: k) { return k }
                k += 1
            }
            return nil
        }
    }
}
