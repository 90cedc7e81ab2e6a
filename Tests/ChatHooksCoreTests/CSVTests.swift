import Foundation
import Glibc
import Testing
@testable import ChatHooksCore

/// The records of `bytes` as UTF-8 strings, by the scanner alone.
private func records(_ bytes: [UInt8]) throws(LookupError) -> [[String]] {
    try bytes.withUnsafeBufferPointer { buffer throws(LookupError) in
        var scanner = CSVScanner(buffer)
        var record = CSVRecord()
        var out: [[String]] = []
        while try scanner.next(into: &record) == .record {
            var fields: [String] = []
            for i in 0..<record.count { fields.append(try record.field(i, .utf8)) }
            out.append(fields)
        }
        return out
    }
}

private func records(_ text: String) throws(LookupError) -> [[String]] { try records(Array(text.utf8)) }

/// A folder of its own under /tmp, removed afterwards.
private final class Scratch {
    let path: String
    init() {
        var template = Array("/tmp/chathooks-csv-XXXXXX".utf8CString)
        path = String(cString: mkdtemp(&template)!)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let file = path + "/" + name
        #expect(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
        return file
    }
    func write(_ name: String, _ text: String) -> String { write(name, Array(text.utf8)) }

    var cache: String { path + "/cache" }
    func indexFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache)) ?? []).filter { $0.hasSuffix(".index") }
    }
}

/// Sets a file's mtime (and atime) to `seconds` since the epoch. Its ctime becomes now.
private func setModified(_ path: String, _ seconds: Int) {
    var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
    #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
}

/// Overwrites bytes in place (same inode), as an editor saving in place does.
private func overwrite(_ path: String, at offset: Int, _ text: String) {
    let fd = open(path, O_WRONLY)
    let bytes = Array(text.utf8)
    #expect(pwrite(fd, bytes, bytes.count, off_t(offset)) == bytes.count)
    close(fd)
}

/// A moment at which a file written just now is no longer "racy": tests move
/// the clock on instead of waiting two seconds.
private func later() -> Timestamp {
    var t = Timestamp.now()
    t.seconds += 10
    return t
}

private func values(_ rows: [LookupRow]) -> [[String]] { rows.map { $0.fields.map(\.value) } }

private func lookup(_ source: CSVSource, _ key: String, limit: Int = 100, now: Timestamp = later()) throws -> [LookupRow] {
    var stats = CSVReadStats()
    return try source.rows(matching: key, limit: limit, now: now, stats: &stats)
}

@Suite struct CSVParserTests {
    @Test func rfc4180() throws {
        #expect(try records("a,b,c\n1,2,3\n") == [["a", "b", "c"], ["1", "2", "3"]])
        #expect(try records("a,b\r\n1,2\r\n") == [["a", "b"], ["1", "2"]])
        #expect(try records("a,b\r\n1,2") == [["a", "b"], ["1", "2"]])
        #expect(try records("a,b\n1,2") == [["a", "b"], ["1", "2"]])
        #expect(try records("a,b\n1,2\r") == [["a", "b"], ["1", "2"]])
        #expect(try records("a,,\n,,\n") == [["a", "", ""], ["", "", ""]])
        #expect(try records("\"a,b\",\"say \"\"hi\"\"\",\"\"\n") == [["a,b", "say \"hi\"", ""]])
        #expect(try records("\"line 1\r\nline 2\nline 3\",x\n") == [["line 1\r\nline 2\nline 3", "x"]])
        #expect(try records("\"\"\"\"") == [["\""]])
        // A CR alone is data; a quote inside an unquoted field too; bytes after a closing quote are kept.
        #expect(try records("a\rb,c\"d\n\"e\"f,g\n") == [["a\rb", "c\"d"], ["ef", "g"]])
    }

    @Test func blankLinesAreSkipped() throws {
        #expect(try records("\n\r\na,b\n\n\r\n1,2\n\n") == [["a", "b"], ["1", "2"]])
        #expect(try records("") == [])
        #expect(try records("\n\n") == [])
    }

    @Test func unterminatedQuoteNamesItsLine() {
        do {
            _ = try records("a,b\n1,2\n3,\"open\n\nstill open")
            Issue.record("no error")
        } catch {
            #expect(error.message == "unterminated quoted field from line 3")
        }
        #expect(throws: LookupError.self) { try records("\"") }
    }

    @Test func lineNumbersCountLinesInsideQuotes() {
        do {
            _ = try records("a\n\"x\ny\"\n\n\"z")
            Issue.record("no error")
        } catch {
            #expect(error.message == "unterminated quoted field from line 5")
        }
    }

