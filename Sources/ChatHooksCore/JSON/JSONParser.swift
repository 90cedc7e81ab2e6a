/// A syntax error with where it is: a byte offset and a 1-based line and column
/// (the column counts characters, not bytes, so it matches an editor).
public struct JSONSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var line: Int
    public var column: Int

    public var description: String { "line \(line), column \(column): \(message)" }
}

/// A small, allocation-light JSON reader. `.strict` is RFC 8259 (what senders
/// post); `.json5` adds what people write in config files (comments, unquoted
/// keys, single quotes, trailing commas, hex and signed numbers).
///
/// Both modes refuse duplicate object keys (a classic way to make two readers
/// disagree about a request) and nesting deeper than `maxDepth`, and both check
/// UTF-8 before anything else.
public struct JSONParser {
    public enum Mode: Sendable { case strict, json5 }

    public static let maxDepth = 64

    public static func parse(_ bytes: [UInt8], mode: Mode = .strict) throws(JSONSyntaxError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buffer) throws(JSONSyntaxError) -> JSONValue in
            var parser = JSONParser(buffer: buffer, mode: mode)
            return try parser.parseDocument()
        }
    }

    public static func parse(_ text: String, mode: Mode = .strict) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8), mode: mode)
    }

    let buffer: UnsafeBufferPointer<UInt8>
    let mode: Mode
    var index = 0
    var depth = 0

    private init(buffer: UnsafeBufferPointer<UInt8>, mode: Mode) {
        self.buffer = buffer
        self.mode = mode
    }

    // MARK: - Errors

    func error(_ message: String, at offset: Int? = nil) -> JSONSyntaxError {
        let offset = min(offset ?? index, buffer.count)
        var line = 1
        var column = 1
        var i = 0
        while i < offset {
            let b = buffer[i]
            if b == 0x0A {
                line += 1
                column = 1
            } else if b & 0xC0 != 0x80 {
                column += 1
            }
            i += 1
        }
        return JSONSyntaxError(message: message, offset: offset, line: line, column: column)
    }

    func describeByte(at i: Int) -> String {
        guard i < buffer.count else { return "end of input" }
        let b = buffer[i]
        if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x\(String(b, radix: 16, uppercase: true))"
    }

    // MARK: - Document

    mutating func parseDocument() throws(JSONSyntaxError) -> JSONValue {
        if let bad = firstInvalidUTF8Offset(buffer) {
            throw error("invalid UTF-8", at: bad)
        }
        // A UTF-8 byte order mark is tolerated in both modes.
        if buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF { index = 3 }
        try skipWhitespace()
        if index >= buffer.count { throw error("empty document") }
        let value = try parseValue()
        try skipWhitespace()
        if index < buffer.count {
            throw error("unexpected \(describeByte(at: index)) after the end of the document")
        }
        return value
    }

    @inline(__always)
    mutating func skipWhitespace() throws(JSONSyntaxError) {
        // Most calls find a token right there (compact JSON has no white space):
        // anything above the space that is not '/' (a JSON5 comment) or a
        // non-ASCII byte (JSON5 Unicode space) ends the skip at once.
        if index < buffer.count {
            let b = buffer[index]
            if b > 0x20 && b != 0x2F && b < 0x80 { return }
        }
        try skipWhitespaceSlowly()
    }

    mutating func skipWhitespaceSlowly() throws(JSONSyntaxError) {
        while index < buffer.count {
            let b = buffer[index]
            switch b {
            case 0x20, 0x0A, 0x0D, 0x09:
                index += 1
            case 0x0B where mode == .json5, 0x0C where mode == .json5:
                index += 1
            case 0xC2, 0xE1, 0xE2, 0xE3, 0xEF:
                // JSON5 white space beyond ASCII: NBSP, the Zs spaces (U+3000,
                // the ideographic space, included), U+2028/2029, U+FEFF.
                guard mode == .json5, let width = json5UnicodeSpace(at: index) else { return }
                index += width
            case 0x2F where mode == .json5:
                try skipComment()
            default:
                return
            }
        }
    }

    func isJSON5Space(at i: Int) -> Bool {
        mode == .json5 && json5UnicodeSpace(at: i) != nil
    }

    /// The byte length of a JSON5 Unicode white-space character at `i`, if one is there.
    func json5UnicodeSpace(at i: Int) -> Int? {
        func byte(_ k: Int) -> UInt8 { i + k < buffer.count ? buffer[i + k] : 0 }
        switch (byte(0), byte(1), byte(2)) {
        case (0xC2, 0xA0, _): return 2                                   // U+00A0
        case (0xE1, 0x9A, 0x80): return 3                                // U+1680
        case (0xE2, 0x80, 0x80...0x8A), (0xE2, 0x80, 0xA8), (0xE2, 0x80, 0xA9), (0xE2, 0x80, 0xAF): return 3
        case (0xE2, 0x81, 0x9F): return 3                                // U+205F
        case (0xE3, 0x80, 0x80): return 3                                // U+3000
        case (0xEF, 0xBB, 0xBF): return 3                                // U+FEFF
        default: return nil
        }
    }

    mutating func skipComment() throws(JSONSyntaxError) {
        let start = index
        guard index + 1 < buffer.count else { throw error("unexpected '/'") }
        if buffer[index + 1] == 0x2F {
            index += 2
            while index < buffer.count && buffer[index] != 0x0A { index += 1 }
        } else if buffer[index + 1] == 0x2A {
            index += 2
            while true {
                guard index + 1 < buffer.count else { throw error("unterminated /* comment", at: start) }
                if buffer[index] == 0x2A && buffer[index + 1] == 0x2F { index += 2; return }
                index += 1
            }
        } else {
            throw error("unexpected '/'")
        }
    }

    mutating func parseValue() throws(JSONSyntaxError) -> JSONValue {
        guard index < buffer.count else { throw error("unexpected end of input: a value was expected") }
        switch buffer[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString(quote: 0x22))
        case UInt8(ascii: "'") where mode == .json5: return .string(try parseString(quote: 0x27))
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        case UInt8(ascii: "+") where mode == .json5, UInt8(ascii: ".") where mode == .json5,
             UInt8(ascii: "I") where mode == .json5, UInt8(ascii: "N") where mode == .json5:
            return .number(try parseNumber())
        default:
            throw error("unexpected \(describeByte(at: index)): a value was expected")
        }
    }

    mutating func expectWord(_ word: StaticString) throws(JSONSyntaxError) {
        let start = index
        let count = word.utf8CodeUnitCount
        var ok = index + count <= buffer.count
        if ok { word.withUTF8Buffer { w in for k in 0..<count where buffer[index + k] != w[k] { ok = false } } }
        guard ok else { throw error("unexpected \(describeByte(at: start)): a value was expected", at: start) }
        index += count
        if index < buffer.count && isIdentifierByte(buffer[index]) && !(buffer[index] >= 0x80 && isJSON5Space(at: index)) {
            throw error("unexpected \(describeByte(at: index)) after \(word)")
        }
    }

    // MARK: - Containers

    mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        if depth > JSONParser.maxDepth { throw error("nested deeper than \(JSONParser.maxDepth) levels") }
    }

    mutating func parseArray() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        index += 1
        var elements: [JSONValue] = []
        try skipWhitespace()
        if index < buffer.count && buffer[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            elements.append(try parseValue())
            try skipWhitespace()
            guard index < buffer.count else { throw error("unexpected end of input: ',' or ']' was expected") }
            let b = buffer[index]
            index += 1
            if b == UInt8(ascii: "]") { break }
            guard b == UInt8(ascii: ",") else {
                throw error("unexpected \(describeByte(at: index - 1)): ',' or ']' was expected", at: index - 1)
            }
            try skipWhitespace()
            if mode == .json5 && index < buffer.count && buffer[index] == UInt8(ascii: "]") {
                index += 1
                break
            }
        }
        depth -= 1
        return .array(elements)
    }

    mutating func parseObject() throws(JSONSyntaxError) -> JSONValue {
        try enter()
        index += 1
        var object = JSONObject()
        var seen: Set<String>? = nil  // only built for objects large enough for a linear scan to hurt
        try skipWhitespace()
        if index < buffer.count && buffer[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(object)
        }
        // Room for a typical object at once, rather than growing 1, 2, 4, 8.
        object.members.reserveCapacity(8)
        while true {
            let keyStart = index
            let key = try parseKey()
            let duplicate: Bool
            if var set = seen {
                duplicate = !set.insert(key).inserted
                seen = set
            } else {
                duplicate = object.members.contains { $0.key == key }
                if object.members.count >= 16 { seen = Set(object.members.map { $0.key } + [key]) }
            }
            if duplicate { throw error("duplicate key \"\(key.prefix(60))\(key.count > 60 ? "…" : "")\"", at: keyStart) }
            try skipWhitespace()
            guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else {
                throw error("unexpected \(describeByte(at: index)): ':' was expected after a key")
            }
            index += 1
            try skipWhitespace()
            object.append(key, try parseValue())
            try skipWhitespace()
            guard index < buffer.count else { throw error("unexpected end of input: ',' or '}' was expected") }
            let b = buffer[index]
            index += 1
            if b == UInt8(ascii: "}") { break }
            guard b == UInt8(ascii: ",") else {
                throw error("unexpected \(describeByte(at: index - 1)): ',' or '}' was expected", at: index - 1)
            }
            try skipWhitespace()
            if mode == .json5 && index < buffer.count && buffer[index] == UInt8(ascii: "}") {
                index += 1
                break
            }
        }
        depth -= 1
        return .object(object)
    }

    mutating func parseKey() throws(JSONSyntaxError) -> String {
        guard index < buffer.count else { throw error("unexpected end of input: a key was expected") }
        let b = buffer[index]
        if b == 0x22 { return try parseString(quote: 0x22) }
        if mode == .json5 {
            if b == 0x27 { return try parseString(quote: 0x27) }
            if isIdentifierByte(b) && !(b >= 0x30 && b <= 0x39) {
                let start = index
                // A non-ASCII byte may start JSON5 white space, which ends the key.
                while index < buffer.count && isIdentifierByte(buffer[index])
                        && !(buffer[index] >= 0x80 && isJSON5Space(at: index)) { index += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
            }
        }
        throw error("unexpected \(describeByte(at: index)): a key in double quotes was expected")
    }

    /// Letters, digits, `_`, `$` and any non-ASCII byte (JSON5 allows Unicode
    /// letters in identifiers; the input is already known to be valid UTF-8).
    func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
            || b == 0x5F || b == 0x24 || b >= 0x80
    }
}
