import CStartup
import Glibc

/// Reads a journal-like file's whole lines newest first, from its end (or
/// from a given line start) back to its beginning, in pieces: what the
/// console's newest page needs without reading the whole journal. A last
/// line without its newline (one being written) is not read, as in
/// `JournalReader`; empty lines are skipped.
public enum BackwardReader {
    /// Calls `visit(line, start)` for each whole line that ends before byte
    /// `before` (a line's start; nil: the file's end), newest first, until
    /// `visit` returns false. Returns false when it was stopped so.
    @discardableResult
    public static func lines(path: String, before: Int? = nil, piece: Int = 1 << 16,
                             _ visit: (ArraySlice<UInt8>, Int) -> Bool) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return true }
        let end = min(before ?? Int(st.st_size), Int(st.st_size))
        // buffer holds the file's bytes [bufferStart, bufferStart + buffer.count).
        var buffer: [UInt8] = []
        var bufferStart = end
        // The end (exclusive, in the buffer) of the part not yet handed out:
        // everything after the last newline found so far is a line's start.
        var pendingEnd = 0
        var sawNewline = false
        var size = piece
        while true {
            // A newline before pendingEnd, searching back.
            let found = pendingEnd == 0 ? -1 : buffer.withUnsafeBytes { b -> Int in
                guard let p = chathooks_memrchr(b.baseAddress!, 0x0A, pendingEnd) else { return -1 }
                return UnsafeRawPointer(p) - b.baseAddress!
            }
            if found >= 0 {
                if sawNewline {
                    let line = buffer[(found + 1)..<pendingEnd]
                    if !line.isEmpty, !visit(line, bufferStart + found + 1) { return false }
                }
                // The first newline from the end closes the last whole line:
                // what follows it is a line still being written.
                sawNewline = true
                pendingEnd = found
                continue
            }
            // No newline left in the buffer: the first line of the file, or read more.
            if bufferStart == 0 {
                if sawNewline && pendingEnd > 0, !visit(buffer[0..<pendingEnd], 0) { return false }
                return true
            }
            let n = min(size, bufferStart)
            var chunk = [UInt8](repeating: 0, count: n)
            let got = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(bufferStart - n)) }
            guard got == n else { return true }
            // Only the unconsumed part is kept: what was handed out is dropped.
            chunk.append(contentsOf: buffer[0..<pendingEnd])
            buffer = chunk
            bufferStart -= n
            pendingEnd = buffer.count
            // A very long line: read it in larger and larger pieces.
            if size < (16 << 20) { size *= 2 }
        }
    }
}

/// A journal line's fixed fields, read from its first bytes without parsing
/// the payload (`JournalRecord.line` writes them first, in this order).
public struct JournalLineHead: Sendable {
    public var receivedAt: String
    public var source: String
    public var event: String
    public var webhook: String
    public var requestID: String

    /// The local date of receipt, `2026-12-01`.
    public var date: Substring { receivedAt.prefix(10) }

    public init?(_ line: ArraySlice<UInt8>) {
        var f = LeadingFields(line)
        guard let received = f.next("{\"received_at\":\""), let source = f.next(",\"source\":\""),
              let event = f.next(",\"event\":\"") else { return nil }
        let webhook = f.next(",\"webhook\":\"") ?? ""
        guard let id = f.next(",\"request_id\":\"") else { return nil }
        self.receivedAt = received
        self.source = source
        self.event = event
        self.webhook = webhook
        self.requestID = id
    }
}

/// The string fields a line of ours starts with, in the order its writer
/// wrote them, read without parsing the rest.
public struct LeadingFields {
    let line: ArraySlice<UInt8>
    var at: Int

    public init(_ line: ArraySlice<UInt8>) {
        self.line = line
        self.at = line.startIndex
    }

    /// The value after `key` (`,"name":"`) when the line goes on with it;
    /// nil, and nothing read, when it does not, or when the value holds an
    /// escape (the full parser reads such a line).
    public mutating func next(_ key: String) -> String? {
        let k = Array(key.utf8)
        guard line.endIndex - at > k.count, line[at..<(at + k.count)].elementsEqual(k) else { return nil }
        var j = at + k.count
        let start = j
        while j < line.endIndex, line[j] != 0x22 {
            if line[j] == 0x5C { return nil }
            j += 1
        }
        guard j < line.endIndex else { return nil }
        at = j + 1
        return String(decoding: line[start..<j], as: UTF8.self)
    }
}
