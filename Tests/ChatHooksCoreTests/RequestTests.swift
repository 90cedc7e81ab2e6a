import Glibc
import Testing
@testable import ChatHooksCore

/// The CGI meta-variables, kept as bytes and looked up by name.
@Suite struct RequestVariablesTests {
    /// A NULL-terminated `NAME=value` block, as `environ` or a FastCGI request's envp.
    func withBlock<R>(_ entries: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        let copies = entries.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var block: [UnsafeMutablePointer<CChar>?] = copies + [nil]
        return block.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
    }

    @Test func looksUpEveryEntryOfABlock() {
        let v = withBlock(["REQUEST_METHOD=POST", "CONTENT_LENGTH=346", "HTTP_X_TOKEN=a=b=c", "EMPTY=", "QUERY_STRING=x"]) {
            Request.variables(fromBlock: $0)
        }
        #expect(v.count == 5)
        #expect(v["REQUEST_METHOD"] == "POST")
        #expect(v["CONTENT_LENGTH"] == "346")
        #expect(v["HTTP_X_TOKEN"] == "a=b=c")  // only the first `=` separates
        #expect(v["EMPTY"] == "")
        #expect(v["QUERY_STRING"] == "x")
        #expect(v["REQUEST"] == nil)            // a prefix of a name is not the name
        #expect(v["REQUEST_METHODS"] == nil)
        #expect(v["request_method"] == nil)     // names are case-sensitive
        #expect(v[""] == nil)
    }

    @Test func skipsEntriesWithoutAnEqualsSign() {
        let v = withBlock(["GARBAGE", "A=1", "=nameless"]) { Request.variables(fromBlock: $0) }
        #expect(v.count == 2)
        #expect(v["A"] == "1")
        #expect(v["GARBAGE"] == nil)
        #expect(v[""] == "nameless")
    }

    @Test func anEmptyOrMissingBlockHasNoEntries() {
        #expect(withBlock([]) { Request.variables(fromBlock: $0) }.count == 0)
        #expect(Request.variables(fromBlock: nil).count == 0)
    }

    @Test func keepsBytesThatAreNotUTF8AsReplacementCharacters() {
        let v = withBlock(["HTTP_X=caf\u{E9}"]) { Request.variables(fromBlock: $0) }
        #expect(v["HTTP_X"] == "café")
        var raw: [CChar] = Array("HTTP_Y=a".utf8CString.dropLast()) + [CChar(bitPattern: 0xFF), 0]
        let w = raw.withUnsafeMutableBufferPointer { buffer -> Request.Variables in
            var block: [UnsafeMutablePointer<CChar>?] = [buffer.baseAddress, nil]
            return block.withUnsafeMutableBufferPointer { Request.variables(fromBlock: $0.baseAddress!) }
        }
        #expect(w["HTTP_Y"] == "a\u{FFFD}")
    }

    @Test func settingReplacesAndNilRemoves() {
        var v = Request.Variables([("A", "1"), ("B", "22"), ("C", "333")])
        v["B"] = "two"
        #expect(v.count == 3)
        #expect(v["A"] == "1")
        #expect(v["B"] == "two")
        #expect(v["C"] == "333")
        v["A"] = nil
        #expect(v.count == 2)
        #expect(v["A"] == nil)
        #expect(v["B"] == "two")
        #expect(v["C"] == "333")   // entries after a removed one are still found whole
        v["D"] = "日本語"
        #expect(v["D"] == "日本語")
        v["Z"] = nil                // removing what is not there changes nothing
        #expect(v.count == 3)
    }

    @Test func laterPairsWinInTheArrayInitializer() {
        let v = Request.Variables([("A", "1"), ("A", "2")])
        #expect(v.count == 1)
        #expect(v["A"] == "2")
    }

    @Test func dictionaryInitializerKeepsEveryPair() {
        let r = Request(variables: ["REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json"])
        #expect(r.method == "POST")
        #expect(r.contentType == "application/json")
        #expect(r.contentLength == nil)
    }
}

