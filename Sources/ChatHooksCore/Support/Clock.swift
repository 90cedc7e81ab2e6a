import Glibc

/// A moment, as the system clock gives it, formatted the ways we need.
public struct Timestamp: Sendable {
    public var seconds: Int
    public var nanoseconds: Int

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: ts.tv_sec, nanoseconds: ts.tv_nsec)
    }

    public init(seconds: Int, nanoseconds: Int = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public var milliseconds: Int { seconds * 1000 + nanoseconds / 1_000_000 }

    func localTime() -> tm {
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        return parts
    }

    /// RFC 3339 in local time with its offset, milliseconds included:
    /// `2026-11-22T22:10:05.123+09:00`.
    public var rfc3339: String { Timestamp.rfc3339(localTime(), nanoseconds: nanoseconds) }

    /// `t` (broken-down local time with its UTC offset) in RFC 3339.
    static func rfc3339(_ t: tm, nanoseconds: Int) -> String {
        let offset = Int(t.tm_gmtoff)
        let minutes = abs(offset) / 60
        var out: [UInt8] = []
        out.reserveCapacity(29)
        Timestamp.date(t, into: &out)
        out.append(UInt8(ascii: "T"))
        digits(Int(t.tm_hour), 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(Int(t.tm_min), 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(Int(t.tm_sec), 2, into: &out)
        out.append(UInt8(ascii: "."))
        digits(nanoseconds / 1_000_000, 3, into: &out)
        out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        digits(minutes / 60, 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(minutes % 60, 2, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The local date, `2026-11-22`, for file names such as one journal per day.
    public var localDate: String {
        var out: [UInt8] = []
        Timestamp.date(localTime(), into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func date(_ t: tm, into out: inout [UInt8]) {
        digits(Int(t.tm_year) + 1900, 4, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(Int(t.tm_mon) + 1, 2, into: &out)
        out.append(UInt8(ascii: "-"))
        digits(Int(t.tm_mday), 2, into: &out)
    }
}

extension Timestamp {
    /// Parses what `rfc3339` writes: `2026-11-22T22:10:05.123+09:00`, or with
    /// `Z`; the fraction may be left out or longer. Anything else is nil: a
    /// time without its offset is refused, not taken as UTC.
    public init?(rfc3339 s: String) {
        let b = Array(s.utf8)
        func at(_ i: Int, _ c: Character) -> Bool { i < b.count && b[i] == c.asciiValue! }
        guard b.count >= 20, at(4, "-"), at(7, "-"), at(10, "T"), at(13, ":"), at(16, ":") else { return nil }
        let num = { (r: Range<Int>) in decimal(b, r) }
        guard let year = num(0..<4), let month = num(5..<7), let day = num(8..<10),
              let hour = num(11..<13), let minute = num(14..<16), let second = num(17..<19) else { return nil }
        var i = 19
        var nanos = 0
        if at(i, ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 0x30 && b[i] <= 0x39 {
                if digits < 9 { nanos = nanos * 10 + Int(b[i] - 0x30); digits += 1 }
                i += 1
            }
            guard digits > 0 else { return nil }
            while digits < 9 { nanos *= 10; digits += 1 }
        }
        let offset: Int
        if at(i, "Z") && i + 1 == b.count {
            offset = 0
        } else if i + 6 == b.count, at(i, "+") || at(i, "-"), at(i + 3, ":"),
                  let h = num((i + 1)..<(i + 3)), let m = num((i + 4)..<(i + 6)) {
            offset = (h * 60 + m) * 60 * (at(i, "-") ? -1 : 1)
        } else {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        self.init(seconds: timegm(&parts) - offset, nanoseconds: nanos)
    }
}

/// `value`'s decimal digits, zero-padded on the left to at least `width`
/// (a negative value gets its sign first).
func digits(_ value: Int, _ width: Int, into out: inout [UInt8]) {
    if value < 0 {
        out.append(UInt8(ascii: "-"))
        digits(-value, width, into: &out)
        return
    }
    var n = value, count = 1
    while n >= 10 { n /= 10; count += 1 }
    if count < width { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: width - count)) }
    let start = out.count
    out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
    n = value
    for i in stride(from: start + count - 1, through: start, by: -1) {
        out[i] = UInt8(truncatingIfNeeded: 0x30 + n % 10)
        n /= 10
    }
}
