/// Byte-level text helpers shared by every folder: ASCII trimming and
/// case-insensitive comparison without Unicode case mapping, decimal digits.

extension String {
    package var trimmingASCIISpaces: String {
        let u = utf8
        guard let first = u.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        let last = u.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })!
        return String(self[first...last])
    }

    /// Equal to `word` (lowercase ASCII) with ASCII letters compared without
    /// case: the same answer as `lowercased() ==` for the ASCII words we
    /// compare with, by bytes and without Unicode case mapping.
    func equalsIgnoringASCIICase(_ word: StaticString) -> Bool {
        guard utf8.count == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { expected in
            var i = 0
            for b in utf8 {
                let folded = b >= 0x41 && b <= 0x5A ? b + 0x20 : b
                if folded != expected[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// Holds `word` (lowercase ASCII) somewhere, ASCII letters compared
    /// without case. A byte scan over the String's own storage: no copies.
    func containsIgnoringASCIICase(_ word: StaticString) -> Bool {
        var s = self
        return s.withUTF8 { hay in
            word.withUTF8Buffer { needle in
                guard hay.count >= needle.count else { return false }
                outer: for start in 0...(hay.count - needle.count) {
                    for k in 0..<needle.count {
                        let b = hay[start + k]
                        if (b >= 0x41 && b <= 0x5A ? b + 0x20 : b) != needle[k] { continue outer }
                    }
                    return true
                }
                return false
            }
        }
    }

    /// Starts with `prefix` (uppercase ASCII), ASCII letters compared without case.
    func hasPrefixIgnoringASCIICase(_ prefix: StaticString) -> Bool {
        prefix.withUTF8Buffer { expected in
            var i = 0
            for b in utf8 {
                if i == expected.count { return true }
                let folded = b >= 0x61 && b <= 0x7A ? b - 0x20 : b
                if folded != expected[i] { return false }
                i += 1
            }
            return i == expected.count
        }
    }
}

/// The decimal number written in `bytes[range]`, or nil when the range is out
/// of bounds or holds anything but digits.
func decimal(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
    guard range.upperBound <= bytes.count else { return nil }
    var v = 0
    for i in range {
        guard bytes[i] >= 0x30 && bytes[i] <= 0x39 else { return nil }
        v = v * 10 + Int(bytes[i] - 0x30)
    }
    return v
}

extension String {
    /// Every occurrence of `target` replaced, compared by bytes (not by
    /// characters: a secret is found even where it starts or ends inside a
    /// character cluster).
    public func replacingBytes(_ target: String, with replacement: String) -> String {
        let hay = Array(utf8), needle = Array(target.utf8)
        guard !needle.isEmpty, hay.count >= needle.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(hay.count)
        var i = 0
        while i < hay.count {
            if i + needle.count <= hay.count && hay[i..<(i + needle.count)].elementsEqual(needle) {
                out += replacement.utf8
                i += needle.count
            } else {
                out.append(hay[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
