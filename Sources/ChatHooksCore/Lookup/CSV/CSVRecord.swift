/// One record of a CSV file as raw bytes, its fields unquoted but not yet
/// decoded. Reused from record to record (its arrays keep their capacity).
struct CSVRecord {
    /// The fields' bytes, one after the other.
    var bytes: [UInt8] = []
    /// Where each field ends in `bytes` (field i is `ends[i-1]..<ends[i]`).
    var ends: [Int] = []
    /// Where each field began in the file: for the byte offset of a decoding error.
    var starts: [Int] = []
    /// The file offset of the record's first byte.
    var offset = 0
    /// The line (1-based) the record begins on.
    var line = 0

    var count: Int { ends.count }

    mutating func clear() {
        bytes.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
    }

    func withField<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws(LookupError) -> R) throws(LookupError) -> R {
        guard i < ends.count else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let start = i == 0 ? 0 : ends[i - 1]
        let end = ends[i]
        return try bytes.withUnsafeBufferPointer { all throws(LookupError) in
            try body(UnsafeBufferPointer(rebasing: all[start..<end]))
        }
    }

    /// Field `i` decoded; a missing field (a short row) is empty.
    func field(_ i: Int, _ encoding: TextEncoding) throws(LookupError) -> String {
        guard i < ends.count else { return "" }
        let offset = starts[i]
        return try withField(i) { bytes throws(LookupError) in try encoding.decode(bytes, offset: offset) }
    }

    /// Whether field `i`'s bytes are those of `key` (a missing field is empty).
    func bytes(_ i: Int, equal key: String) -> Bool {
        guard i < ends.count else { return key.isEmpty }
        let start = i == 0 ? 0 : ends[i - 1]
        return bytes[start..<ends[i]].elementsEqual(key.utf8)
    }

    /// Whether field `i` is exactly the bytes of `key` once decoded. For
    /// UTF-8 that is the bytes themselves; CP932 is decoded first.
    func field(_ i: Int, equals key: String, _ encoding: TextEncoding) throws(LookupError) -> Bool {
        switch encoding {
        case .utf8:
            return bytes(i, equal: key)
        case .shiftJIS:
            return try field(i, encoding).utf8.elementsEqual(key.utf8)
        }
    }
}
