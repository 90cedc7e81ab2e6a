/// Strings and their escapes (JSON's, plus JSON5's single quotes, `\x`,
/// `\v`, `\0` and line continuations).
extension JSONParser {
    mutating func parseString(quote: UInt8) throws(JSONSyntaxError) -> String {
        let open = index
        index += 1
        let start = index
        // Fast path: no escapes, no control characters. Eight bytes at a time
        // while none of them is the quote, a backslash or a control character.
        if let base = buffer.baseAddress {
            let quotes = UInt64(quote) &* 0x0101_0101_0101_0101
            while index + 8 <= buffer.count {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                if hasByte(word ^ quotes) || hasByte(word ^ 0x5C5C_5C5C_5C5C_5C5C) || hasByteBelow0x20(word) { break }
                index += 8
            }
        }
        while index < buffer.count {
            let b = buffer[index]
            if b == quote {
                let s = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
                index += 1
                return s
            }
            if b == 0x5C || b < 0x20 { break }
            index += 1
        }
        var bytes = Array(UnsafeBufferPointer(rebasing: buffer[start..<index]))
        while true {
            guard index < buffer.count else { throw error("unterminated string", at: open) }
            let b = buffer[index]
            if b == quote {
                index += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            // JSON forbids every control character in a string; JSON5 (like
            // JavaScript) only the line ends.
            if b < 0x20 && (mode == .strict || b == 0x0A || b == 0x0D) {
                throw error("control character 0x\(String(b, radix: 16, uppercase: true)) in a string must be escaped")
            }
            if b != 0x5C {
                bytes.append(b)
                index += 1
                continue
            }
            try parseEscape(into: &bytes)
        }
    }

    mutating func parseEscape(into bytes: inout [UInt8]) throws(JSONSyntaxError) {
        let escapeStart = index
        index += 1
        guard index < buffer.count else { throw error("unterminated escape", at: escapeStart) }
        let c = buffer[index]
        index += 1
        switch c {
        case UInt8(ascii: "\""): bytes.append(0x22)
        case UInt8(ascii: "\\"): bytes.append(0x5C)
        case UInt8(ascii: "/"): bytes.append(0x2F)
        case UInt8(ascii: "b"): bytes.append(0x08)
        case UInt8(ascii: "f"): bytes.append(0x0C)
        case UInt8(ascii: "n"): bytes.append(0x0A)
        case UInt8(ascii: "r"): bytes.append(0x0D)
        case UInt8(ascii: "t"): bytes.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try parseHex4()
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                guard index + 1 < buffer.count, buffer[index] == 0x5C, buffer[index + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))", at: escapeStart)
                }
                index += 2
                let low = try parseHex4()
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw error("unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))", at: escapeStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw error("unpaired surrogate \\u\(String(scalar, radix: 16, uppercase: true))", at: escapeStart)
            }
            appendUTF8(Unicode.Scalar(scalar)!, to: &bytes)
        default:
            guard mode == .json5 else { throw error("invalid escape \\\(Character(Unicode.Scalar(c)))", at: escapeStart) }
            switch c {
            case UInt8(ascii: "'"): bytes.append(0x27)
            case UInt8(ascii: "v"): bytes.append(0x0B)
            case UInt8(ascii: "0") where !(index < buffer.count && isDigit(buffer[index])): bytes.append(0x00)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                throw error("invalid escape \\\(Character(Unicode.Scalar(c))): JSON5 allows \\0 alone, not other digits", at: escapeStart)
            case UInt8(ascii: "x"):
                let hi = hexValue(index < buffer.count ? buffer[index] : 0)
                let lo = hexValue(index + 1 < buffer.count ? buffer[index + 1] : 0)
                guard let hi, let lo else { throw error("invalid \\x escape", at: escapeStart) }
                index += 2
                appendUTF8(Unicode.Scalar(hi << 4 | lo), to: &bytes)
            case 0x0A: break  // line continuation
            case 0x0D:
                if index < buffer.count && buffer[index] == 0x0A { index += 1 }
            default:
                // Any other character escapes to itself (including multi-byte ones).
                bytes.append(c)
            }
        }
    }

    mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= buffer.count else { throw error("invalid \\u escape: four hex digits expected") }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = hexValue(buffer[index + k]) else {
                throw error("invalid \\u escape: four hex digits expected", at: index + k)
            }
            v = v << 4 | UInt32(d)
        }
        index += 4
        return v
    }

    func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: b - 0x30
        case 0x41...0x46: b - 0x41 + 10
        case 0x61...0x66: b - 0x61 + 10
        default: nil
        }
    }

    func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        UTF8.encode(scalar) { bytes.append($0) }
    }
}

/// Whether any byte of `word` is zero (exact: no false positives or negatives).
@inline(__always)
func hasByte(_ word: UInt64) -> Bool {
    (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080 != 0
}

/// Whether any byte of `word` is below 0x20 (exact as to whether one is).
@inline(__always)
func hasByteBelow0x20(_ word: UInt64) -> Bool {
    (word &- 0x2020_2020_2020_2020) & ~word & 0x8080_8080_8080_8080 != 0
}
