/// The encoding a CSV file's text is in, as the config names it.
public enum TextEncoding: String, Sendable {
    case utf8 = "utf-8"
    /// CP932 (Windows-31J): what Excel for Japanese Windows saves as plain "CSV".
    case shiftJIS = "shift_jis"
}

extension TextEncoding {
    /// Decodes `bytes`, which began at `offset` in the file (for the error's
    /// byte offset). Never substitutes U+FFFD: a byte sequence not in the
    /// encoding is an error, so that `chathooks check` finds a wrong setting.
    func decode(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int) throws(LookupError) -> String {
        switch self {
        case .utf8:
            if let bad = firstInvalidUTF8Offset(bytes) {
                throw LookupError("not UTF-8 at byte offset \(offset + bad)")
            }
            return String(decoding: bytes, as: UTF8.self)
        case .shiftJIS:
            return try CP932.decode(bytes, offset: offset)
        }
    }

    /// The offset of the first byte not in the encoding, or nil.
    func firstInvalidOffset(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        switch self {
        case .utf8: firstInvalidUTF8Offset(bytes)
        case .shiftJIS: CP932.firstInvalidOffset(bytes)
        }
    }
}
