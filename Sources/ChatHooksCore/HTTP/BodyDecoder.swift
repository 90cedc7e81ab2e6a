/// Reads and decodes a request body: checks its announced length against the
/// limit before reading a byte, reads exactly that many, and turns JSON (or a
/// urlencoded form) into an object.
public enum BodyDecoder {
    /// The announced length, or the error for a missing, malformed or too large one.
    public static func contentLength(_ request: Request, limit: Int) throws(HTTPError) -> Int {
        guard let raw = request.contentLength, !raw.isEmpty else { throw HTTPError.lengthRequired }
        guard raw.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            throw HTTPError.badRequest("invalid_length", "Content-Length must be a number of bytes")
        }
        // Too many digits for an Int is also too large.
        guard let length = Int(raw), length <= limit else {
            throw HTTPError(413, "body_too_large", "the body is larger than the limit of \(limit) bytes")
        }
        return length
    }

    public enum Kind: Equatable { case json, form }

    /// What to read the body as. The senders' Content-Type is not documented,
    /// so anything but a form is read as JSON; multipart is refused.
    public static func kind(_ request: Request) throws(HTTPError) -> Kind {
        if let encoding = request.variables["HTTP_CONTENT_ENCODING"], !encoding.isEmpty, !encoding.equalsIgnoringASCIICase("identity") {
            // The header's value is not repeated: a refusal never quotes one (see RejectionLog).
            throw HTTPError(415, "unsupported_media_type", "a Content-Encoding other than identity is not supported; send the body uncompressed")
        }
        let type = mediaType(request.contentType ?? "")
        if type == "application/x-www-form-urlencoded" { return .form }
        if type.hasPrefix("multipart/") {
            throw HTTPError(415, "unsupported_media_type", "multipart bodies are not accepted; send JSON")
        }
        return .json
    }

    /// The media type of a Content-Type value: before any `;` parameter,
    /// spaces and tabs trimmed, ASCII letters lowercased (RFC 9110 §8.3.1). By
    /// bytes: no substring array, no Unicode case mapping.
    static func mediaType(_ contentType: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(contentType.utf8.count)
        for b in contentType.utf8 {
            if b == UInt8(ascii: ";") { break }
            bytes.append(b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
        }
        return String(decoding: bytes, as: UTF8.self).trimmingASCIISpaces
    }

    /// Reads exactly `length` bytes.
    public static func read(_ reader: inout some BodyReader, length: Int) throws(HTTPError) -> [UInt8] {
        if length == 0 { return [] }
        let first = try reader.read(count: min(65536, length))
        // A body that arrives in one read (most do) is that read's own array, not a copy.
        if first.count == length { return first }
        var body: [UInt8] = []
        body.reserveCapacity(length)
        body += first
        var last = first.count
        while body.count < length && last > 0 {
            let chunk = try reader.read(count: min(65536, length - body.count))
            last = chunk.count
            body += chunk
        }
        guard body.count == length else {
            throw HTTPError.badRequest("truncated_body", "the body ended after \(body.count) of the \(length) bytes announced by Content-Length")
        }
        return body
    }

    public static func decode(_ body: [UInt8], as kind: Kind) throws(HTTPError) -> JSONObject {
        // A JSON object labelled as a form (curl -d without -H, or a sender that
        // mislabels it) is read as JSON: no form field name starts with `{`.
        let firstByte = body.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
        switch firstByte == UInt8(ascii: "{") ? .json : kind {
        case .form:
            return try FormURLDecoder.decode(body)
        case .json:
            let value: JSONValue
            do {
                value = try JSONParser.parse(body, mode: .strict)
            } catch {
                if error.message == "invalid UTF-8" {
                    throw HTTPError.badRequest("invalid_utf8", "the body is not valid UTF-8 (byte \(error.offset))")
                }
                throw HTTPError.badRequest("invalid_json", "the body is not valid JSON: \(error)")
            }
            guard case .object(let object) = value else {
                throw HTTPError.badRequest("invalid_json", "the body must be a JSON object, not \(value.typeName)")
            }
            return object
        }
    }
}
