/// An HTTP response as a CGI program writes it: a `Status:` line, headers, body.
public struct Response: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ status: Int, _ value: JSONValue, headers: [(name: String, value: String)] = []) -> Response {
        var body = JSONWriter.serialize(value)
        body.append(0x0A)
        return Response(status: status,
                        headers: [("Content-Type", "application/json; charset=utf-8")] + headers,
                        body: body)
    }


    /// The response in CGI form (RFC 3875 §6): header lines, a blank line, the
    /// body. Built as bytes: no String interpolation per line.
    public var cgiBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + body.count)
        out.append(contentsOf: "Status: ".utf8)
        Response.appendDecimal(status, to: &out)
        out.append(0x20)
        out.append(contentsOf: Response.reason(status).utf8)
        out.append(contentsOf: [0x0D, 0x0A])
        for (name, value) in headers {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: [0x3A, 0x20])
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: [0x0D, 0x0A])
        }
        out.append(contentsOf: "Content-Length: ".utf8)
        Response.appendDecimal(body.count, to: &out)
        out.append(contentsOf: [0x0D, 0x0A, 0x0D, 0x0A])
        out.append(contentsOf: body)
        return out
    }

    /// A non-negative number's decimal digits.
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                      UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value, count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(truncatingIfNeeded: 0x30 + n % 10)
                n /= 10
                count += 1
            } while n > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 202: "Accepted"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}