    @Test func recordsSplitAcrossReadsNeedMore() throws {
        // The scanner over a prefix that is not the end of the file must not take a partial record.
        let text = Array("a,\"b\nc\"\r\n".utf8)
        for cut in 1..<text.count {
            let outcome = try text.withUnsafeBufferPointer { all throws(LookupError) in
                var scanner = CSVScanner(UnsafeBufferPointer(rebasing: all[0..<cut]), atEnd: false)
                var record = CSVRecord()
                return try scanner.next(into: &record)
            }
            #expect(outcome == .needMore, "cut at \(cut)")
        }
    }

    @Test func header() throws {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        for (bytes, encoding) in [(Array(" email , 名前\t,x\n".utf8), TextEncoding.utf8),
                                  (bom + Array(" email , 名前\t,x\n".utf8), .utf8),
                                  (bom + Array(" email , 名前\t,x\n".utf8), .shiftJIS)] {
            let header = try bytes.withUnsafeBufferPointer { try CSVHeader.parse($0, atEnd: true, configured: encoding) }
            #expect(header?.names == ["email", "名前", "x"])
            #expect(header?.encoding == (bytes.count > 20 ? .utf8 : encoding))
        }
        #expect(throws: LookupError.self) {
            try Array("a, b,a \n".utf8).withUnsafeBufferPointer { try CSVHeader.parse($0, atEnd: true, configured: .utf8) }
        }
        #expect(throws: LookupError.self) {
            try [UInt8]().withUnsafeBufferPointer { try CSVHeader.parse($0, atEnd: true, configured: .utf8) }
        }
    }
}

@Suite struct CSVDecodingTests {
    /// Every 1- and 2-byte input decodes as Python's cp932 codec decodes it
    /// (which is what Windows does), or fails where Python fails.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func cp932MatchesPython() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../scripts/cp932-expected.py").standardized.path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        try #require(lines.count == 65_792 + 1)
        var differences: [String] = []
        var decodedPairs = 0
        for (n, line) in lines.dropLast().enumerated() {
            let input: [UInt8] = n < 256 ? [UInt8(n)] : [UInt8((n - 256) >> 8), UInt8((n - 256) & 0xFF)]
            let ours: String
            do {
                let s = try input.withUnsafeBufferPointer { try CP932.decode($0, offset: 0) }
                ours = s.unicodeScalars.map { String($0.value, radix: 16) }.joined(separator: " ")
                #expect(input.withUnsafeBufferPointer { CP932.firstInvalidOffset($0) } == nil)
            } catch {
                ours = "-"
                #expect(input.withUnsafeBufferPointer { CP932.firstInvalidOffset($0) } != nil)
            }
            if ours != line { differences.append("\(input.map { String($0, radix: 16) }): python \(line), ours \(ours)") }
            if input.count == 2 && input[0] >= 0x81 && line != "-" && !line.contains(" ") { decodedPairs += 1 }
        }
        #expect(differences.count == 0, "\(differences.count) differences, the first: \(differences.prefix(20))")
        #expect(decodedPairs > 7_900)  // the double-byte characters: JIS X 0208, NEC and IBM extensions, user area
    }

    @Test func cp932Samples() throws {
        func decode(_ bytes: [UInt8]) throws -> String { try bytes.withUnsafeBufferPointer { try CP932.decode($0, offset: 0) } }
        #expect(try decode([0x8E, 0x52, 0x93, 0x63]) == "山田")
        #expect(try decode([0x81, 0x60]) == "～")  // FULLWIDTH TILDE in CP932, not WAVE DASH as in JIS
        #expect(try decode([0x87, 0x40, 0xFB, 0xFC, 0xEE, 0xE0, 0xB6, 0xC5, 0x5C]) == "①髙髙ｶﾅ\\")
        do {
            _ = try [0x41, 0x42, 0x81, 0x2C].withUnsafeBufferPointer { try CP932.decode($0, offset: 100) }
            Issue.record("no error")
        } catch let error as LookupError {
            #expect(error.message == "not Shift_JIS (CP932) at byte offset 102")
        }
        #expect(throws: LookupError.self) { try decode([0x85, 0x40]) }  // an empty row
        #expect(throws: LookupError.self) { try decode([0x88]) }  // a lead byte at the end
    }
}

