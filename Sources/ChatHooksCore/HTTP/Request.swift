import Glibc

/// What a transport (CGI or FastCGI) knows about a request before its body is
/// read: the CGI meta-variables (RFC 3875), whichever way they arrived.
public struct Request: Sendable {
    public var variables: Variables

    public init(variables: Variables) {
        self.variables = variables
    }

    public init(variables: [String: String]) {
        self.variables = Variables(variables.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// CGI meta-variables by name. Two arrays and a linear search, not a
    /// Dictionary: a few dozen entries, and a handler that starts per request
    /// should not pay for hashing's first-use runtime setup.
    public struct Variables: Sendable {
        var names: [String] = []
        var values: [String] = []

        public init(_ pairs: [(String, String)] = []) {
            for (n, v) in pairs { append(n, v) }
        }

        public mutating func append(_ name: String, _ value: String) {
            if let i = names.firstIndex(of: name) {
                values[i] = value
            } else {
                names.append(name)
                values.append(value)
            }
        }

        public subscript(name: String) -> String? {
            get {
                for i in names.indices where names[i] == name { return values[i] }
                return nil
            }
            set {
                if let newValue { append(name, newValue) }
                else if let i = names.firstIndex(of: name) { names.remove(at: i); values.remove(at: i) }
            }
        }
    }

    /// `NAME=value` strings up to a null pointer (the process environment, or
    /// a FastCGI request's parameters) as a dictionary.
    public static func variables(fromBlock block: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Variables {
        var result = Variables()
        guard var p = block else { return result }
        while let entry = p.pointee {
            // Straight from the C string's bytes; names in a block are unique,
            // so no look-up per entry.
            let bytes = UnsafeBufferPointer(start: UnsafeRawPointer(entry).assumingMemoryBound(to: UInt8.self), count: strlen(entry))
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                result.names.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[..<eq]), as: UTF8.self))
                result.values.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[(eq + 1)...]), as: UTF8.self))
            }
            p += 1
        }
        return result
    }

    public var method: String { variables["REQUEST_METHOD"] ?? "" }
    public var contentLength: String? { variables["CONTENT_LENGTH"] }
    public var contentType: String? { variables["CONTENT_TYPE"] }
    public var remoteAddress: String { variables["REMOTE_ADDR"] ?? "" }
    public var pathInfo: String { variables["PATH_INFO"] ?? "" }

    public static func metaVariableName(forHeader name: String) -> String {
        var result = "HTTP_"
        for c in name.utf8 {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): result.unicodeScalars.append(Unicode.Scalar(c - 32))
            case UInt8(ascii: "-"): result += "_"
            default: result.unicodeScalars.append(Unicode.Scalar(c))
            }
        }
        return result
    }
}

/// Reads a request body; a transport supplies one. `read(count:)` returns at
/// most `count` bytes and fewer only at the end of input.
public protocol BodyReader {
    mutating func read(count: Int) throws(HTTPError) -> [UInt8]
}

/// A body already in memory (tests, the CLI's replay).
public struct BufferBodyReader: BodyReader {
    var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public mutating func read(count: Int) -> [UInt8] {
        let n = min(count, bytes.count)
        let out = Array(bytes[0..<n])
        bytes.removeFirst(n)
        return out
    }
}
