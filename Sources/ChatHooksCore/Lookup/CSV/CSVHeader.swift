/// A CSV file's header row, decoded, and where its data begins.
struct CSVHeader {
    /// The header's names for a message: the first eight, each cut to 30
    /// characters (a file that is not the CSV meant — a secret, a password
    /// file — must not be quoted whole into a log line).
    static func shown(_ names: [String]) -> String {
        let first = names.prefix(8).map { $0.count > 30 ? String($0.prefix(30)) + "…" : $0 }
        return "\(names.count) column\(names.count == 1 ? "" : "s"): " + first.joined(separator: ", ") + (names.count > 8 ? ", …" : "")
    }

    var names: [String]
    /// The encoding the data is in: the configured one, or UTF-8 after a BOM.
    var encoding: TextEncoding
    /// Where the record after the header begins, and on which line.
    var dataOffset: Int
    var dataLine: Int

    /// The header at the start of `buffer` (the file's first bytes), or nil
    /// when the buffer does not reach its end yet. A leading UTF-8 BOM
    /// (EF BB BF) is skipped and means UTF-8 even when the config says
    /// shift_jis (a decision): EF BB is not a CP932 character at all, so such a
    /// file could only fail as CP932, while UTF-8 with a BOM is exactly what
    /// Excel's "CSV UTF-8" writes when someone re-saves the file.
    static func parse(_ buffer: UnsafeBufferPointer<UInt8>, atEnd: Bool, configured: TextEncoding) throws(LookupError) -> CSVHeader? {
        if buffer.count < 3 && !atEnd { return nil }
        let bom = buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF
        let encoding = bom ? TextEncoding.utf8 : configured
        var scanner = CSVScanner(buffer, atEnd: atEnd, position: bom ? 3 : 0)
        var record = CSVRecord()
        switch try scanner.next(into: &record) {
        case .needMore: return nil
        case .end: throw LookupError("no header row (the file is empty)")
        case .record: break
        }
        var names: [String] = []
        for i in 0..<record.count {
            let name = try record.field(i, encoding).trimmingASCIISpaces
            if names.contains(where: { $0.utf8.elementsEqual(name.utf8) }) {
                throw LookupError("the header names the column \"\(name)\" twice")
            }
            names.append(name)
        }
        return CSVHeader(names: names, encoding: encoding, dataOffset: scanner.position, dataLine: scanner.line)
    }

    /// The index of the column named exactly `name`.
    func column(_ name: String) throws(LookupError) -> Int {
        guard let i = names.firstIndex(where: { $0.utf8.elementsEqual(name.utf8) }) else {
            throw LookupError("no column \"\(name)\" in the header (\(CSVHeader.shown(names)))")
        }
        return i
    }
}
