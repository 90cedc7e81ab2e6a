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

    /// CGI meta-variables by name: the `NAME=value` entries back to back in
    /// one byte buffer, looked up by comparing bytes. No Dictionary and no
    /// String per entry: a handler that starts per request should not build a
    /// few dozen Strings (nor pay hashing's first-use runtime setup) to read
    /// the handful of variables it needs. A value becomes a String when asked
    /// for.
    public struct Variables: Sendable {
        /// Entries back to back, each `name` then `value`.
        var bytes: [UInt8] = []
        /// Per entry: where its name starts, where its value starts, where it ends.
        var bounds: [Int] = []

        public init(_ pairs: [(String, String)] = []) {
            for (n, v) in pairs { append(n, v) }
        }

        public var count: Int { bounds.count / 3 }

        /// Sets `name` to `value`, replacing an entry of that name.
        public mutating func append(_ name: String, _ value: String) {
            remove(name)
            bounds.append(bytes.count)
            bytes.append(contentsOf: name.utf8)
            bounds.append(bytes.count)
            bytes.append(contentsOf: value.utf8)
            bounds.append(bytes.count)
        }

        mutating func remove(_ name: String) {
            guard let i = index(of: name) else { return }
            let start = bounds[3 * i], end = bounds[3 * i + 2], width = end - start
            bytes.removeSubrange(start..<end)
            bounds.removeSubrange((3 * i)..<(3 * i + 3))
            for k in (3 * i)..<bounds.count { bounds[k] -= width }
        }

        func index(of name: String) -> Int? {
            var name = name
            return name.withUTF8 { wanted -> Int? in
                bytes.withUnsafeBufferPointer { all -> Int? in
                    var k = 0
                    while k < bounds.count {
                        let start = bounds[k], eq = bounds[k + 1]
                        if eq - start == wanted.count,
                           wanted.count == 0 || memcmp(all.baseAddress! + start, wanted.baseAddress!, wanted.count) == 0 {
                            return k / 3
                        }
                        k += 3
                    }
                    return nil
                }
            }
        }

        public subscript(name: String) -> String? {
            get {
                guard let i = index(of: name) else { return nil }
                return String(decoding: bytes[bounds[3 * i + 1]..<bounds[3 * i + 2]], as: UTF8.self)
            }
            set {
                if let newValue { append(name, newValue) } else { remove(name) }
            }
        }
    }

    /// `NAME=value` strings up to a null pointer (the process environment, or
    /// a FastCGI request's parameters), copied. An entry without `=` is skipped.
    public static func variables(fromBlock block: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Variables {
        var result = Variables()
        guard let block else { return result }
        var total = 0, entries = 0
        while let entry = block[entries] {
            total += strlen(entry)
            entries += 1
        }
        result.bounds.reserveCapacity(3 * entries)
        // Every entry's bytes but its `=`, copied straight into one buffer.
        result.bytes = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var at = 0
            for k in 0..<entries {
                let entry = UnsafeRawPointer(block[k]!).assumingMemoryBound(to: UInt8.self)
                let length = strlen(block[k]!)
                guard let eq = memchr(entry, 0x3D, length) else { continue }
                let nameLength = UnsafeRawPointer(eq) - UnsafeRawPointer(entry)
                let valueLength = length - nameLength - 1
                result.bounds.append(at)
                memcpy(buffer.baseAddress! + at, entry, nameLength)
                at += nameLength
                result.bounds.append(at)
                memcpy(buffer.baseAddress! + at, entry + nameLength + 1, valueLength)
                at += valueLength
                result.bounds.append(at)
            }
            initialized = at
        }
        return result
    }

    public var method: String { variables["REQUEST_METHOD"] ?? "" }
    public var contentLength: String? { variables["CONTENT_LENGTH"] }
    public var contentType: String? { variables["CONTENT_TYPE"] }
    public var remoteAddress: String { variables["REMOTE_ADDR"] ?? "" }
    public var pathInfo: String { variables["PATH_INFO"] ?? "" }

    public static func metaVariableName(forHeader name: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(5 + name.utf8.count)
        bytes.append(contentsOf: "HTTP_".utf8)
        for c in name.utf8 {
            switch c {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): bytes.append(c - 32)
            case UInt8(ascii: "-"): bytes.append(UInt8(ascii: "_"))
            default: bytes.append(c)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Reads a request body; a transport supplies one. `read(count:)` returns at
/// most `count` bytes and fewer only at the end of input.
public protocol BodyReader {
    mutating func read(count: Int) throws(HTTPError) -> [UInt8]
    /// Bytes read so far.
    var consumed: Int { get }
}

extension BodyReader {
    /// Reads and drops input until `total` bytes have been read in all, or the
    /// input ends or fails (see `BodyDrain`).
    mutating func discard(upTo total: Int) {
        while consumed < total {
            guard let chunk = try? read(count: min(65536, total - consumed)), !chunk.isEmpty else { return }
        }
    }
}

/// A body already in memory (tests, the CLI's replay).
public struct BufferBodyReader: BodyReader {
    var bytes: [UInt8]
    public private(set) var consumed = 0
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public mutating func read(count: Int) -> [UInt8] {
        let n = min(count, bytes.count)
        let out = Array(bytes[0..<n])
        bytes.removeFirst(n)
        consumed += n
        return out
    }
}