@Suite struct EventTableTests {
    @Test func eachEventHasItsOwnSlot() throws {
        var table = EventTable()
        for event in ChatDealerEvent.allCases { #expect(table[event] == nil) }
        table[.chatEnd] = EventSettings(actions: [])
        table[.form] = EventSettings(actions: [.append(AppendSettings(path: try PathTemplate("/tmp/x.jsonl"), fsync: false))])
        #expect(table[.chatEnd] != nil)
        #expect(table[.form]?.actions.count == 1)
        for event in [ChatDealerEvent.chatStart, .chatMessage, .scenario] { #expect(table[event] == nil) }
        #expect(table.all.count == 2)
        #expect(table.all.last?.actions.count == 1)   // in allCases order: chat-end, then form
        table[.chatEnd] = nil
        #expect(table[.chatEnd] == nil)
        #expect(table.all.count == 1)
    }
}

@Suite struct StartupTests {
    /// CStartup replaces the runtime's argv lookup: the arguments must still be the process's own.
    @Test func commandLineArgumentsAreTheProcesssOwn() throws {
        let args = CommandLine.arguments
        #expect(!args.isEmpty)
        // /proc/self/cmdline is what the kernel recorded at exec: the same strings.
        let bytes = try Files.read("/proc/self/cmdline")
        let fromKernel = bytes.split(separator: 0, omittingEmptySubsequences: false).dropLast().map { String(decoding: $0, as: UTF8.self) }
        #expect(args == Array(fromKernel))
    }
}

@Suite struct BodyKindTests {
    func kind(_ contentType: String?, encoding: String? = nil) throws(HTTPError) -> BodyDecoder.Kind {
        var v = Request.Variables()
        if let contentType { v["CONTENT_TYPE"] = contentType }
        if let encoding { v["HTTP_CONTENT_ENCODING"] = encoding }
        return try BodyDecoder.kind(Request(variables: v))
    }

    @Test func mediaTypeIgnoresParametersCaseAndBlanks() {
        #expect(BodyDecoder.mediaType("Application/X-WWW-Form-URLencoded ; charset=UTF-8") == "application/x-www-form-urlencoded")
        #expect(BodyDecoder.mediaType(" \tapplication/json\t") == "application/json")
        #expect(BodyDecoder.mediaType(";charset=utf-8") == "")
        #expect(BodyDecoder.mediaType("   ") == "")
        #expect(BodyDecoder.mediaType("") == "")
        #expect(BodyDecoder.mediaType("TEXT/Ü") == "text/Ü")  // only ASCII letters are folded
    }

    @Test func formJsonAndMultipart() throws {
        #expect(try kind("application/x-www-form-urlencoded; charset=UTF-8") == .form)
        #expect(try kind("APPLICATION/X-WWW-FORM-URLENCODED") == .form)
        #expect(try kind("application/json") == .json)
        #expect(try kind("text/plain") == .json)
        #expect(try kind(nil) == .json)
        #expect(try kind("") == .json)
        #expect(throws: HTTPError.self) { try kind("Multipart/Form-Data; boundary=x") }
        #expect(try kind("application/json", encoding: "Identity") == .json)
        #expect(throws: HTTPError.self) { try kind("application/json", encoding: "gzip") }
    }
}

@Suite struct ResponseTests {
    @Test func cgiFormHasStatusHeadersLengthAndBody() {
        let r = Response(status: 202, contentType: "application/json", headers: [("X-Chathooks-Request-Id", "01ABC")],
                         body: Array("{\"ok\":true}\n".utf8))
        #expect(String(decoding: r.cgiBytes, as: UTF8.self) ==
                "Status: 202 Accepted\r\nContent-Type: application/json\r\nX-Chathooks-Request-Id: 01ABC\r\nContent-Length: 12\r\n\r\n{\"ok\":true}\n")
    }

    @Test func everyStatusWeSendHasItsReasonPhrase() {
        for (status, reason) in [(200, "OK"), (202, "Accepted"), (400, "Bad Request"), (401, "Unauthorized"), (404, "Not Found"),
                                 (405, "Method Not Allowed"), (411, "Length Required"), (413, "Content Too Large"),
                                 (415, "Unsupported Media Type"), (500, "Internal Server Error"), (503, "Service Unavailable")] {
            #expect(Response.reason(status) == reason)
            let head = String(decoding: Response(status: status).cgiBytes, as: UTF8.self)
            #expect(head == "Status: \(status) \(reason)\r\nContent-Length: 0\r\n\r\n")
        }
    }

    @Test func jsonAnswersCarryTheirTypeAndExtraHeaders() {
        let r = Response.json(405, .object(JSONObject([.init(key: "ok", value: .bool(false))])), headers: [("Allow", "POST")])
        #expect(String(decoding: r.cgiBytes, as: UTF8.self) ==
                "Status: 405 Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\nAllow: POST\r\nContent-Length: 13\r\n\r\n{\"ok\":false}\n")
    }

