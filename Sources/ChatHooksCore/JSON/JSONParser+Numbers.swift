import Glibc

/// Numbers: RFC 8259's grammar, and JSON5's extra forms rewritten to it.
extension JSONParser {
    /// Returns the number as an RFC 8259 literal.
    mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let start = index
        var negative = false
        if buffer[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        } else if buffer[index] == UInt8(ascii: "+") {  // json5 only (checked by the caller)
            index += 1
        }
        if mode == .json5 {
            if let special = try parseJSON5SpecialNumber(negative: negative, start: start) { return special }
        }
        let digitsStart = index
        // Integer part
        if index < buffer.count && buffer[index] == UInt8(ascii: "0") {
            index += 1
        } else if index < buffer.count && isDigit(buffer[index]) {
            while index < buffer.count && isDigit(buffer[index]) { index += 1 }
        } else if !(mode == .json5 && index < buffer.count && buffer[index] == UInt8(ascii: ".")) {
            throw error("invalid number: a digit was expected", at: index)
        }
        let hadIntegerDigits = index > digitsStart
        var text = String(decoding: UnsafeBufferPointer(rebasing: buffer[digitsStart..<index]), as: UTF8.self)
        if text.isEmpty { text = "0" }
        // Fraction
        if index < buffer.count && buffer[index] == UInt8(ascii: ".") {
            index += 1
            let fractionStart = index
            while index < buffer.count && isDigit(buffer[index]) { index += 1 }
            if index == fractionStart {
                // JSON5 allows `5.` but not a lone `.`.
                guard mode == .json5, hadIntegerDigits else {
                    throw error("invalid number: a digit was expected after '.'", at: index)
                }
            } else {
                text += "." + String(decoding: UnsafeBufferPointer(rebasing: buffer[fractionStart..<index]), as: UTF8.self)
            }
        }
        // Exponent
        if index < buffer.count && (buffer[index] == UInt8(ascii: "e") || buffer[index] == UInt8(ascii: "E")) {
            let expStart = index
            index += 1
            if index < buffer.count && (buffer[index] == UInt8(ascii: "+") || buffer[index] == UInt8(ascii: "-")) { index += 1 }
            let expDigits = index
            while index < buffer.count && isDigit(buffer[index]) { index += 1 }
            guard index > expDigits else { throw error("invalid number: a digit was expected in the exponent", at: index) }
            text += String(decoding: UnsafeBufferPointer(rebasing: buffer[expStart..<index]), as: UTF8.self)
        }
        if index < buffer.count && (isIdentifierByte(buffer[index]) || buffer[index] == UInt8(ascii: ".")) && !isJSON5Space(at: index) {
            throw error("invalid number: unexpected \(describeByte(at: index))")
        }
        return negative ? "-" + text : text
    }

    mutating func parseJSON5SpecialNumber(negative: Bool, start: Int) throws(JSONSyntaxError) -> String? {
        if index + 1 < buffer.count && buffer[index] == UInt8(ascii: "0")
            && (buffer[index + 1] == UInt8(ascii: "x") || buffer[index + 1] == UInt8(ascii: "X")) {
            index += 2
            var value: UInt64 = 0
            let hexStart = index
            while index < buffer.count, let d = hexValue(buffer[index]) {
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 16)
                guard !overflow else { throw error("hexadecimal number too large", at: start) }
                value = shifted | UInt64(d)
                index += 1
            }
            guard index > hexStart else { throw error("invalid hexadecimal number", at: start) }
            return (negative && value != 0 ? "-" : "") + String(value)
        }
        // Only a number's first byte is looked at: no word is compared unless it can start here.
        if index < buffer.count && (buffer[index] == UInt8(ascii: "I") || buffer[index] == UInt8(ascii: "N")) {
            for word: StaticString in ["Infinity", "NaN"] {
                let n = word.utf8CodeUnitCount
                let found = index + n <= buffer.count
                    && word.withUTF8Buffer { w in memcmp(buffer.baseAddress! + index, w.baseAddress!, n) == 0 }
                if found { throw error("\(word) is not a number this configuration can use", at: start) }
            }
        }
        return nil
    }

    func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
}
