/// The senders' date formats (local time, no zone), checked digit by digit and
/// against the calendar: `2020/02/30 10:00:00` is refused.
public enum DateFormat: Sendable {
    /// Chat Dealer: `yyyy/MM/dd HH:mm:ss`.
    case chatDealer
    /// SPALO's `eventTime`: `yyyy-MM-dd HH:mm:ss`.
    case spalo

    public var pattern: String {
        switch self {
        case .chatDealer: "yyyy/MM/dd HH:mm:ss"
        case .spalo: "yyyy-MM-dd HH:mm:ss"
        }
    }

    public func matches(_ s: String) -> Bool {
        let separator: UInt8 = self == .chatDealer ? UInt8(ascii: "/") : UInt8(ascii: "-")
        let b = Array(s.utf8)
        guard b.count == 19, b[4] == separator, b[7] == separator, b[10] == 0x20, b[13] == 0x3A, b[16] == 0x3A else {
            return false
        }
        let number = { (r: Range<Int>) in decimal(b, r) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return false }
        guard year >= 1970, (1...12).contains(month), hour < 24, minute < 60, second < 60 else { return false }
        return day >= 1 && day <= DateFormat.daysIn(month: month, year: year)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
