import Glibc

/// A CSV file as a lookup source: the rows whose match column equals a key.
///
/// Every call opens the file afresh (under CGI nothing survives a request).
/// With a cache folder, the first lookup after a change reads the whole file
/// and writes an index (CSVIndex) that later lookups search with a few
/// `pread`s, reading only the candidate rows; the index names the version of
/// the file it was built from and is rebuilt when any part of that differs.
public struct CSVSource: Sendable {
    public let path: String
    public let encoding: TextEncoding
    public let matchColumn: String
    public let cacheDirectory: String?

    /// Files larger than this are refused (they are read whole to index them).
    static let sizeLimit = 1 << 30

    public init(path: String, encoding: TextEncoding, matchColumn: String, cacheDirectory: String?) {
        self.path = path
        self.encoding = encoding
        self.matchColumn = matchColumn
        self.cacheDirectory = cacheDirectory
    }

    /// The decoded header names. Throws when unreadable, not in the encoding, or lacking the match column.
    public func header() throws(LookupError) -> [String] {
        var stats = CSVReadStats()
        let file = try OpenFile(path)
        let header = try readHeader(file, stats: &stats)
        _ = try header.column(matchColumn)
        return header.names
    }

    /// Every row whose match column equals `key`, fields in column order (header name → value), file order, at most `limit` rows.
    public func rows(matching key: String, limit: Int) throws(LookupError) -> [LookupRow] {
        var stats = CSVReadStats()
        return try rows(matching: key, limit: limit, stats: &stats)
    }

    /// For `chathooks check`: reads the whole file; a one-line summary ("1,234 rows, 5 columns: email, 名前, …") or the error.
    public func check() -> Result<String, LookupError> {
        do throws(LookupError) {
            let file = try OpenFile(path)
            let identity = try file.identity()
            var stats = CSVReadStats()
            let bytes = try readAll(file, size: identity.size, stats: &stats)
            let scan = try scan(bytes, key: nil, limit: 0, indexing: false)
            return .success("\(grouped(scan.rowCount)) row\(scan.rowCount == 1 ? "" : "s"), " + CSVHeader.shown(scan.header.names))
        } catch {
            return .failure(LookupError("\(path): \(error.message)"))
        }
    }

    /// `now` is when the index would be built (tests move it on rather than wait).
    func rows(matching key: String, limit: Int, now: Timestamp = .now(),
              stats: inout CSVReadStats) throws(LookupError) -> [LookupRow] {
        guard limit > 0 else { return [] }
        let file = try OpenFile(path)
        let identity = try file.identity()
        let configuration = configurationHash
        if let cacheDirectory {
            let indexPath = cacheDirectory + "/" + indexName(configuration)
            var found: [LookupRow] = []
            var record = CSVRecord()
            var rowStats = CSVReadStats()
            // The header only once there is a candidate: a miss reads nothing but the index.
            // (An index exists only for a version of the file whose header has the column.)
            var header: CSVHeader? = nil
            var column = 0
            let indexed = try CSVIndex.lookup(indexPath, identity: identity, configuration: configuration,
                                              hash: CSVIndex.hash(key.utf8), stats: &stats) { offset throws(LookupError) in
                if header == nil {
                    header = try readHeader(file, stats: &rowStats)
                    column = try header!.column(matchColumn)
                }
                // An offset past the file is a damaged index: no candidate there.
                guard let header, offset < identity.size else { return false }
                try readRecord(file, at: Int(offset), into: &record, stats: &rowStats)
                // The hash only names candidates: the key itself decides.
                if try record.field(column, equals: key, header.encoding) {
                    found.append(try row(record, header))
                }
                return found.count < limit
            }
            stats.reads += rowStats.reads
            stats.bytes += rowStats.bytes
            if indexed { return found }
        }
        // No index for this version: the whole file, and an index for next time.
        let bytes = try readAll(file, size: identity.size, stats: &stats)
        let unchanged = (try? file.identity()) == identity  // not changed while being read
        let indexing = cacheDirectory != nil && unchanged && !identity.isRacy(now: now)
        let scan = try scan(bytes, key: key, limit: limit, indexing: indexing)
        if indexing, let cacheDirectory {
            let entries = scan.entries.sorted { (a: (hash: UInt64, offset: UInt64), b: (hash: UInt64, offset: UInt64)) -> Bool in
                a.hash != b.hash ? a.hash < b.hash : a.offset < b.offset
            }
            do throws(SystemError) {
                try Files.makeDirectories(cacheDirectory)
                try CSVIndex.write(entries, identity: identity, configuration: configuration,
                                   to: cacheDirectory + "/" + indexName(configuration))
            } catch {
                logError("CSV \(path): no index, every lookup reads the whole file: \(error)")
            }
        }
        return scan.rows
    }

    /// What the index is for: the file (by absolute path), encoding and match column.
    var configurationHash: UInt64 {
        var absolute = path
        if !path.hasPrefix("/") {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            if getcwd(&buffer, buffer.count) != nil {
                absolute = Files.resolve(path, against: String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return CSVIndex.hash(Array(absolute.utf8) + [0] + Array(encoding.rawValue.utf8) + [0] + Array(matchColumn.utf8))
    }

    func indexName(_ configuration: UInt64) -> String {
        let hex = String(configuration, radix: 16)
        return "csv-" + String(repeating: "0", count: 16 - hex.utf8.count) + hex + ".index"
    }

    func row(_ record: CSVRecord, _ header: CSVHeader) throws(LookupError) -> LookupRow {
        var fields: [LookupField] = []
        fields.reserveCapacity(header.names.count)
        for (i, name) in header.names.enumerated() {
            fields.append(LookupField(name: name, value: try record.field(i, header.encoding)))
        }
        return LookupRow(fields)
    }
}

/// 1234567 → "1,234,567".
func grouped(_ n: Int) -> String {
    let digits = Array(String(n).utf8)
    var out: [UInt8] = []
    for (i, d) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 && d != UInt8(ascii: "-") && digits[i - 1] != UInt8(ascii: "-") { out.append(UInt8(ascii: ",")) }
        out.append(d)
    }
    return String(decoding: out, as: UTF8.self)
}
