import Glibc

/// Request ids are ULIDs (26 characters, Crockford base 32): time-ordered, so
/// the journal sorts by them, and with 80 random bits, so they never collide.
public enum RequestID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// When a request id was made, in milliseconds (its first 10 digits);
    /// nil for what is not one of ours.
    public static func milliseconds(of id: String) -> Int? {
        let b = Array(id.utf8)
        guard b.count == 26 else { return nil }
        var ms = 0
        for c in b[0..<10] {
            guard let v = alphabet.firstIndex(of: c) else { return nil }
            ms = ms << 5 | v
        }
        return ms
    }

    public static func make(at time: Timestamp = .now()) -> String {
        // The 80 random bits in one call (glibc's arc4random_buf: one getrandom).
        var random: (lo: UInt64, hi: UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &random) { arc4random_buf($0.baseAddress!, 10) }
        // 128 bits: 48 of milliseconds, then 80 random.
        let high = UInt64(time.milliseconds) << 16 | (random.hi & 0xFFFF)
        let low = random.lo
        var out = [UInt8](repeating: 0, count: 26)
        // 26 digits of 5 bits = 130 bits; the top two are zero.
        for i in 0..<26 {
            let bit = (25 - i) * 5  // position of this digit's lowest bit
            let value: UInt64
            if bit >= 64 {
                value = high >> UInt64(bit - 64)
            } else if bit + 5 <= 64 {
                value = low >> UInt64(bit)
            } else {
                value = (low >> UInt64(bit)) | (high << UInt64(64 - bit))
            }
            out[i] = alphabet[Int(value & 0x1F)]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
