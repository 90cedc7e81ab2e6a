/// An HTTP response as a CGI program writes it: a `Status:` line, headers, body.
public struct Response: Sendable {
    public var status: Int
    /// Written first, as `Content-Type`. A field of its own so that an answer
    /// without other headers builds no array of header pairs.
    public var contentType: String?
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, contentType: String? = nil, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    public static let jsonType = "application/json; charset=utf-8"

    public static func json(_ status: Int, _ value: JSONValue, headers: [(name: String, value: String)] = []) -> Response {
        var body = JSONWriter.serialize(value)
        body.append(0x0A)
        return Response(status: status, contentType: jsonType, headers: headers, body: body)
    }


    /// The response in CGI form (RFC 3875 §6): header lines, a blank line, the
    /// body. Built as bytes: no String interpolation per line.
    public var cgiBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + body.count)
        out.append(contentsOf: "Status: ".utf8)
        digits(status, 1, into: &out)
        out.append(0x20)
        out.append(contentsOf: Response.reason(status).utf8)
        out.append(contentsOf: [0x0D, 0x0A])
        if let contentType {
            out.append(contentsOf: "Content-Type: ".utf8)
            out.append(contentsOf: contentType.utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        for (name, value) in headers {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: [0x3A, 0x20])
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        out.append(contentsOf: "Content-Length: ".utf8)
        digits(body.count, 1, into: &out)
        out.append(contentsOf: [0x0D, 0x0A, 0x0D, 0x0A])
        out.append(contentsOf: body)
        return out
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 303: "See Other"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}