    @Test(arguments: [0, 7, 10, 99, 100, 1_048_576, Int.max, -5, -1_000])
    func decimalDigits(_ n: Int) {
        var out: [UInt8] = []
        digits(n, 1, into: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(n))
        out = []
        digits(n, 4, into: &out)
        let plain = String(n.magnitude)
        #expect(String(decoding: out, as: UTF8.self) == (n < 0 ? "-" : "") + String(repeating: "0", count: max(0, 4 - plain.count)) + plain)
    }
}

@Suite struct ASCIICaseTests {
    @Test func equalsIgnoringASCIICase() {
        #expect("TRUE".equalsIgnoringASCIICase("true"))
        #expect("True".equalsIgnoringASCIICase("true"))
        #expect("true".equalsIgnoringASCIICase("true"))
        #expect(!"tru".equalsIgnoringASCIICase("true"))
        #expect(!"truee".equalsIgnoringASCIICase("true"))
        #expect(!"trüe".equalsIgnoringASCIICase("true"))
        #expect(!"".equalsIgnoringASCIICase("true"))
        #expect("Authorization".equalsIgnoringASCIICase("authorization"))
        #expect(!"Authorizatio\u{0130}".equalsIgnoringASCIICase("authorization"))
    }

    @Test func hasPrefixIgnoringASCIICase() {
        #expect("http_x".hasPrefixIgnoringASCIICase("HTTP_"))
        #expect("HTTP_".hasPrefixIgnoringASCIICase("HTTP_"))
        #expect("Http_Token".hasPrefixIgnoringASCIICase("HTTP_"))
        #expect(!"HTTP".hasPrefixIgnoringASCIICase("HTTP_"))
        #expect(!"XHTTP_".hasPrefixIgnoringASCIICase("HTTP_"))
        #expect(!"".hasPrefixIgnoringASCIICase("HTTP_"))
    }

    @Test func headerNamesBecomeCGIVariableNames() {
        #expect(Request.metaVariableName(forHeader: "X-Chathooks-Token") == "HTTP_X_CHATHOOKS_TOKEN")
        #expect(Request.metaVariableName(forHeader: "authorization") == "HTTP_AUTHORIZATION")
        #expect(Request.metaVariableName(forHeader: "X_9") == "HTTP_X_9")
    }
}

