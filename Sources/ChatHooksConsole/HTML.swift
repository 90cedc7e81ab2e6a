import ChatHooksCore

/// An HTML page built as bytes. Markup comes only from string literals in
/// this module (`raw`); every value, whatever its origin, goes through
/// `text` or `attribute`, which escape it for that context. A chat's visitor
/// writes the payloads: nothing they typed can become markup, a link or a
/// header.
struct HTML {
    var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(16 << 10) }

    /// Markup: a literal of this module's, never a value.
    mutating func raw(_ markup: StaticString) {
        markup.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// A value as text between tags: `& < > " '` as references; C0 controls
    /// (but tab and newline) and DEL as their visible pictures (␀, ␛): an
    /// HTML parser would drop or replace some of them silently.
    mutating func text(_ value: String) {
        for b in value.utf8 { HTML.escape(b, into: &bytes) }
    }

    mutating func text(_ value: Substring) {
        for b in value.utf8 { HTML.escape(b, into: &bytes) }
    }

    mutating func number(_ n: Int) {
        bytes.append(contentsOf: String(n).utf8)
    }

    /// ` name="value"`, the value escaped for a quoted attribute.
    mutating func attribute(_ name: StaticString, _ value: String) {
        bytes.append(0x20)
        raw(name)
        bytes.append(contentsOf: [0x3D, 0x22])
        text(value)
        bytes.append(0x22)
    }

    /// ` href="page?name=value&…"`: a link to one of the console's own pages
    /// (a literal), its query values percent-encoded, then escaped.
    mutating func link(_ page: StaticString, _ query: [(String, String)] = []) {
        var url = ""
        page.withUTF8Buffer { url = String(decoding: $0, as: UTF8.self) }
        url += HTML.query(query)
        attribute("href", url)
    }

    /// `?a=1&b=2` for the pairs whose value is not empty; "" for none.
    static func query(_ pairs: [(String, String)]) -> String {
        let kept = pairs.filter { !$0.1.isEmpty }
        guard !kept.isEmpty else { return "" }
        return "?" + kept.map { percentEncoded($0.0) + "=" + percentEncoded($0.1) }.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters as they are; every other byte `%XX`.
    static func percentEncoded(_ s: String) -> String {
        var out: [UInt8] = []
        for b in s.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: out.append(b)
            default: out += [0x25, upperHexDigits[Int(b >> 4)], upperHexDigits[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func escape(_ b: UInt8, into out: inout [UInt8]) {
        switch b {
        case 0x26: out += Array("&amp;".utf8)
        case 0x3C: out += Array("&lt;".utf8)
        case 0x3E: out += Array("&gt;".utf8)
        case 0x22: out += Array("&quot;".utf8)
        case 0x27: out += Array("&#39;".utf8)
        case 0x09, 0x0A: out.append(b)
        case 0x00..<0x20:
            // U+2400 + b: E2 90 80+b
            out += [0xE2, 0x90, 0x80 + b]
        case 0x7F: out += [0xE2, 0x90, 0xA1]
        default: out.append(b)
        }
    }

    /// True when the text holds a character that reorders what is shown
    /// around it (the bidirectional controls: an RTL override can make
    /// `exe.pdf` of `fdp.exe`). Such values are shown isolated, and flagged.
    static func hasBidiControl(_ s: String) -> Bool { s.unicodeScalars.contains(where: isBidiControl) }

    static func isBidiControl(_ u: Unicode.Scalar) -> Bool {
        (0x202A...0x202E).contains(u.value) || (0x2066...0x2069).contains(u.value) || u.value == 0x200E || u.value == 0x200F || u.value == 0x061C
    }

    /// A payload value in a `<span class="v">` (isolated from the text
    /// around it), cut to `limit` characters with a mark, flagged when it
    /// holds a bidirectional control.
    mutating func value(_ s: String, limit: Int = .max) {
        raw("<span class=\"v\">")
        if s.count > limit {
            text(String(s.prefix(limit)))
            raw("<span class=\"cut\">…</span>")
        } else {
            text(s)
        }
        raw("</span>")
        if HTML.hasBidiControl(s) { raw("<span class=\"warn\" title=\"文字の向きを変える制御文字を含みます\">⚠ 制御文字</span>") }
    }
}
