import Glibc
import Testing
@testable import ChatHooksCore

@Suite struct ActionTests {
    @Test func placeholdersCannotLeaveTheirFolder() throws {
        let t = try PathTemplate("/data/chats/{chat_id}.jsonl")
        #expect(t.placeholders == ["chat_id"])
        for (value, expected) in [
            ("21252", "/data/chats/21252.jsonl"),
            ("../../etc/passwd", "/data/chats/%2E.%2F..%2Fetc%2Fpasswd.jsonl"),
            ("..", "/data/chats/%2E..jsonl"),
            ("", "/data/chats/_.jsonl"),
            ("a\\b\u{0}c\nd%", "/data/chats/a%5Cb%00c%0Ad%25.jsonl"),
            ("user@example.jp", "/data/chats/user@example.jp.jsonl"),
            ("山田", "/data/chats/山田.jsonl"),
        ] {
            let path = try t.render { _ in value }
            #expect(path == expected)
            #expect(Files.directoryName(path) == "/data/chats")
        }
        #expect(throws: PathTemplate.Invalid.self) { try t.render { _ in String(repeating: "x", count: 200) } }
    }

    @Test func templateSyntax() {
        for bad in ["a/{x", "a/x}", "a/{}", "a/{x y}", "a/{x/y}"] {
            #expect(throws: PathTemplate.Invalid.self, "\(bad)") { try PathTemplate(bad) }
        }
    }

    @Test func datasetValuesAreCutAtCharacterBoundaries() {
        #expect(DatasetReply.cut(String(repeating: "あ", count: 60)) == String(repeating: "あ", count: 50))
        #expect(DatasetReply.cut("短い") == "短い")
        // An emoji is two UTF-16 units: 49 ASCII + 😀 would be 51 units, so the emoji goes.
        let s = String(repeating: "a", count: 49) + "😀b"
        #expect(DatasetReply.cut(s) == String(repeating: "a", count: 49))
        // か + combining dakuten is one character of two UTF-16 units: kept whole or dropped whole.
        let combining = String(repeating: "a", count: 49) + "か\u{3099}"
        #expect(DatasetReply.cut(combining) == String(repeating: "a", count: 49))
        let fits = String(repeating: "a", count: 48) + "か\u{3099}" + "z"
        #expect(DatasetReply.cut(fits) == String(repeating: "a", count: 48) + "か\u{3099}")
    }

    @Test func datasetReplyShape() {
        let many = (0..<250).map { LookupField(name: "k\($0)", value: "v") }
        let r = DatasetReply.response(many, emptyMessage: "none")
        #expect(r.status == 200)
        let body = try? JSONParser.parse(r.body)
        #expect(body?["type"] == .string("dataset"))
        #expect(body?["actions"]?.arrayValue?.count == 200)
        let empty = DatasetReply.response([], emptyMessage: "設定できるデータがありません。")
        #expect(empty.status == 400)
        #expect(String(decoding: empty.body, as: UTF8.self) == #"{"type":"text","text":"設定できるデータがありません。"}"# + "\n")
    }

    @Test func appendWritesTheEventLineIntoTheTemplatedFile() throws {
        let dir = try TemporaryDirectory()
        let record = JournalRecord(receivedAt: .now(), source: "chatdealer", event: "chat-end", requestID: RequestID.make(),
                                   remoteAddress: "127.0.0.1",
                                   payload: JSONObject([.init(key: "chat_id", value: .string("../x"))]))
        let event = AcceptedEvent(record: record)
        let action = AppendAction(settings: AppendSettings(path: try PathTemplate(dir.path + "/chats/{event}-{chat_id}.jsonl"), fsync: false))
        _ = try action.run(event)
        _ = try action.run(event)
        let text = try #require(dir.read("chats/chat-end-%2E.%2Fx.jsonl"))
        #expect(text == String(decoding: event.line + event.line, as: UTF8.self))
    }

