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
