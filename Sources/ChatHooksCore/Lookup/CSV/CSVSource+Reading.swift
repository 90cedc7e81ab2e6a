/// Reading a CSV file: its header and single records by `pread`, or all of it.
extension CSVSource {
    /// The header row, read in growing pieces from the start of the file.
    func readHeader(_ file: borrowing OpenFile, stats: inout CSVReadStats) throws(LookupError) -> CSVHeader {
        var size = 4096
        while true {
            let bytes = try file.read(size, at: 0, stats: &stats)
            let atEnd = bytes.count < size
            let header = try bytes.withUnsafeBufferPointer { buffer throws(LookupError) in
                try CSVHeader.parse(buffer, atEnd: atEnd, configured: encoding)
            }
            if let header { return header }
            guard size < Self.sizeLimit else { throw LookupError("the header row is longer than \(Self.sizeLimit) bytes") }
            size *= 4
        }
    }

    /// The record that begins at `offset`, read in growing pieces.
    func readRecord(_ file: borrowing OpenFile, at offset: Int, into record: inout CSVRecord,
                    stats: inout CSVReadStats) throws(LookupError) {
        var size = 4096
        while true {
            let bytes = try file.read(size, at: offset, stats: &stats)
            let atEnd = bytes.count < size
            let outcome = try bytes.withUnsafeBufferPointer { buffer throws(LookupError) in
                var scanner = CSVScanner(buffer, base: offset, atEnd: atEnd)
                return try scanner.next(into: &record)
            }
            switch outcome {
            case .record: return
            case .end: throw LookupError("no record at byte offset \(offset)")
            case .needMore:
                guard size < Self.sizeLimit else { throw LookupError("a record longer than \(Self.sizeLimit) bytes at byte offset \(offset)") }
                size *= 4
            }
        }
    }

    func readAll(_ file: borrowing OpenFile, size: UInt64, stats: inout CSVReadStats) throws(LookupError) -> [UInt8] {
        guard size <= UInt64(Self.sizeLimit) else { throw LookupError("larger than \(Self.sizeLimit) bytes") }
        // One byte more than fstat said, to see the end even if it grew.
        var bytes = try file.read(Int(size) + 1, at: 0, stats: &stats)
        while bytes.count > Int(size) {
            guard bytes.count <= Self.sizeLimit else { throw LookupError("larger than \(Self.sizeLimit) bytes") }
            let more = try file.read(bytes.count, at: bytes.count, stats: &stats)
            if more.isEmpty { break }
            bytes += more
        }
        return bytes
    }

    struct Scan {
        var header: CSVHeader
        var rows: [LookupRow] = []
        var rowCount = 0
        var entries: [(hash: UInt64, offset: UInt64)] = []
    }

    /// The whole file: checked against its encoding first (so that a byte not
    /// in it fails every lookup alike, and an index is only written for a file
    /// that decodes), then every record, the rows matching `key` decoded.
    func scan(_ bytes: [UInt8], key: String?, limit: Int, indexing: Bool) throws(LookupError) -> Scan {
        try bytes.withUnsafeBufferPointer { buffer throws(LookupError) in
            guard let header = try CSVHeader.parse(buffer, atEnd: true, configured: encoding) else {
                throw LookupError("no header row")
            }
            let start = buffer.count >= 3 && buffer[0] == 0xEF && buffer[1] == 0xBB && buffer[2] == 0xBF ? 3 : 0
            if let bad = header.encoding.firstInvalidOffset(UnsafeBufferPointer(rebasing: buffer[start...])) {
                throw LookupError("not \(header.encoding == .utf8 ? "UTF-8" : "Shift_JIS (CP932)") at byte offset \(start + bad)")
            }
            let column = try header.column(matchColumn)
            var scan = Scan(header: header)
            if indexing { scan.entries.reserveCapacity(bytes.count / 64) }
            var scanner = CSVScanner(buffer, position: header.dataOffset, line: header.dataLine)
            var record = CSVRecord()
            var keyBytes: [UInt8] = []
            while try scanner.next(into: &record) == .record {
                scan.rowCount += 1
                guard indexing || (key != nil && scan.rows.count < limit) else { continue }
                let matches: Bool
                switch header.encoding {
                case .utf8:
                    if indexing {
                        let hash = try record.withField(column) { f in CSVIndex.hash(f) }
                        scan.entries.append((hash, UInt64(record.offset)))
                    }
                    matches = key.map { record.bytes(column, equal: $0) } ?? false
                case .shiftJIS:
                    keyBytes.removeAll(keepingCapacity: true)
                    keyBytes.append(contentsOf: try record.field(column, .shiftJIS).utf8)
                    if indexing { scan.entries.append((CSVIndex.hash(keyBytes), UInt64(record.offset))) }
                    matches = key.map { keyBytes.elementsEqual($0.utf8) } ?? false
                }
                if matches && scan.rows.count < limit { scan.rows.append(try row(record, header)) }
            }
            return scan
        }
    }
}
