import ChatHooksCore
import Glibc

/// Finding a time in a journal file without reading it all: the journal is
/// written in time order (a line's `received_at` is when it was accepted),
/// so a place by time is a binary search by byte offset, reading a few
/// lines at each probe. Lines up to `slack` seconds out of order (clocks,
/// two writers around the same moment) are allowed for.
enum Bisect {
    static let slack = 120

    /// A line start such that reading forward from it misses no line whose
    /// time is `seconds` or later (`low`), and one such that every line
    /// before `seconds` ends before it (`high`, for reading back).
    static func bounds(path: String, seconds: Int) -> (low: Int, high: Int) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (0, 0) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return (0, 0) }
        let size = Int(st.st_size)
        // low: the start of a line known to be older than seconds - slack
        // (where nothing can be read, the answer is taken to lie lower: safe).
        let low = search(fd, size, below: seconds - slack, unknownGoesLow: true).lo
        // high: past every line older than seconds + slack (where nothing can
        // be read, higher: safe); the line that goes over it ends before the
        // start of the next one.
        let hi = search(fd, size, below: seconds + slack, unknownGoesLow: false).hi
        let high = hi >= size ? size : (line(after: hi, fd: fd, size: size)?.start ?? size)
        return (low, high)
    }

    /// A bracket [lo, hi) of at most 64 KiB: `lo` 0 or the start of a line
    /// older than `below`; at `hi` (or the end) a line that is not.
    static func search(_ fd: Int32, _ size: Int, below: Int, unknownGoesLow: Bool) -> (lo: Int, hi: Int) {
        var lo = 0
        var hi = size
        while hi - lo > 1 << 16 {
            let mid = lo + (hi - lo) / 2
            guard let (start, time) = line(after: mid, fd: fd, size: size), start < hi else {
                if unknownGoesLow { hi = mid } else { lo = mid }
                continue
            }
            if time < below { lo = start } else { hi = mid }
        }
        return (lo, hi)
    }

    /// The first line that starts after `offset` (its start and time), from
    /// at most 64 KiB read.
    static func line(after offset: Int, fd: Int32, size: Int) -> (start: Int, time: Int)? {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, min($0.count, size - offset), off_t(offset)) }
        guard n > 0, let newline = chunk[0..<n].firstIndex(of: 0x0A), newline + 1 < n else { return nil }
        var f = LeadingFields(chunk[(newline + 1)..<n])
        guard let at = f.next("{\"received_at\":\""), let t = Timestamp(rfc3339: at) else { return nil }
        return (offset + newline + 1, t.seconds)
    }

    /// The first second of a local date (`2026-12-01`), in this machine's zone.
    static func startOfDay(_ date: String) -> Int? {
        let b = Array(date.utf8)
        guard b.count == 10, let y = Int(String(decoding: b[0..<4], as: UTF8.self)), let m = Int(String(decoding: b[5..<7], as: UTF8.self)),
              let d = Int(String(decoding: b[8..<10], as: UTF8.self)) else { return nil }
        var t = tm()
        t.tm_year = Int32(y - 1900)
        t.tm_mon = Int32(m - 1)
        t.tm_mday = Int32(d)
        t.tm_isdst = -1
        let s = mktime(&t)
        return s == -1 ? nil : Int(s)
    }
}