@Suite struct CSVSourceTests {
    static let customers = """
        email,name,address,phone
        a@example.jp,Alice,"1 Main St
        Springfield",555-1
        b@example.jp,Bob,,555-2
        a@example.jp,Alice again,"2 ""Oak"" Ave",555-3
        c@example.jp,Carol
        d@example.jp,Dan,x,555-4,extra,fields

        """

    @Test func hitsMissesAndMultipleMatches() throws {
        let scratch = Scratch()
        let file = scratch.write("customers.csv", Self.customers)
        for cache in [nil, scratch.cache] {
            let source = CSVSource(path: file, encoding: .utf8, matchColumn: "email", cacheDirectory: cache)
            #expect(try source.header() == ["email", "name", "address", "phone"])
            for _ in 0..<2 {  // the second time from the index, when there is a cache
                let rows = try lookup(source, "a@example.jp")
                #expect(values(rows) == [["a@example.jp", "Alice", "1 Main St\nSpringfield", "555-1"],
                                         ["a@example.jp", "Alice again", "2 \"Oak\" Ave", "555-3"]])
                #expect(rows.first?.fields.map(\.name) == ["email", "name", "address", "phone"])
                #expect(values(try lookup(source, "a@example.jp", limit: 1)) == [["a@example.jp", "Alice", "1 Main St\nSpringfield", "555-1"]])
                #expect(values(try lookup(source, "c@example.jp")) == [["c@example.jp", "Carol", "", ""]])
                #expect(values(try lookup(source, "d@example.jp")) == [["d@example.jp", "Dan", "x", "555-4"]])
                #expect(try lookup(source, "nobody@example.jp").isEmpty)
                #expect(try lookup(source, "A@example.jp").isEmpty)  // exact
                #expect(try lookup(source, "a@example.jp ").isEmpty)
                #expect(try lookup(source, "").isEmpty)
            }
            #expect(scratch.indexFiles().count == (cache == nil ? 0 : 1))
        }
        let byName = CSVSource(path: file, encoding: .utf8, matchColumn: "phone", cacheDirectory: scratch.cache)
        #expect(values(try lookup(byName, "555-2")) == [["b@example.jp", "Bob", "", "555-2"]])
        #expect(values(try lookup(byName, "555-2")) == [["b@example.jp", "Bob", "", "555-2"]])
        #expect(try lookup(byName, "").count == 1)  // Carol's missing phone is empty
        #expect(scratch.indexFiles().count == 2)
    }

    @Test func missingColumnAndFile() {
        let scratch = Scratch()
        let file = scratch.write("c.csv", Self.customers)
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "mail", cacheDirectory: scratch.cache)
        #expect(throws: LookupError.self) { try source.header() }
        #expect(throws: LookupError.self) { try lookup(source, "a@example.jp") }
        #expect(throws: LookupError.self) { try source.check().get() }
        let missing = CSVSource(path: scratch.path + "/none.csv", encoding: .utf8, matchColumn: "email", cacheDirectory: nil)
        #expect(throws: LookupError.self) { try missing.header() }
        #expect(throws: LookupError.self) { try lookup(missing, "x") }
    }

    @Test func manyColumns() throws {
        let scratch = Scratch()
        let names = (0..<250).map { "c\($0)" }
        let rows = (0..<20).map { r in (0..<250).map { "r\(r)v\($0)" } }
        let text = ([names] + rows).map { $0.joined(separator: ",") }.joined(separator: "\r\n") + "\r\n"
        let file = scratch.write("wide.csv", text)
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "c217", cacheDirectory: scratch.cache)
        for _ in 0..<2 {
            let found = try lookup(source, "r13v217")
            #expect(found.count == 1)
            #expect(found.first?.fields.count == 250)
            #expect(found.first?.fields[249] == LookupField(name: "c249", value: "r13v249"))
        }
        #expect(try source.check().get() == "20 rows, 250 columns: c0, c1, c2, c3, c4, c5, c6, c7, …")
    }

    @Test func shiftJIS() throws {
        // Python: 'メール,名前,住所\r\nyamada@example.jp,山田 太郎,"東京都千代田区１－１\r\n～髙①ｶﾅ"\r\n鈴木,"鈴木 ""一郎""",大阪\r\n'.encode('cp932')
        let bytes: [UInt8] = [
            0x83, 0x81, 0x81, 0x5B, 0x83, 0x8B, 0x2C, 0x96, 0xBC, 0x91, 0x4F, 0x2C, 0x8F, 0x5A, 0x8F, 0x8A, 0x0D, 0x0A,
            0x79, 0x61, 0x6D, 0x61, 0x64, 0x61, 0x40, 0x65, 0x78, 0x61, 0x6D, 0x70, 0x6C, 0x65, 0x2E, 0x6A, 0x70, 0x2C,
            0x8E, 0x52, 0x93, 0x63, 0x20, 0x91, 0xBE, 0x98, 0x59, 0x2C, 0x22, 0x93, 0x8C, 0x8B, 0x9E, 0x93, 0x73, 0x90,
            0xE7, 0x91, 0xE3, 0x93, 0x63, 0x8B, 0xE6, 0x82, 0x50, 0x81, 0x7C, 0x82, 0x50, 0x0D, 0x0A, 0x81, 0x60, 0xEE,
            0xE0, 0x87, 0x40, 0xB6, 0xC5, 0x22, 0x0D, 0x0A, 0x97, 0xE9, 0x96, 0xD8, 0x2C, 0x22, 0x97, 0xE9, 0x96, 0xD8,
            0x20, 0x22, 0x22, 0x88, 0xEA, 0x98, 0x59, 0x22, 0x22, 0x22, 0x2C, 0x91, 0xE5, 0x8D, 0xE3, 0x0D, 0x0A,
        ]
        let scratch = Scratch()
        let file = scratch.write("sjis.csv", bytes)
        for cache in [nil, scratch.cache] {
            let byName = CSVSource(path: file, encoding: .shiftJIS, matchColumn: "名前", cacheDirectory: cache)
            #expect(try byName.header() == ["メール", "名前", "住所"])
            for _ in 0..<2 {
                #expect(values(try lookup(byName, "山田 太郎")) == [["yamada@example.jp", "山田 太郎", "東京都千代田区１－１\r\n～髙①ｶﾅ"]])
                #expect(values(try lookup(byName, "鈴木 \"一郎\"")) == [["鈴木", "鈴木 \"一郎\"", "大阪"]])
                #expect(try lookup(byName, "山田").isEmpty)
            }
            let byMail = CSVSource(path: file, encoding: .shiftJIS, matchColumn: "メール", cacheDirectory: cache)
            #expect(values(try lookup(byMail, "鈴木")) == [["鈴木", "鈴木 \"一郎\"", "大阪"]])
            #expect(values(try lookup(byMail, "鈴木")) == [["鈴木", "鈴木 \"一郎\"", "大阪"]])
        }
        #expect(scratch.indexFiles().count == 2)
        #expect(CSVSource(path: file, encoding: .shiftJIS, matchColumn: "名前", cacheDirectory: nil).check().value
            == "2 rows, 3 columns: メール, 名前, 住所")
        // The same file read as UTF-8 fails, naming the first byte that is not UTF-8.
        let wrong = CSVSource(path: file, encoding: .utf8, matchColumn: "名前", cacheDirectory: scratch.cache)
        #expect(throws: LookupError.self) { try wrong.header() }
        #expect(throws: LookupError.self) { try lookup(wrong, "x") }
        #expect(wrong.check().failureMessage?.hasSuffix("not UTF-8 at byte offset 0") == true)
    }

    @Test func bomMeansUTF8() throws {
        let scratch = Scratch()
        let file = scratch.write("bom.csv", [0xEF, 0xBB, 0xBF] + Array("名前,値\n山田,1\n".utf8))
        for encoding in [TextEncoding.utf8, .shiftJIS] {
            for cache in [nil, scratch.cache] {
                let source = CSVSource(path: file, encoding: encoding, matchColumn: "名前", cacheDirectory: cache)
                #expect(try source.header() == ["名前", "値"])
                #expect(values(try lookup(source, "山田")) == [["山田", "1"]])
                #expect(values(try lookup(source, "山田")) == [["山田", "1"]])
            }
        }
    }

    @Test func invalidBytesFailEveryLookupAlike() throws {
        let scratch = Scratch()
        // The bad byte (FF) is in a row other than the one looked up.
        let file = scratch.write("bad.csv", Array("k,v\na,1\nb,".utf8) + [0xFF] + Array("\n".utf8))
        for cache in [nil, scratch.cache] {
            let source = CSVSource(path: file, encoding: .utf8, matchColumn: "k", cacheDirectory: cache)
            do {
                _ = try lookup(source, "a")
                Issue.record("no error")
            } catch let error as LookupError {
                #expect(error.message == "not UTF-8 at byte offset 10")
            }
            #expect(source.check().failureMessage == "\(file): not UTF-8 at byte offset 10")
        }
        #expect(scratch.indexFiles().isEmpty)
    }

    @Test func unterminatedQuoteInAFile() {
        let scratch = Scratch()
        let file = scratch.write("open.csv", "k,v\na,1\nb,\"2\n")
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "k", cacheDirectory: scratch.cache)
        #expect(source.check().failureMessage == "\(file): unterminated quoted field from line 3")
        #expect(throws: LookupError.self) { try lookup(source, "a") }
    }

    @Test func checkSummary() {
        let scratch = Scratch()
        var text = "email,名前\n"
        for i in 0..<1234 { text += "u\(i)@example.jp,名\(i)\n" }
        let file = scratch.write("c.csv", text)
        #expect(CSVSource(path: file, encoding: .utf8, matchColumn: "email", cacheDirectory: nil).check().value
            == "1,234 rows, 2 columns: email, 名前")
        #expect(grouped(0) == "0")
        #expect(grouped(999) == "999")
        #expect(grouped(1_000_000) == "1,000,000")
    }
}

