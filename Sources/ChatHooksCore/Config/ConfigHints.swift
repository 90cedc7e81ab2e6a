/// What a syntax error in the configuration most likely means, for the person
/// who edited it in a Japanese text editor: a file saved as Shift_JIS, curly
/// quotes from a word processor or an IME, full-width punctuation or spaces.
/// Looked at only once a parse has failed, so it costs a valid file nothing.
enum ConfigHints {
    static func hint(for error: JSONSyntaxError, in bytes: [UInt8]) -> String {
        if error.message.containsIgnoringASCIICase("utf-8") {
            return looksLikeShiftJIS(bytes)
                ? " (the file looks like Shift_JIS: save it as UTF-8, e.g. in メモ帳 「名前を付けて保存」→ 文字コード「UTF-8」)"
                : " (save the file as UTF-8)"
        }
        // The character at the error, or the one just before it (a JSON5
        // name takes in most characters, so `journal：` fails at what follows).
        var hints: [String] = []
        if let s = scalar(at: error.offset, in: bytes) { hints.append(hint(for: s)) }
        var before = error.offset - 1
        while before > 0 && (bytes[before] == 0x20 || bytes[before] == 0x09) { before -= 1 }
        while before > 0 && bytes[before] & 0xC0 == 0x80 { before -= 1 }
        if before >= 0, before < error.offset, let s = scalar(at: before, in: bytes) { hints.append(hint(for: s)) }
        return hints.first { !$0.isEmpty } ?? ""
    }

    static func hint(for scalar: Unicode.Scalar) -> String {
        switch scalar.value {
        case 0x201C, 0x201D, 0x2018, 0x2019, 0x301D, 0x301E, 0xFF02, 0xFF07:
            return " (curly or full-width quotes \(String(Character(scalar))): use straight quotes \" or ')"
        case 0xFF01...0xFF5E:
            let ascii = Unicode.Scalar(scalar.value - 0xFEE0)!
            return " (the full-width \(String(Character(scalar))): use the ASCII \(String(Character(ascii))))"
        default:
            return ""
        }
    }

    /// The character that starts at `offset`, when the bytes there are valid UTF-8.
    static func scalar(at offset: Int, in bytes: [UInt8]) -> Unicode.Scalar? {
        guard offset < bytes.count else { return nil }
        var iterator = bytes[offset...].makeIterator()
        var decoder = UTF8()
        if case .scalarValue(let s) = decoder.decode(&iterator) { return s }
        return nil
    }

    /// Most bytes above 0x7F form Shift_JIS two-byte characters (a lead byte
    /// 81–9F or E0–FC, then a trail byte 40–7E or 80–FC), or are half-width
    /// katakana (A1–DF).
    static func looksLikeShiftJIS(_ bytes: [UInt8]) -> Bool {
        var pairs = 0
        var other = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 { i += 1; continue }
            if (0x81...0x9F).contains(b) || (0xE0...0xFC).contains(b), i + 1 < bytes.count,
               (0x40...0x7E).contains(bytes[i + 1]) || (0x80...0xFC).contains(bytes[i + 1]) {
                pairs += 1
                i += 2
            } else if (0xA1...0xDF).contains(b) {
                pairs += 1
                i += 1
            } else {
                other += 1
                i += 1
            }
        }
        return pairs > 0 && other * 10 <= pairs
    }
}
