@testable import ChatHooksConsole
@testable import ChatHooksCore
import Glibc
import XCTest

/// The console's pieces on their own: escaping, the backward reader, the
/// line heads, the text search, the login throttle. (Through the built
/// executable and a browser: Tests/handler/test_console.py, Tests/console.)
final class ConsoleTests: XCTestCase {
    func testTextIsEscapedForEveryContext() {
        var h = HTML()
        h.text("<script>\"a\" & 'b'</script>\u{0}\u{1B}\n")
        XCTAssertEqual(String(decoding: h.bytes, as: UTF8.self), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;\u{2400}\u{241B}\n")
        var a = HTML()
        a.attribute("value", "\"><img src=x onerror=alert(1)>")
        XCTAssertEqual(String(decoding: a.bytes, as: UTF8.self), " value=\"&quot;&gt;&lt;img src=x onerror=alert(1)&gt;\"")
        var l = HTML()
        l.link("event", [("id", "a&b c/\"d"), ("at", ""), ("q", "日本")])
        XCTAssertEqual(String(decoding: l.bytes, as: UTF8.self), " href=\"event?id=a%26b%20c%2F%22d&amp;q=%E6%97%A5%E6%9C%AC\"")
        XCTAssertTrue(HTML.hasBidiControl("abc\u{202E}fdp.exe"))
        XCTAssertFalse(HTML.hasBidiControl("普通の文字"))
    }

    func testBackwardReaderGivesWholeLinesNewestFirst() throws {
        let path = NSTemporaryPath("backward")
        defer { unlink(path) }
        var text = ""
        var expected: [(String, Int)] = []
        for i in 0..<500 {
            let line = String(repeating: "x", count: (i * 37) % 300) + "#\(i)"
            expected.append((line, text.utf8.count))
            text += line + "\n"
            if i == 100 { text += "\n" }  // an empty line is skipped
        }
        text += "a line still being written"
        try Files.replace(path, with: Array(text.utf8))
        for piece in [7, 64, 1 << 16] {
            var got: [(String, Int)] = []
            BackwardReader.lines(path: path, piece: piece) { line, start in
                got.append((String(decoding: line, as: UTF8.self), start))
                return true
            }
            XCTAssertTrue(got.map(\.0) == expected.reversed().map(\.0), "piece \(piece): the lines")
            XCTAssertTrue(got.map(\.1) == expected.reversed().map(\.1), "piece \(piece): the offsets of the lines' starts")
        }
        // From a line's start: the lines before it only, and stopping when asked.
        let cut = expected[10].1
        var some: [String] = []
        BackwardReader.lines(path: path, before: cut, piece: 16) { line, _ in
            some.append(String(decoding: line, as: UTF8.self))
            return some.count < 3
        }
        XCTAssertEqual(some, [expected[9].0, expected[8].0, expected[7].0])
    }

    func testLineHeadReadsTheFixedFields() {
        let record = JournalRecord(receivedAt: Timestamp(rfc3339: "2026-12-01T09:00:00.123+09:00")!, source: "spalo", event: "send",
                                   webhook: "answers", requestID: "01M8S14CRRASDB812W3CFC71QD", remoteAddress: "127.0.0.1",
                                   payload: JSONObject())
        let head = JournalLineHead(record.line[...])
        XCTAssertEqual(head?.receivedAt, record.receivedAt.rfc3339)
        XCTAssertEqual(head?.date, record.receivedAt.rfc3339.prefix(10))
        XCTAssertEqual(head?.source, "spalo")
        XCTAssertEqual(head?.webhook, "answers")
        XCTAssertEqual(head?.requestID, "01M8S14CRRASDB812W3CFC71QD")
        // A field in another form (an escape) is left to the full parser.
        XCTAssertNil(JournalLineHead(Array("{\"received_at\":\"x\\\"\",\"source\":\"a\"".utf8)[...]))
    }

    func testTextSearchMatchesValuesNotKeys() throws {
        let value = try JSONParser.parse(Array("{\"chat_id\":\"Ab12\",\"item\":[{\"item_name\":\"氏名\",\"item_value\":\"山田 \\\"太郎\\\"\"}]}".utf8))
        let record = JournalRecord(receivedAt: Timestamp(seconds: 0), source: "chatdealer", event: "form", requestID: "R1",
                                   remoteAddress: "", payload: value.objectValue!)
        let line = record.line[...]
        for q in ["ab12", "AB12", "山田", "\"太郎\"", "R1"] {
            let s = TextSearch(q)
            XCTAssertTrue(s.mayMatch(line), q)
            XCTAssertTrue(s.matches(record), q)
        }
        for q in ["chat_id", "item_name", "佐藤"] { XCTAssertFalse(TextSearch(q).matches(record), q) }
    }

    func testSearchAndLimitsOnBytes() {
        let hay = Array("xxAbC aBd abcd 日本語 a\"b".utf8)[...]
        for (needle, found) in [("abcd", true), ("ABD", true), ("abce", false), ("日本", true), ("本語 a", true), ("a\"b", true), ("zz", false)] {
            XCTAssertEqual(TextSearch.contains(hay, TextSearch.fold(Array(needle.utf8))), found, needle)
        }
        XCTAssertTrue(TextSearch.exact(hay, Array("aBd".utf8)))
        XCTAssertFalse(TextSearch.exact(hay, Array("abd".utf8)))
        // A line's time against a limit: as bytes with the same offset, else parsed.
        let t = Timestamp(seconds: 1_800_000_000)
        let limit = TimeLimit(seconds: t.seconds)
        XCTAssertTrue(limit.isOlder(Array(Timestamp(seconds: t.seconds - 1).rfc3339.utf8)[...]))
        XCTAssertFalse(limit.isOlder(Array(Timestamp(seconds: t.seconds + 1).rfc3339.utf8)[...]))
        XCTAssertTrue(limit.isOlder(Array("2020-01-01T00:00:00.000+09:00".utf8)[...]))
        XCTAssertFalse(limit.isOlder(Array("2099-01-01T00:00:00-05:00".utf8)[...]))
        let ids = IDSet(["01A", "01C", "01B"])
        XCTAssertTrue(ids.contains(Array("01B".utf8)[...]))
        XCTAssertFalse(ids.contains(Array("01D".utf8)[...]))
    }

    func testARequestIDSaysWhenItWasMade() {
        let t = Timestamp(seconds: 1_800_000_123, nanoseconds: 456_000_000)
        XCTAssertEqual(RequestID.milliseconds(of: RequestID.make(at: t)), t.milliseconds)
        XCTAssertNil(RequestID.milliseconds(of: "not-an-id"))
        XCTAssertNil(RequestID.milliseconds(of: String(repeating: "U", count: 26)))  // U is not Crockford's
    }

    func testThrottleLocksAfterFiveAndForgetsOnSuccess() {
        let folder = NSTemporaryPath("throttle")
        mkdir(folder, 0o700)
        defer { unlink(folder + "/logins"); rmdir(folder) }
        let t = LoginThrottle(folder: folder)
        let now = Timestamp.now().seconds
        for _ in 0..<4 { _ = t.begin("198.51.100.1", now: now) }
        XCTAssertEqual(t.lockedFor("198.51.100.1", now: now), 0)
        _ = t.begin("198.51.100.1", now: now)
        XCTAssertEqual(t.lockedFor("198.51.100.1", now: now), LoginThrottle.window)
        // Five tries begun side by side, none finished: the sixth is refused before its password is looked at.
        for _ in 0..<5 { XCTAssertEqual(t.begin("198.51.100.9", now: now), 0) }
        XCTAssertGreaterThan(t.begin("198.51.100.9", now: now), 0)
        XCTAssertEqual(t.lockedFor("198.51.100.2", now: now), 0)
        // After the window, the address may try again.
        XCTAssertEqual(t.lockedFor("198.51.100.1", now: now + LoginThrottle.window), 0)
        t.succeeded("198.51.100.2", now: now)
        for _ in 0..<4 { _ = t.begin("198.51.100.3", now: now) }
        t.succeeded("198.51.100.3", now: now)
        _ = t.begin("198.51.100.3", now: now)
        XCTAssertEqual(t.lockedFor("198.51.100.3", now: now), 0)
        // The window is 15 minutes, not a chain: five failures ten minutes apart never lock.
        for k in 0..<5 { XCTAssertEqual(t.begin("198.51.100.4", now: now + k * 600), 0, "try \(k)") }
        XCTAssertEqual(t.lockedFor("198.51.100.4", now: now + 2400), 0)
        // IPv6 counts by its /64; an IPv4 address written as IPv6 is itself.
        XCTAssertEqual(LoginThrottle.key("2001:db8:1:2:aaaa::1"), LoginThrottle.key("2001:db8:1:2:ffff::9"))
        XCTAssertNotEqual(LoginThrottle.key("2001:db8:1:2::1"), LoginThrottle.key("2001:db8:1:3::1"))
        XCTAssertEqual(LoginThrottle.key("::ffff:192.0.2.7"), "192.0.2.7")
        // An address cannot pass itself off as everyone.
        XCTAssertEqual(LoginThrottle.key("*"), "-")
        XCTAssertEqual(LoginThrottle.key("a b\nc"), "abc")
    }

    func testTokensAreRandomHexAndComparedWhole() {
        let a = Secure.randomHex(32), b = Secure.randomHex(32)
        XCTAssertTrue(Secure.isToken(a))
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(Secure.equal(a, a))
        XCTAssertFalse(Secure.equal(a, b))
        XCTAssertFalse(Secure.equal(a, String(a.dropLast())))
        XCTAssertFalse(Secure.equal("", ""))
        XCTAssertFalse(Secure.isToken("../" + String(a.dropFirst(3))))
        XCTAssertEqual(Secure.hashHex("abc").utf8.count, 32)
        XCTAssertNotEqual(Secure.hashHex(a), a)
    }

    private func NSTemporaryPath(_ name: String) -> String {
        "/tmp/chathooks-console-test-\(getpid())-\(name)"
    }
}
