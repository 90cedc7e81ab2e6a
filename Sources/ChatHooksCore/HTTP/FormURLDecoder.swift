/// `application/x-www-form-urlencoded` (WHATWG URL standard): `+` is a space,
/// `%XX` a byte; the decoded bytes must be UTF-8. Each field becomes a string
/// member of a JSON object, in order. A field named twice is refused, as a JSON
/// key named twice is.
public enum FormURLDecoder {
    public static func decode(_ body: [UInt8]) throws(HTTPError) -> JSONObject {
        var object = JSONObject()
        var seen = Set<String>()
        for pair in body.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let eq = pair.firstIndex(of: UInt8(ascii: "="))
            let name = try decodeComponent(pair[pair.startIndex..<(eq ?? pair.endIndex)])
            let value = try eq.map { (i) throws(HTTPError) in try decodeComponent(pair[(i + 1)...]) } ?? ""
            guard seen.insert(name).inserted else {
                throw HTTPError.badRequest("invalid_form", "the form field \"\(FieldReader.shown(name))\" appears more than once")
            }
            object.append(name, .string(value))
        }
        return object
    }

    static func decodeComponent(_ bytes: ArraySlice<UInt8>) throws(HTTPError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "+") {
                out.append(0x20)
            } else if b == UInt8(ascii: "%"), i + 2 < bytes.endIndex, let hi = hex(bytes[i + 1]), let lo = hex(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 2
            } else {
                out.append(b)  // a stray % is kept, as browsers do
            }
            i += 1
        }
        if let bad = firstInvalidUTF8Offset(out) {
            throw HTTPError.badRequest("invalid_utf8", "a form field is not valid UTF-8 (decoded byte \(bad))")
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }
}