@Suite struct SmallHelperTests {
    @Test func containsIgnoringASCIICase() {
        #expect("change-me".containsIgnoringASCIICase("change-me"))
        #expect("xx-CHANGE-ME-to-a-token".containsIgnoringASCIICase("change-me"))
        #expect("Change-Me".containsIgnoringASCIICase("change-me"))
        #expect(!"change-m".containsIgnoringASCIICase("change-me"))
        #expect(!"change_me".containsIgnoringASCIICase("change-me"))
        #expect(!"".containsIgnoringASCIICase("change-me"))
        #expect(!"ｃhange-me".containsIgnoringASCIICase("change-me"))  // a full-width letter is not ASCII
        #expect(ConfigDecoder.isPlaceholder("token-Change-Me-42"))
        #expect(!ConfigDecoder.isPlaceholder("3f9a0c1d2e4b5a6978c0d1e2f3a4b5c6"))
    }

    @Test func discardReadsUpToTheTotalAndStopsAtTheEnd() {
        var reader = BufferBodyReader(Array(repeating: 0x61, count: 70_000))
        _ = reader.read(count: 10)
        reader.discard(upTo: 66_000)           // more than one 64 KiB chunk
        #expect(reader.consumed == 66_000)
        #expect(reader.read(count: 10_000).count == 4_000)
        reader.discard(upTo: 1_000_000)        // input ends first
        #expect(reader.consumed == 70_000)
        reader.discard(upTo: 5)                // already past: nothing read
        #expect(reader.consumed == 70_000)
    }

    @Test func rfc5322Dates() {
        var t = tm()
        t.tm_year = 2026 - 1900; t.tm_mon = 10; t.tm_mday = 2; t.tm_wday = 1
        t.tm_hour = 7; t.tm_min = 5; t.tm_sec = 9; t.tm_gmtoff = 9 * 3600
        #expect(Timestamp.rfc5322(t) == "Mon, 2 Nov 2026 07:05:09 +0900")
        t.tm_gmtoff = -(3 * 3600 + 30 * 60)
        #expect(Timestamp.rfc5322(t) == "Mon, 2 Nov 2026 07:05:09 -0330")
    }
}

/// A reader that hands out at most `step` bytes per call, as a pipe may.
struct TrickleReader: BodyReader {
    var bytes: [UInt8]
    let step: Int
    var consumed = 0
    var asked: [Int] = []
    mutating func read(count: Int) -> [UInt8] {
        asked.append(count)
        let n = min(count, step, bytes.count - consumed)
        defer { consumed += n }
        return Array(bytes[consumed..<(consumed + n)])
    }
}

@Suite struct BodyReadTests {
    @Test(arguments: [1, 7, 65536])
    func aBodyInManyReadsIsReadWhole(step: Int) throws {
        let body = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var reader = TrickleReader(bytes: body, step: step)
        #expect(try BodyDecoder.read(&reader, length: body.count) == body)
        #expect(reader.asked.allSatisfy { $0 <= 65536 })
    }

    @Test func aShortBodyIsTruncatedAndNamed() {
        var reader = TrickleReader(bytes: Array(repeating: 0x61, count: 37), step: 10)
        do {
            _ = try BodyDecoder.read(&reader, length: 100)
            Issue.record("read")
        } catch {
            #expect(error.code == "truncated_body" && error.message.contains("after 37 of the 100 bytes"))
        }
    }

    @Test func anEmptyBodyReadsNothing() throws {
        var reader = TrickleReader(bytes: [], step: 1)
        #expect(try BodyDecoder.read(&reader, length: 0).isEmpty)
        #expect(reader.asked.isEmpty)
    }

    @Test func removingEntriesKeepsTheOthersWhole() {
        var v = Request.Variables([("A", "1"), ("B", "22"), ("C", "333")])
        v["C"] = nil
        #expect(v.bytes == Array("A1B22".utf8) && v.bounds == [0, 1, 2, 2, 3, 5])
        v["A"] = nil
        #expect(v.bytes == Array("B22".utf8) && v.bounds == [0, 1, 3])
        #expect(v["B"] == "22")
        v["B"] = nil
        #expect(v.count == 0 && v.bytes.isEmpty && v["B"] == nil)
        v["D"] = "4"
        #expect(v["D"] == "4" && v.count == 1)
    }
}