    /// `replay --only mail` must run the mail as the same mail: its place in
    /// the configured list (spool file name, Message-ID) does not change.
    @Test func actionsRunWithOnlyKeepTheirPlaceInTheList() throws {
        let dir = try TemporaryDirectory()
        let record = JournalRecord(receivedAt: .now(), source: "chatdealer", event: "form", requestID: RequestID.make(),
                                   remoteAddress: "127.0.0.1", payload: JSONObject([.init(key: "chat_id", value: .string("1"))]))
        let address = try #require(MailAddress("shop@example.jp"))
        let mail = MailSettings(from: address, envelopeSender: address.address, to: [address], subject: try Template("s"),
                                body: try Template("b"), replyToItem: nil, sendmail: dir.path + "/no-such-sendmail",
                                timeout: 5, spool: dir.path + "/spool")
        let settings: [ActionSettings] = [.append(AppendSettings(path: try PathTemplate(dir.path + "/a.jsonl"), fsync: false)), .mail(mail)]
        let results = ActionRunner.run(settings, AcceptedEvent(record: record), only: "mail")
        #expect(results.failures.isEmpty && results.deferred.count == 1)
        #expect(dir.read("a.jsonl") == nil)  // the append action was skipped
        let spooled = try #require(dir.read("spool/\(record.requestID)-1.mail"))
        #expect(spooled.contains("\(record.requestID).1@"))
    }

    /// The journal's times read back (replay): what `rfc3339` writes round-trips,
    /// and nothing malformed is taken for a time.
    @Test func rfc3339ReadsBackWhatIsWrittenAndNothingElse() throws {
        for seconds in [0, 1_700_000_000, 1_234_567_890] {
            let t = Timestamp(seconds: seconds, nanoseconds: 123_000_000)
            let back = try #require(Timestamp(rfc3339: t.rfc3339))
            #expect(back.seconds == seconds && back.nanoseconds == 123_000_000, "\(t.rfc3339)")
        }
        #expect(Timestamp(rfc3339: "2023-11-15T07:13:20+09:00")?.seconds == 1_700_000_000)
        #expect(Timestamp(rfc3339: "2023-11-14T22:13:20Z")?.seconds == 1_700_000_000)
        #expect(Timestamp(rfc3339: "2023-11-14T22:13:20.5Z")?.nanoseconds == 500_000_000)
        #expect(Timestamp(rfc3339: "2023-11-14T18:43:20.000-03:30")?.seconds == 1_700_000_000)
        for bad in ["2023-11-14T22:13:20", "2023-11-14T22:13:20.123", "2023-11X14T22:13:20Z", "2023-11-14T22-13:20Z",
                    "2023-11-14T22:13:20+0900", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zx", "2023-11-14 22:13:20Z", ""] {
            #expect(Timestamp(rfc3339: bad) == nil, "\(bad)")
        }
    }

    @Test func requestIDsAreULIDsInTimeOrder() {
        let a = RequestID.make(at: Timestamp(seconds: 1_700_000_000, nanoseconds: 0))
        let b = RequestID.make(at: Timestamp(seconds: 1_700_000_001, nanoseconds: 0))
        #expect(a.count == 26 && b.count == 26)
        #expect(a < b)
        #expect(a.allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains($0) })
        #expect(RequestID.make() != RequestID.make())
        // The time prefix encodes the milliseconds (ULID spec: 10 characters).
        #expect(RequestID.make(at: Timestamp(seconds: 0, nanoseconds: 0)).hasPrefix("0000000000"))
    }

    @Test func timestampsAreRFC3339WithOffset() {
        let s = Timestamp(seconds: 1_700_000_000, nanoseconds: 123_000_000).rfc3339
        let pattern = s.utf8.count == 29 && s.contains("T") && s.contains(".123")
        #expect(pattern, "\(s)")
        #expect(["+", "-"].contains(String(s.dropFirst(23).prefix(1))), "\(s)")
        // The exact text, from broken-down times with known offsets.
        func at(_ y: Int32, _ mo: Int32, _ d: Int32, _ h: Int32, _ mi: Int32, _ sec: Int32, offset: Int) -> tm {
            var t = tm()
            t.tm_year = y - 1900; t.tm_mon = mo - 1; t.tm_mday = d
            t.tm_hour = h; t.tm_min = mi; t.tm_sec = sec; t.tm_gmtoff = offset
            return t
        }
        #expect(Timestamp.rfc3339(at(2023, 11, 15, 7, 13, 20, offset: 9 * 3600), nanoseconds: 123_456_789) == "2023-11-15T07:13:20.123+09:00")
        #expect(Timestamp.rfc3339(at(2026, 1, 2, 3, 4, 5, offset: 0), nanoseconds: 7_000_000) == "2026-01-02T03:04:05.007+00:00")
        #expect(Timestamp.rfc3339(at(1999, 12, 31, 23, 59, 59, offset: -(3 * 3600 + 30 * 60)), nanoseconds: 999_999_999) == "1999-12-31T23:59:59.999-03:30")
        #expect(Timestamp.rfc3339(at(987, 6, 7, 0, 0, 0, offset: 5 * 3600 + 45 * 60), nanoseconds: 0) == "0987-06-07T00:00:00.000+05:45")
    }
}

