import Glibc

/// The on-disk index of one CSV file's match column: which version of the
/// file it was built from, and the (hash of the decoded key, file offset of
/// the record) pairs, sorted, found by `pread` without reading the whole
/// index. Little-endian 64-bit words:
///
///     magic "CHCSVIX1", configuration hash, the file's identity (7 words:
///     dev, ino, size, mtime s, ns, ctime s, ns), entry count, bucket bits
///     bucket table: 2^bits + 1 entry indices (bucket b = the hash's top bits)
///     entries: hash, offset
enum CSVIndex {
    static let magic: UInt64 = 0x3158_4943_5356_4843  // "CHCSVIX1"
    static let headerWords = 11
    static let headerSize = headerWords * 8

    /// 64-bit FNV-1a with a final mix (the top bits choose the bucket). Stable
    /// across processes, unlike `Hasher`.
    static func hash<S: Sequence<UInt8>>(_ bytes: S) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        h ^= h >> 33
        h &*= 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h &*= 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }

    static func bucketBits(_ count: Int) -> Int {
        var bits = 0
        while count >> bits > 32 && bits < 24 { bits += 1 }
        return bits
    }

    /// Writes the index for `entries` (sorted) to `path`, atomically: a
    /// temporary file in the same folder, synced, then renamed over it.
    static func write(_ entries: [(hash: UInt64, offset: UInt64)], identity: FileIdentity, configuration: UInt64,
                      to path: String) throws(SystemError) {
        let bits = bucketBits(entries.count)
        var words: [UInt64] = [magic, configuration] + identity.fields + [UInt64(entries.count), UInt64(bits)]
        words.reserveCapacity(headerWords + (1 << bits) + 1 + 2 * entries.count)
        var bucket = 0
        for (i, e) in entries.enumerated() {
            let b = bits == 0 ? 0 : Int(e.hash >> UInt64(64 - bits))
            while bucket <= b { words.append(UInt64(i)); bucket += 1 }
        }
        while bucket <= 1 << bits { words.append(UInt64(entries.count)); bucket += 1 }
        for e in entries { words.append(e.hash); words.append(e.offset) }
        let bytes = words.withUnsafeBytes { raw in
            // Little-endian on every platform Swift on Linux runs on; byte-swapped where not.
            1.littleEndian == 1 ? Array(raw) : words.map { $0.byteSwapped }.withUnsafeBytes { Array($0) }
        }
        try Files.replace(path, with: bytes)
    }

    /// Calls `visit` with the offset of each record whose key hashes to
    /// `hash`, in file order, until it returns false. Returns false without a
    /// call when there is no index at `path` for this version of the file.
    static func lookup(_ path: String, identity: FileIdentity, configuration: UInt64, hash: UInt64,
                       stats: inout CSVReadStats,
                       visit: (UInt64) throws(LookupError) -> Bool) throws(LookupError) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        let file = OpenFile(fd: fd, path: path)
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        let header = try words(file, at: 0, count: headerWords, stats: &stats)
        guard header.count == headerWords, header[0] == magic, header[1] == configuration,
              FileIdentity(fields: Array(header[2..<9])) == identity else { return false }
        // Every word is checked before it is used as a number: a damaged (or
        // forged) index is no index, never a trap.
        guard header[10] <= 24, header[9] <= UInt64(Int.max / 32) else { return false }
        let count = Int(header[9]), bits = Int(header[10])
        let entriesStart = headerSize + ((1 << bits) + 1) * 8
        guard Int(st.st_size) == entriesStart + count * 16 else { return false }

        let bucket = bits == 0 ? 0 : Int(hash >> UInt64(64 - bits))
        let bounds = try words(file, at: headerSize + bucket * 8, count: 2, stats: &stats)
        guard bounds.count == 2, bounds[0] <= bounds[1], bounds[1] <= UInt64(count) else { return false }
        var lo = Int(bounds[0]), hi = Int(bounds[1])
        let end = hi
        guard lo <= hi, hi <= count else { return false }
        // The first entry with this hash: halving by single reads while the
        // range is large, then one read of the rest.
        let window = 256
        while hi - lo > window {
            let mid = (lo + hi) / 2
            let h = try words(file, at: entriesStart + mid * 16, count: 1, stats: &stats)
            guard h.count == 1 else { return false }
            if h[0] < hash { lo = mid + 1 } else { hi = mid }
        }
        var i = lo
        while i < end {
            let n = min(window, end - i)
            let chunk = try words(file, at: entriesStart + i * 16, count: 2 * n, stats: &stats)
            guard chunk.count == 2 * n else { return true }
            for k in 0..<n {
                let h = chunk[2 * k]
                if h < hash { continue }
                if h > hash { return true }
                if try !visit(chunk[2 * k + 1]) { return true }
            }
            i += n
        }
        return true
    }

    private static func words(_ file: borrowing OpenFile, at offset: Int, count: Int,
                              stats: inout CSVReadStats) throws(LookupError) -> [UInt64] {
        var failure: LookupError? = nil
        let words = [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(LookupError) {
                let n = try file.read(into: UnsafeMutableRawBufferPointer(buffer), at: offset, stats: &stats)
                initialized = n / 8
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return 1.littleEndian == 1 ? words : words.map { $0.byteSwapped }
    }
}
