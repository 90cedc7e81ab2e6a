/// CP932 (Windows-31J) to Unicode, from the generated table (CP932Table.swift)
/// rather than iconv: the executables are static, without gconv modules.
enum CP932 {
    /// The UTF-16 code unit for the single byte `b`, or nil when `b` leads a
    /// double-byte character. Besides ASCII and the half-width katakana
    /// (A1–DF → U+FF61…), the five bytes that Windows and Python's cp932 decode
    /// but glibc's charmap leaves out: 80 → U+0080, A0 → U+F8F0, FD–FF →
    /// U+F8F1–U+F8F3.
    @inline(__always)
    static func single(_ b: UInt8) -> UInt16? {
        switch b {
        case 0x00...0x80: UInt16(b)
        case 0xA0: 0xF8F0
        case 0xA1...0xDF: 0xFF61 + UInt16(b - 0xA1)
        case 0xFD...0xFF: 0xF8F1 + UInt16(b - 0xFD)
        default: nil
        }
    }

    /// The code unit for lead byte `lead` (81–9F, E0–FC) and `trail`, or 0
    /// when the pair is not a character.
    @inline(__always)
    static func double(_ lead: UInt8, _ trail: UInt8) -> UInt16 {
        guard trail >= 0x40 && trail <= 0xFC && (0x81...0x9F ~= lead || 0xE0...0xFC ~= lead) else { return 0 }
        let row = lead <= 0x9F ? Int(lead - 0x81) : Int(lead - 0xE0) + 31
        let index = (row * 189 + Int(trail - 0x40)) * 4
        let hex = cp932DoubleByteTable.utf8Start
        @inline(__always) func nibble(_ c: UInt8) -> UInt16 { UInt16(c <= 0x39 ? c &- 0x30 : c &- 0x57) }
        return nibble(hex[index]) << 12 | nibble(hex[index + 1]) << 8 | nibble(hex[index + 2]) << 4 | nibble(hex[index + 3])
    }

    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int) throws(LookupError) -> String {
        var utf8: [UInt8] = []
        utf8.reserveCapacity(bytes.count + bytes.count / 2)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 {
                utf8.append(b)
                i += 1
                continue
            }
            let unit: UInt16
            if let s = single(b) {
                unit = s
                i += 1
            } else {
                unit = i + 1 < bytes.count ? double(b, bytes[i + 1]) : 0
                guard unit != 0 else { throw LookupError("not Shift_JIS (CP932) at byte offset \(offset + i)") }
                i += 2
            }
            // Every CP932 character is in the BMP and none is a surrogate.
            if unit < 0x800 {
                utf8.append(0xC0 | UInt8(unit >> 6))
            } else {
                utf8.append(0xE0 | UInt8(unit >> 12))
                utf8.append(0x80 | UInt8((unit >> 6) & 0x3F))
            }
            utf8.append(0x80 | UInt8(unit & 0x3F))
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    static func firstInvalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b < 0x80 || single(b) != nil {
                i += 1
            } else if i + 1 < bytes.count && double(b, bytes[i + 1]) != 0 {
                i += 2
            } else {
                return i
            }
        }
        return nil
    }
}
