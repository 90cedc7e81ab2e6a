import CStartup
import Glibc

/// Reads a journal-like file's whole lines newest first, from its end (or
/// from a given line start) back to its beginning, in pieces: what the
/// console's newest page needs without reading the whole journal. A last
/// line without its newline (one being written) is not read, as in
/// `JournalReader`; empty lines are skipped.
public enum BackwardReader {
    /// The longest line the readers of the console keep: 16 MiB (a journal line of a 1 MiB body is at most about 6 MiB).
    public static let maxLine = 16 << 20

    /// Calls `visit(line, start)` for each whole line that ends before byte
    /// `before` (a line's start; nil: the file's end), newest first, until
    /// `visit` returns false. Returns false when it was stopped so.
    /// A line longer than `maxLine` bytes (or a tail that long without its
    /// newline) is skipped without being held: what is read is bounded by
    /// it, whatever the file holds.
    @discardableResult
    public static func lines(path: String, before: Int? = nil, piece: Int = 1 << 16, maxLine: Int = maxLine,
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
        // Only the bytes before this have not been searched for a newline
        // (what was read before the last piece held none).
        var unsearched = 0
        var sawNewline = false
        var skipping = false
        var size = piece
        while true {
            // A newline before pendingEnd, searching back.
            let found = unsearched == 0 ? -1 : buffer.withUnsafeBytes { b -> Int in
                guard let p = chathooks_memrchr(b.baseAddress!, 0x0A, unsearched) else { return -1 }
                return UnsafeRawPointer(p) - b.baseAddress!
            }
            if found >= 0 {
                if skipping {
                    // The end of a line too long to keep: it is left out.
                    logError("journal: \(path): a line of more than \(maxLine) bytes before byte offset \(bufferStart + pendingEnd) is not read")
                    skipping = false
                    sawNewline = true
                    pendingEnd = found
                    unsearched = found
                    continue
                }
                if sawNewline {
                    let line = buffer[(found + 1)..<pendingEnd]
                    if !line.isEmpty, !visit(line, bufferStart + found + 1) { return false }
                }
                // The first newline from the end closes the last whole line:
                // what follows it is a line still being written.
                sawNewline = true
                pendingEnd = found
                unsearched = found
                continue
            }
            // No newline left in the buffer: the first line of the file, or read more.
            if bufferStart == 0 {
                if sawNewline && !skipping && pendingEnd > 0, !visit(buffer[0..<pendingEnd], 0) { return false }
                return true
            }
            if pendingEnd > maxLine {
                skipping = true
                buffer = []
                pendingEnd = 0
            }
            // A line longer than the pieces: read it in larger and larger ones.
            if pendingEnd > size / 2 && size < (4 << 20) { size *= 2 }
            let n = min(size, bufferStart)
            // The new piece, then what is left of the last one (only the
            // unconsumed part: what was handed out, and all of a line too
            // long to keep, is dropped). Not zero-filled first.
            var failed = false
            let kept = pendingEnd
            let next = [UInt8](unsafeUninitializedCapacity: n + kept) { out, initialized in
                let got = pread(fd, out.baseAddress, n, off_t(bufferStart - n))
                if got != n { failed = true; initialized = 0; return }
                if kept > 0 { buffer.withUnsafeBufferPointer { memcpy(out.baseAddress! + n, $0.baseAddress!, kept) } }
                initialized = n + kept
            }
            guard !failed else { return true }
            buffer = next
            bufferStart -= n
            pendingEnd = buffer.count
            unsearched = n
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

    /// The fields of a record read whole (a line whose fixed fields are not in the usual form).
    public init(record r: JournalRecord) {
        receivedAt = r.receivedAt.rfc3339
        source = r.source
        event = r.event
        webhook = r.webhook
        requestID = r.requestID
    }

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
    public mutating func next(_ key: StaticString) -> String? {
        nextRange(key).map { String(decoding: line[$0], as: UTF8.self) }
    }

    /// Where the value is in the line, without making a String of it.
    public mutating func nextRange(_ key: StaticString) -> Range<Int>? {
        let n = key.utf8CodeUnitCount
        guard line.endIndex - at > n else { return nil }
        let same = line.withUnsafeBufferPointer { b in
            memcmp(b.baseAddress! + (at - line.startIndex), key.utf8Start, n) == 0
        }
        guard same else { return nil }
        var j = at + n
        let start = j
        while j < line.endIndex, line[j] != 0x22 {
            if line[j] == 0x5C { return nil }
            j += 1
        }
        guard j < line.endIndex else { return nil }
        at = j + 1
        return start..<j
    }
}