@Suite struct CSVIndexTests {
    @Test func aFileJustWrittenGetsNoIndex() throws {
        // git's racy rule: the file changed less than two seconds ago (now, by the real clock).
        let scratch = Scratch()
        let file = scratch.write("new.csv", "k,v\na,1\n")
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "k", cacheDirectory: scratch.cache)
        #expect(values(try lookup(source, "a", now: .now())) == [["a", "1"]])
        #expect(scratch.indexFiles().isEmpty)
        #expect(values(try lookup(source, "a", now: later())) == [["a", "1"]])
        #expect(scratch.indexFiles().count == 1)
    }

    @Test func aChangeOfTheSameSizeWithTheOldMtimeIsSeen() throws {
        let scratch = Scratch()
        let file = scratch.write("c.csv", "k,v\na,old\nb,2\n")
        let old = Int(Date().timeIntervalSince1970) - 3600
        setModified(file, old)
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "k", cacheDirectory: scratch.cache)
        #expect(values(try lookup(source, "a")) == [["a", "old"]])
        #expect(scratch.indexFiles().count == 1)
        var stats = CSVReadStats()
        #expect(values(try source.rows(matching: "a", limit: 10, now: later(), stats: &stats)) == [["a", "old"]])
        #expect(stats.bytes < 200)  // the index answered (header, index words, one row), not a read of the whole file
        let index = scratch.cache + "/" + scratch.indexFiles()[0]
        let built = try FileManager.default.attributesOfItem(atPath: index)[.modificationDate] as? Date

        // A new key (rows are read afresh, so a new key is what an old index would miss).
        overwrite(file, at: 4, "x")  // same size, same inode
        setModified(file, old)       // and the mtime it had: only the ctime tells
        #expect(values(try lookup(source, "x", now: .now())) == [["x", "old"]])
        #expect(try lookup(source, "a", now: .now()).isEmpty)
        #expect(try lookup(source, "b", now: .now()).count == 1)
        // Changed just now: the old index was not replaced (nor used).
        #expect(try FileManager.default.attributesOfItem(atPath: index)[.modificationDate] as? Date == built)
        #expect(values(try lookup(source, "x")) == [["x", "old"]])  // rebuilt
        #expect(values(try lookup(source, "x")) == [["x", "old"]])  // from the new index

        // A change of size, the mtime set back again.
        overwrite(file, at: 12, "2x\nc,3\n")
        setModified(file, old)
        #expect(values(try lookup(source, "c")) == [["c", "3"]])
        #expect(values(try lookup(source, "c")) == [["c", "3"]])
        #expect(values(try lookup(source, "b")) == [["b", "2x"]])
        #expect(try lookup(source, "a").isEmpty)
    }

    @Test func aReplacedFileIsSeen() throws {
        // Written elsewhere and renamed over the old one (a new inode), everything else alike.
        let scratch = Scratch()
        let file = scratch.write("c.csv", "k,v\na,1\n")
        let old = Int(Date().timeIntervalSince1970) - 3600
        setModified(file, old)
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "k", cacheDirectory: scratch.cache)
        #expect(values(try lookup(source, "a")) == [["a", "1"]])
        let other = scratch.write("other.csv", "k,v\na,2\n")
        setModified(other, old)
        #expect(rename(other, file) == 0)
        #expect(values(try lookup(source, "a")) == [["a", "2"]])
    }

    @Test func anUnwritableCacheStillAnswers() throws {
        let scratch = Scratch()
        let file = scratch.write("c.csv", "k,v\na,1\na,2\n")
        setModified(file, Int(Date().timeIntervalSince1970) - 3600)
        _ = scratch.write("plain-file", "")
        // Not a folder whatever the user (root ignores permissions).
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "k",
                               cacheDirectory: scratch.path + "/plain-file/cache")
        for _ in 0..<2 {
            #expect(values(try lookup(source, "a")) == [["a", "1"], ["a", "2"]])
            #expect(try lookup(source, "b").isEmpty)
        }
    }

    @Test func aDamagedIndexIsNotUsed() throws {
        let scratch = Scratch()
        let file = scratch.write("c.csv", "k,v\na,1\nb,2\n")
        setModified(file, Int(Date().timeIntervalSince1970) - 3600)
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "k", cacheDirectory: scratch.cache)
        #expect(values(try lookup(source, "a")) == [["a", "1"]])
        let index = scratch.cache + "/" + scratch.indexFiles()[0]
        #expect(truncate(index, 100) == 0)
        #expect(values(try lookup(source, "b")) == [["b", "2"]])
    }

    @Test func multiLineRowsAndCollisionsAreVerified() throws {
        let scratch = Scratch()
        var text = "id,note\n"
        for i in 0..<3000 { text += "k\(i % 1000),\"line \(i)\r\nsecond, \"\"line\"\"\"\n" }
        let file = scratch.write("m.csv", text)
        setModified(file, Int(Date().timeIntervalSince1970) - 3600)
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "id", cacheDirectory: scratch.cache)
        for _ in 0..<2 {
            #expect(values(try lookup(source, "k7")) == [7, 1007, 2007].map { ["k7", "line \($0)\r\nsecond, \"line\""] })
            #expect(try lookup(source, "k7", limit: 2).count == 2)
            #expect(try lookup(source, "k1000").isEmpty)
        }
        // Whatever the index says, a row is only returned when its key is the key.
        let configuration = source.configurationHash
        let identity = try OpenFile(file).identity()
        try CSVIndex.write([(CSVIndex.hash("zzz".utf8), 8)], identity: identity, configuration: configuration,
                           to: scratch.cache + "/" + source.indexName(configuration))
        #expect(try lookup(source, "zzz").isEmpty)
        #expect(try lookup(source, "k0").isEmpty)  // not in that index: it is trusted for misses
    }

    /// By hand: CHATHOOKS_CSV_MEASURE=1 swift test -c release --filter CSVIndexTests/measure
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CHATHOOKS_CSV_MEASURE"] != nil))
    func measure() throws {
        let scratch = Scratch()
        var text = "email,name,address,phone,memo\n"
        for i in 0..<100_000 {
            text += "user\(i)@example.jp,山田 太郎 \(i),\"東京都千代田区丸の内\(i % 97)-\(i % 13)\",03-\(1000 + i % 9000)-\(i),メモ\(i % 7)\n"
        }
        let file = scratch.write("big.csv", text)
        setModified(file, Int(Date().timeIntervalSince1970) - 3600)
        let source = CSVSource(path: file, encoding: .utf8, matchColumn: "email", cacheDirectory: scratch.cache)
        let clock = ContinuousClock()
        var stats = CSVReadStats()
        let build = try clock.measure { _ = try source.rows(matching: "user5@example.jp", limit: 10, now: later(), stats: &stats) }
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        print("CSV measure: \(size) bytes, 100000 rows; first lookup (full read + index build): \(build), \(stats.reads) reads, \(stats.bytes) bytes")
        for key in ["user99999@example.jp", "user0@example.jp", "nobody@example.jp"] {
            var stats = CSVReadStats()
            var rows: [LookupRow] = []
            let time = try clock.measure { rows = try source.rows(matching: key, limit: 10, now: later(), stats: &stats) }
            print("CSV measure: lookup \(key): \(rows.count) rows, \(time), \(stats.reads) reads, \(stats.bytes) bytes")
        }
        let scan = CSVSource(path: file, encoding: .utf8, matchColumn: "email", cacheDirectory: nil)
        let full = try clock.measure { _ = try lookup(scan, "user99999@example.jp") }
        print("CSV measure: lookup without a cache: \(full)")
    }
}

extension Result where Success == String, Failure == LookupError {
    fileprivate var failureMessage: String? {
        if case .failure(let e) = self { return e.message }
        return nil
    }
    fileprivate var value: String? {
        if case .success(let s) = self { return s }
        return nil
    }
}

