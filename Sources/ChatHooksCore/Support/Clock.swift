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

    private func localTime() -> tm {
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        return parts
    }

    /// RFC 3339 in local time with its offset, milliseconds included:
    /// `2026-11-22T22:10:05.123+09:00`.
    public var rfc3339: String {
        let t = localTime()
        let offset = t.tm_gmtoff
        let sign = offset < 0 ? "-" : "+"
        let minutes = abs(offset) / 60
        return "\(pad(Int(t.tm_year) + 1900, 4))-\(pad(Int(t.tm_mon) + 1))-\(pad(Int(t.tm_mday)))"
            + "T\(pad(Int(t.tm_hour))):\(pad(Int(t.tm_min))):\(pad(Int(t.tm_sec))).\(pad(nanoseconds / 1_000_000, 3))"
            + "\(sign)\(pad(minutes / 60)):\(pad(minutes % 60))"
    }

    /// The local date, `2026-11-22`, for file names such as one journal per day.
    public var localDate: String {
        let t = localTime()
        return "\(pad(Int(t.tm_year) + 1900, 4))-\(pad(Int(t.tm_mon) + 1))-\(pad(Int(t.tm_mday)))"
    }
}

@inline(__always)
func pad(_ value: Int, _ width: Int = 2) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
