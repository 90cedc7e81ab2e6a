/// Reads fields of a sender's JSON object with the leniencies the senders need
/// (ids as string or number, booleans as JSON or strings, null as absent), and
/// errors that name the field: `chat_detail[2].post_date: …`.
struct FieldReader {
    let object: JSONObject
    let path: String

    init(_ object: JSONObject, path: String = "") {
        self.object = object
        self.path = path
    }

    func at(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The path of a key the sender chose (a scenario parameter's, a SPALO
    /// item title): quoted when short and printable, else by its length, so
    /// that a message (and the rejections file) never carries a long or
    /// strange piece of the body.
    func atChosen(_ key: String) -> String { at(FieldReader.shown(key)) }

    static func shown(_ key: String) -> String {
        let printable = key.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }
        return printable && key.count <= 40 ? key : "<a key of \(key.utf8.count) bytes>"
    }

    /// nil when missing or null.
    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], v != .null else { return nil }
        return v
    }

    func required<T>(_ key: String, _ read: (String) throws(HTTPError) -> T?) throws(HTTPError) -> T {
        guard let v = try read(key) else { throw HTTPError.invalidField(at(key), "is required") }
        return v
    }

    func string(_ key: String) throws(HTTPError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw HTTPError.invalidField(at(key), "must be a string, not \(v.typeName)") }
        return s
    }

    /// An id such as `chat_id`: a non-empty string, or an integer.
    func id(_ key: String) throws(HTTPError) -> String? {
        guard let v = value(key) else { return nil }
        switch v {
        case .string(let s) where !s.isEmpty: return s
        case .string: throw HTTPError.invalidField(at(key), "must not be empty")
        case .number(let n) where isInteger(n): return n
        case .number(let n):
            // Said as the number is written: 1e2 is a whole number, but not in digits.
            let exponent = n.utf8.contains(UInt8(ascii: "e")) || n.utf8.contains(UInt8(ascii: "E"))
            throw HTTPError.invalidField(at(key), "must be a string or a whole number in digits, not "
                                         + (exponent ? "a number with an exponent" : "a fraction"))
        default: throw HTTPError.invalidField(at(key), "must be a string or a whole number, not \(v.typeName)")
        }
    }

    /// A count such as `visit_count`: digits, as a string or a number.
    func count(_ key: String) throws(HTTPError) -> Int? {
        guard let v = value(key) else { return nil }
        let text: String
        switch v {
        case .string(let s): text = s.trimmingASCIISpaces
        case .number(let n): text = n
        default: throw HTTPError.invalidField(at(key), "must be a whole number (as a number or a string), not \(v.typeName)")
        }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text) else {
            throw HTTPError.invalidField(at(key), "must be a whole number of zero or more")
        }
        return n
    }

    /// `true`/`false`, as JSON booleans or as strings.
    func bool(_ key: String) throws(HTTPError) -> Bool? {
        guard let v = value(key) else { return nil }
        switch v {
        case .bool(let b): return b
        case .string(let s) where s.trimmingASCIISpaces.equalsIgnoringASCIICase("true"): return true
        case .string(let s) where s.trimmingASCIISpaces.equalsIgnoringASCIICase("false"): return false
        default: throw HTTPError.invalidField(at(key), "must be true or false")
        }
    }

    /// A date string in the sender's documented format, kept as sent.
    func date(_ key: String, _ format: DateFormat) throws(HTTPError) -> String? {
        guard let s = try string(key) else { return nil }
        guard format.matches(s) else {
            throw HTTPError.invalidField(at(key), "must be a date as \(format.pattern)")
        }
        return s
    }

    func array(_ key: String) throws(HTTPError) -> [JSONValue]? {
        guard let v = value(key) else { return nil }
        guard case .array(let a) = v else { throw HTTPError.invalidField(at(key), "must be an array, not \(v.typeName)") }
        return a
    }

    func object(_ key: String) throws(HTTPError) -> FieldReader? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw HTTPError.invalidField(at(key), "must be an object, not \(v.typeName)") }
        return FieldReader(o, path: at(key))
    }

    /// Each element of an array of objects, as a reader whose errors name `key[i]`.
    func objects<T>(_ key: String, _ read: (inout FieldReader) throws(HTTPError) -> T) throws(HTTPError) -> [T]? {
        guard let list = try array(key) else { return nil }
        var out: [T] = []
        out.reserveCapacity(list.count)
        for (i, element) in list.enumerated() {
            guard case .object(let o) = element else {
                throw HTTPError.invalidField("\(at(key))[\(i)]", "must be an object, not \(element.typeName)")
            }
            var r = FieldReader(o, path: "\(at(key))[\(i)]")
            out.append(try read(&r))
        }
        return out
    }

    private func isInteger(_ n: String) -> Bool {
        let digits = n.hasPrefix("-") ? n.utf8.dropFirst() : n.utf8[...]
        return !digits.isEmpty && digits.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }
}
