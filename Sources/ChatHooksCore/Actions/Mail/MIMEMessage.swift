import Glibc

/// Builds an Internet message (RFC 5322 + MIME) that Japanese arrives intact
/// in every mail client: UTF-8 body in base64, RFC 2047 encoded-words for
/// non-ASCII header text, every header line folded within 76 columns and never
/// inside a character. Header values have control characters (CR and LF among
/// them) turned into spaces first: nothing from a request can start a header.
public struct MIMEMessage {
    public var from: MailAddress
    public var to: [MailAddress]
    public var replyTo: MailAddress?
    public var subject: String
    public var body: String
    public var date: Timestamp
    public var messageID: String

    public init(from: MailAddress, to: [MailAddress], replyTo: MailAddress?, subject: String, body: String,
                date: Timestamp, messageID: String) {
        self.from = from
        self.to = to
        self.replyTo = replyTo
        self.subject = subject
        self.body = body
        self.date = date
        self.messageID = messageID
    }

    /// The message with CRLF line ends (sendmail -i accepts them as they are).
    public var bytes: [UInt8] {
        var out = ""
        out += MIMEMessage.header("Date", date.rfc5322)
        out += MIMEMessage.header("From", MIMEMessage.mailbox(from), encode: false)
        out += MIMEMessage.addressHeader("To", to)
        if let replyTo { out += MIMEMessage.header("Reply-To", MIMEMessage.mailbox(replyTo), encode: false) }
        out += MIMEMessage.header("Subject", subject)
        out += MIMEMessage.header("Message-ID", "<\(messageID)>", encode: false)
        out += "MIME-Version: 1.0\r\n"
        out += "Content-Type: text/plain; charset=UTF-8\r\n"
        out += "Content-Transfer-Encoding: base64\r\n"
        out += "\r\n"
        var text = body.replacingLineEnds()
        if !text.hasSuffix("\r\n") { text += "\r\n" }
        out += Base64.encode(Array(text.utf8), lineLength: 76)
        return Array(out.utf8)
    }

    /// Control characters become spaces; runs of white space stay as they are.
    static func clean(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) ? " " : $0 }))
    }

    /// `Name <addr>`, the name quoted or encoded as it needs.
    static func mailbox(_ a: MailAddress) -> String {
        guard let raw = a.displayName else { return a.address }
        let name = clean(raw)
        if name.unicodeScalars.allSatisfy({ $0.isASCII }) {
            let escaped = name.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"")
            return "\"\(escaped)\" <\(a.address)>"
        }
        return encodedWords(name, firstLineUsed: 0).joined(separator: " ") + " <\(a.address)>"
    }

    static func addressHeader(_ name: String, _ list: [MailAddress]) -> String {
        fold(name: name, words: list.enumerated().flatMap { (i, a) -> [String] in
            let words = mailbox(a).split(separator: " ").map(String.init)
            return i < list.count - 1 ? words.dropLast() + [words.last! + ","] : words
        })
    }

    /// One header, folded. `encode: false` for values we built ourselves.
    static func header(_ name: String, _ value: String, encode: Bool = true) -> String {
        let v = clean(value)
        let words = v.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        // ASCII stays readable, unless a word is too long to fold (a line must
        // stay under 998 characters): encoded-words can be split anywhere.
        guard encode, !v.unicodeScalars.allSatisfy({ $0.isASCII }) || words.contains(where: { $0.utf8.count > 70 }) else {
            return fold(name: name, words: words)
        }
        return fold(name: name, words: encodedWords(v, firstLineUsed: name.count + 2))
    }

    /// Joins words with spaces, breaking lines (CRLF + space) before 76 columns
    /// (even right after the name). A single ASCII word longer than a line
    /// stays whole (RFC 5322 allows lines up to 998).
    static func fold(name: String, words: [String]) -> String {
        var out = name + ":"
        var column = out.count
        for word in words {
            if column + 1 + word.utf8.count > 76 && column > 0 {
                out += "\r\n"
                column = 0
            }
            out += " " + word
            column += 1 + word.utf8.count
        }
        return out + "\r\n"
    }

    /// `=?UTF-8?B?…?=` words of at most 75 characters each, each holding whole
    /// characters only (RFC 2047 §5: never split a character across words).
    /// Words break between Unicode scalars, so even a "character" of a
    /// thousand combining marks folds (readers join adjacent words).
    static func encodedWords(_ text: String, firstLineUsed: Int) -> [String] {
        let overhead = "=?UTF-8?B??=".count
        var words: [String] = []
        var chunk: [UInt8] = []
        var limit = 76 - firstLineUsed - 1  // the first word shares its line with the name
        func maxBytes(_ columns: Int) -> Int { max(4, (columns - overhead) / 4 * 3) }
        for c in text.unicodeScalars {
            var bytes: [UInt8] = []
            UTF8.encode(c) { bytes.append($0) }
            if !chunk.isEmpty && chunk.count + bytes.count > maxBytes(limit) {
                words.append("=?UTF-8?B?" + Base64.encode(chunk) + "?=")
                chunk = []
                limit = 75
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?" + Base64.encode(chunk) + "?=") }
        return words
    }
}

public enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Base64; with `lineLength`, broken into CRLF-terminated lines.
    public static func encode(_ data: [UInt8], lineLength: Int? = nil) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((data.count + 2) / 3 * 4 + data.count / 38 + 2)
        var column = 0
        var i = 0
        while i < data.count {
            let b0 = data[i], b1 = i + 1 < data.count ? data[i + 1] : 0, b2 = i + 2 < data.count ? data[i + 2] : 0
            let quad = [alphabet[Int(b0 >> 2)], alphabet[Int((b0 & 0x3) << 4 | b1 >> 4)],
                        i + 1 < data.count ? alphabet[Int((b1 & 0xF) << 2 | b2 >> 6)] : UInt8(ascii: "="),
                        i + 2 < data.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "=")]
            for q in quad {
                if let lineLength, column == lineLength {
                    out += [0x0D, 0x0A]
                    column = 0
                }
                out.append(q)
                column += 1
            }
            i += 3
        }
        if lineLength != nil && !out.isEmpty { out += [0x0D, 0x0A] }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Timestamp {
    /// RFC 5322 date: `Sun, 22 Nov 2026 22:10:05 +0900`.
    public var rfc5322: String { Timestamp.rfc5322(localTime()) }

    /// `t` (broken-down local time with its UTC offset) in RFC 5322.
    static func rfc5322(_ t: tm) -> String {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let offset = Int(t.tm_gmtoff)
        let minutes = abs(offset) / 60
        var out = Array("\(days[Int(t.tm_wday)]), \(t.tm_mday) \(months[Int(t.tm_mon)]) \(Int(t.tm_year) + 1900) ".utf8)
        digits(Int(t.tm_hour), 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(Int(t.tm_min), 2, into: &out)
        out.append(UInt8(ascii: ":"))
        digits(Int(t.tm_sec), 2, into: &out)
        out.append(UInt8(ascii: " "))
        out.append(offset < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        digits(minutes / 60, 2, into: &out)
        digits(minutes % 60, 2, into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}

extension String {
    func replacingAll(_ a: String, with b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }

    /// Every line end (LF, CRLF, lone CR) as CRLF.
    func replacingLineEnds() -> String {
        var out = ""
        var previousCR = false
        for s in unicodeScalars {
            if s == "\r" {
                out += "\r\n"
                previousCR = true
                continue
            }
            if s == "\n" {
                if !previousCR { out += "\r\n" }
            } else {
                out.unicodeScalars.append(s)
            }
            previousCR = false
        }
        return out
    }
}