@Suite struct LogTests {
    @Test func oneCallIsOneLogLine() {
        let line = String(decoding: logLine("bad \"2020\nchathooks: forged\r\u{7F}\""), as: UTF8.self)
        #expect(line == "chathooks: bad \"2020\\x0Achathooks: forged\\x0D\\x7F\"\n")
        // NEL and the Unicode line separators end lines in some log viewers too.
        let unicode = String(decoding: logLine("a\u{85}b\u{2028}c\u{2029}d é"), as: UTF8.self)
        #expect(unicode == "chathooks: a\\u{85}b\\u{2028}c\\u{2029}d é\n")
    }
}

@Suite struct RoutingTests {
    @Test(arguments: [
        ("/hooks/chatdealer/chat-start", ReceiverKind.chatStart),
        ("/chatdealer/form", .form),
        ("chatdealer/chat-end/", .chatEnd),
        ("/x/chathooks.cgi/spalo/dataset", .spaloDataset),
        ("/hooks/spalo/search", .spaloSearch),
        ("/hooks/spalo/send", .spaloSend),
    ])
    func pathsNameTheirReceiverKind(path: String, endpoint: ReceiverKind) {
        #expect(ReceiverKind(path: path) == endpoint)
    }

    @Test(arguments: ["", "/", "/chatdealer", "/spalo/lookup", "/chatdealer/dataset", "/hooks/chatdealer/chat-start/x",
                      "/chatdealer/../chat-start", "/CHATDEALER/form"])
    func otherPathsNameNone(path: String) {
        #expect(ReceiverKind(path: path) == nil)
    }

    @Test func executableNamesNameTheirReceiver() {
        #expect(ReceiverKind(executableName: "/opt/x/chatdealer-form.cgi") == .form)
        #expect(ReceiverKind(executableName: "spalo-dataset.fcgi") == .spaloDataset)
        #expect(ReceiverKind(executableName: "chathooks") == nil)
    }
}

@Suite struct CrashGuardTests {
    /// Both fixed answers are whole CGI responses whose Content-Length is their
    /// body's: our 500, and SPALO's 400 text (SPALO shows a 500 as a broken bot).
    @Test(arguments: [(CrashGuard.response, "500"), (CrashGuard.spaloResponse, "400")])
    func theFixedResponsesAreWholeCGIResponses(response: StaticString, status: String) throws {
        let text = String(decoding: UnsafeBufferPointer(start: response.utf8Start, count: response.utf8CodeUnitCount), as: UTF8.self)
        let parts = text.components(separatedBy: "\r\n\r\n")
        #expect(parts.count == 2)
        #expect(parts[0].hasPrefix("Status: \(status) "))
        #expect(parts[0].contains("Content-Length: \(parts[1].utf8.count)\r\n") || parts[0].hasSuffix("Content-Length: \(parts[1].utf8.count)"))
        let body = try JSONParser.parse(parts[1])
        if status == "500" {
            #expect(body["ok"] == .bool(false) && body["error"] == .string("internal_error"))
        } else {
            #expect(body == .object(JSONObject([.init(key: "type", value: .string("text")),
                                               .init(key: "text", value: .string(SpaloSettings.defaultErrorText))])))
        }
    }
}

@Suite struct RegistryTests {
    /// Package.swift, the Makefile and the test servers build and serve the
    /// executables scripts/receivers.txt lists: it must name exactly the
    /// registry's receivers, in its order.
    @Test func receiversFileNamesEveryReceiverOfTheRegistry() throws {
        let repo = String(#filePath).split(separator: "/").dropLast(3).joined(separator: "/")
        let text = String(decoding: try Files.read("/" + repo + "/scripts/receivers.txt"), as: UTF8.self)
        #expect(text.split(separator: "\n").map(String.init) == ReceiverKind.allCases.map(\.executableName))
    }

    @Test func everyKindHasItsOwnRouteAndFindsItselfByIt() {
        let routes = ReceiverKind.allCases.map(\.route)
        #expect(Set(routes).count == routes.count)
        for kind in ReceiverKind.allCases {
            #expect(ReceiverKind(path: "/hooks/" + kind.route) == kind)
            #expect(ReceiverKind(executableName: kind.executableName + ".cgi") == kind)
            #expect(ReceiverKind(source: kind.source, event: kind.event) == kind)
        }
    }
}
