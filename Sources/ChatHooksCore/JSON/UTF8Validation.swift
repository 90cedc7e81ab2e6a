/// Finds the first byte at which `bytes` stops being well-formed UTF-8
/// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
/// Returns nil when the whole buffer is valid.
public func firstInvalidUTF8Offset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
    var i = 0
    let n = bytes.count
    guard let base = bytes.baseAddress else { return nil }
    while i < n {
        // Eight ASCII bytes at a time.
        if i + 8 <= n && UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
            i += 8
            continue
        }
        let b0 = bytes[i]
        if b0 < 0x80 {
            i += 1
            continue
        }
        // The common three-byte form (most of Japanese text): a lead byte
        // E1–EC or EE–EF and two continuation bytes, with no range to check.
        if b0 >= 0xE1 && b0 != 0xED && b0 <= 0xEF && i + 2 < n
            && bytes[i + 1] & 0xC0 == 0x80 && bytes[i + 2] & 0xC0 == 0x80 {
            i += 3
            continue
        }
        let length: Int
        var lower: UInt8 = 0x80
        var upper: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; upper = 0x9F
        case 0xF0: length = 4; lower = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; upper = 0x8F
        default: return i
        }
        if i + length > n { return i }
        let b1 = bytes[i + 1]
        if b1 < lower || b1 > upper { return i }
        var k = 2
        while k < length {
            if bytes[i + k] & 0xC0 != 0x80 { return i }
            k += 1
        }
        i += length
    }
    return nil
}

public func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
    bytes.withUnsafeBufferPointer { firstInvalidUTF8Offset($0) }
}
