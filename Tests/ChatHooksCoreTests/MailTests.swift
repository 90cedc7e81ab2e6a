import Glibc
import Testing
@testable import ChatHooksCore

@Suite struct TemplateTests {
    func render(_ t: String, _ json: String) throws -> String {
        try Template(t).render(try JSONParser.parse(json))
    }

    @Test func variablesSectionsAndInvertedSections() throws {
        let ctx = #"{"a":"A","n":3,"o":{"b":"B"},"list":[{"x":1},{"x":2}],"empty":[],"f":false,"s":""}"#
        #expect(try render("{{a}}-{{n}}-{{o.b}}-{{missing}}", ctx) == "A-3-B-")
        #expect(try render("{{#list}}[{{x}}{{a}}]{{/list}}", ctx) == "[1A][2A]")
        #expect(try render("{{#empty}}no{{/empty}}{{^empty}}yes{{/empty}}", ctx) == "yes")
        #expect(try render("{{#f}}no{{/f}}{{^f}}yes{{/f}}{{#s}}no{{/s}}", ctx) == "yes")
        #expect(try render("{{#o}}{{b}}{{/o}}", ctx) == "B")
        #expect(try render("{{#list}}{{.}}{{/list}}", #"{"list":["p","q"]}"#) == "pq")
        #expect(try render("{{! a comment }}{{{a}}}{{& a}}", ctx) == "AA")
    }

    @Test func standaloneTagsTakeTheirLineWithThem() throws {
        let t = "items:\n{{#list}}\n  - {{x}}\n{{/list}}\nend\n"
        #expect(try render(t, #"{"list":[{"x":1},{"x":2}]}"#) == "items:\n  - 1\n  - 2\nend\n")
        #expect(try render("a\n  {{! note }}\nb", "{}") == "a\nb")
    }

    @Test func syntaxErrorsAreFoundWhenParsed() {
        for bad in ["{{#a}}x", "{{/a}}", "{{#a}}{{/b}}", "{{a", "{{}}", "{{a b}}", "{{a..b}}"] {
            #expect(throws: Template.SyntaxError.self, "\(bad)") { try Template(bad) }
        }
    }

    @Test func nestingIsBounded() throws {
        let ok = String(repeating: "{{#a}}", count: Template.maxDepth) + "x" + String(repeating: "{{/a}}", count: Template.maxDepth)
        _ = try Template(ok)
        let deep = String(repeating: "{{#a}}", count: 40_000) + "x" + String(repeating: "{{/a}}", count: 40_000)
        #expect(throws: Template.SyntaxError.self) { try Template(deep) }
    }

    @Test func everyDefaultTemplateParses() throws {
        for kind in ReceiverKind.allCases {
            _ = try Template(DefaultTemplates.subject(for: kind.event))
            let body = try Template(DefaultTemplates.body(for: kind.event))
            // Each event has a mail of its own, not the fallback's one line.
            #expect(body.render(.object(JSONObject())).contains("\n--\nchathooks"), "\(kind)")
        }
    }
}

@Suite struct MIMETests {
    @Test(arguments: [
        ("user@example.jp", true), ("Name <user@example.jp>", true), ("\"Name, Inc\" <a.b+c@mail.example.co.jp>", true),
        ("山田 太郎 <yamada@example.jp>", true),
        ("a@b", false), ("a@@b.jp", false), ("a b@c.jp", false), (".a@b.jp", false), ("a..b@c.jp", false),
        ("a@b.jp, c@d.jp", false), ("a@b.jp\r\nBcc: x@y.jp", false), ("<a@b.jp> <c@d.jp>", false),
        ("a@-b.jp", false), ("\"x\ny\" <a@b.jp>", false), ("", false),
    ])
    func addresses(text: String, valid: Bool) {
        #expect((MailAddress(text) != nil) == valid, "\(text)")
    }

    func message(subject: String, from: String = "chathooks <noreply@example.jp>") -> String {
        let m = MIMEMessage(from: MailAddress(from)!, to: [MailAddress("担当 <ops@example.jp>")!, MailAddress("b@example.jp")!],
                            replyTo: nil, subject: subject, body: "本文\nline2", date: Timestamp(seconds: 1_700_000_000, nanoseconds: 0),
                            messageID: "ID.0@example.jp")
        return String(decoding: m.bytes, as: UTF8.self)
    }

    @Test func headerLinesStayWithin76ColumnsAndCarryNoInjectedHeader() {
        let long = String(repeating: "日本語の件名😀", count: 12) + "\r\nBcc: evil@example.com\nX-Evil: 1"
        let text = message(subject: long)
        let head = text.components(separatedBy: "\r\n\r\n")[0]
        for line in head.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 76, "\(line)")
            #expect(!line.hasPrefix("Bcc") && !line.hasPrefix("X-Evil"), "\(line)")
        }
        #expect(!head.contains("\n\n"))
        // Every encoded word decodes to whole UTF-8 characters.
        for word in head.split(whereSeparator: { $0 == " " || $0 == "\r\n" }) where word.hasPrefix("=?UTF-8?B?") {
            let b64 = word.dropFirst(10).dropLast(2)
            #expect(firstInvalidUTF8Offset(decodeBase64(String(b64))) == nil, "\(word)")
        }
    }

    @Test(arguments: [
        "a" + String(repeating: "\u{0301}", count: 2000),   // one "character" of 2,001 scalars
        "New chat " + String(repeating: "9", count: 1500),   // one ASCII word longer than a line
    ])
    func noHeaderLineIsLongerThan76EvenForHostileText(subject: String) {
        let head = message(subject: subject).components(separatedBy: "\r\n\r\n")[0]
        for line in head.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 76, "\(line.prefix(80))…")
        }
        // And it decodes back to exactly what was sent.
        let words = head.components(separatedBy: "\r\n").drop { !$0.hasPrefix("Subject:") }
            .prefix { $0.hasPrefix("Subject:") || $0.hasPrefix(" ") }
            .flatMap { $0.split(separator: " ") }.filter { $0.hasPrefix("=?UTF-8?B?") }
        let decoded = words.flatMap { decodeBase64(String($0.dropFirst(10).dropLast(2))) }
        #expect(String(decoding: decoded, as: UTF8.self) == subject)
    }

    @Test func asciiSubjectsStayReadableAndRequiredHeadersArePresent() {
        let text = message(subject: "Form answer #21252")
        #expect(text.contains("Subject: Form answer #21252\r\n"))
        #expect(text.contains("From: \"chathooks\" <noreply@example.jp>\r\n"))
        #expect(text.contains("To: =?UTF-8?B?5ouF5b2T?= <ops@example.jp>,\r\n b@example.jp\r\n") || text.contains("To: =?UTF-8?B?5ouF5b2T?= <ops@example.jp>, b@example.jp\r\n"))
        for h in ["Date: ", "Message-ID: <ID.0@example.jp>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=UTF-8",
                  "Content-Transfer-Encoding: base64"] {
            #expect(text.contains("\r\n" + h) || text.hasPrefix(h), "\(h)")
        }
        let body = text.components(separatedBy: "\r\n\r\n")[1]
        #expect(String(decoding: decodeBase64(body.replacingAll("\r\n", with: "")), as: UTF8.self) == "本文\r\nline2\r\n")
    }

    @Test func base64MatchesTheRFCVectors() {
        for (plain, encoded) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
        }
    }
}

func decodeBase64(_ s: String) -> [UInt8] {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    var out: [UInt8] = [], acc = 0, bits = 0
    for c in s.utf8 where c != UInt8(ascii: "=") {
        guard let v = alphabet.firstIndex(of: c) else { continue }
        acc = acc << 6 | v
        bits += 6
        if bits >= 8 { bits -= 8; out.append(UInt8((acc >> bits) & 0xFF)) }
    }
    return out
}

@Suite struct SubprocessTests {
    @Test func passesStdinArgumentsAndOnlyTheGivenEnvironment() throws {
        let r = try Subprocess(argv: ["/bin/sh", "-c", "cat; echo \" $1 $X ${HOME:-nohome}\"", "sh", "arg1"],
                               environment: ["X": "x-value", "PATH": "/bin:/usr/bin"], stdin: Array("in".utf8),
                               timeoutSeconds: 10).run()
        #expect(r.termination == .exited(0))
        #expect(String(decoding: r.stdout, as: UTF8.self) == "in arg1 x-value nohome\n")
    }

    @Test func reportsExitStatusSignalsAndTimeouts() throws {
        #expect(try Subprocess(argv: ["/bin/sh", "-c", "exit 3"], environment: [:], timeoutSeconds: 10).run().termination == .exited(3))
        #expect(try Subprocess(argv: ["/bin/sh", "-c", "kill -9 $$"], environment: [:], timeoutSeconds: 10).run().termination == .signalled(9))
        // The deadline kills the whole process group, children included.
        let slow = try Subprocess(argv: ["/bin/sh", "-c", "sleep 30 & sleep 30"], environment: [:], timeoutSeconds: 1).run()
        #expect(slow.termination == .timedOut(seconds: 1))
        #expect(throws: SystemError.self) { try Subprocess(argv: ["/nonexistent/sendmail"], environment: [:], timeoutSeconds: 1).run() }
    }

    @Test func boundsWhatItCaptures() throws {
        let r = try Subprocess(argv: ["/bin/sh", "-c", "head -c 100000 /dev/zero"], environment: [:], timeoutSeconds: 10,
                               captureLimit: 1000).run()
        #expect(r.termination == .exited(0))
        #expect(r.stdout.count == 1000 && r.truncated)
    }

    @Test func theChildInheritsNoOtherDescriptor() throws {
        // Not close-on-exec, and at a number no child opens for itself (3 could
        // be the descriptor `ls` uses to read /proc/self/fd).
        let opened = open("/dev/null", O_RDONLY)
        let fd = dup2(opened, 100)
        close(opened)
        #expect(fd == 100)
        defer { close(fd) }
        let r = try Subprocess(argv: ["/bin/sh", "-c", "ls /proc/self/fd"], environment: [:], timeoutSeconds: 10).run()
        let open = String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap { Int32($0) }
        #expect(!open.contains(fd), "\(open)")
    }

    @Test func aChildThatIgnoresItsInputDoesNotHangUs() throws {
        let big = [UInt8](repeating: 0x41, count: 1 << 20)
        let r = try Subprocess(argv: ["/bin/true"], environment: [:], stdin: big, timeoutSeconds: 10).run()
        #expect(r.termination == .exited(0))
    }
}

@Suite struct TemplateContextTests {
    func event(_ payload: String) throws -> AcceptedEvent {
        guard case .object(let object) = try JSONParser.parse(payload) else { throw TemplateContextTestError.notAnObject }
        return AcceptedEvent(record: JournalRecord(receivedAt: Timestamp(seconds: 1_764_547_200, nanoseconds: 0), source: "chatdealer",
                                                   event: "form", requestID: "01KBBG7S00REALREQUESTID000", remoteAddress: "192.0.2.1",
                                                   payload: object))
    }

    /// A payload cannot change what the mail says about the call: our own
    /// names win, and the payload's values stay reachable under `payload`.
    @Test func ourValuesWinOverPayloadFieldsOfTheSameName() throws {
        let e = try event(#"{"chat_id":"7","event_date":"2025/12/01 09:00:00","request_id":"01FAKE","source":"spoofed","event":"nope","received_at":"1999-01-01","#
                          + #""parameters":"forged","agree_optin":true,"agree_optin_text":"forged","payload":"inner"}"#)
        let footer = try Template("{{source}}/{{event}} {{request_id}} {{received_at}} {{agree_optin_text}} {{chat_id}}")
            .render(TemplateContext.make(e))
        #expect(footer == "chatdealer/form 01KBBG7S00REALREQUESTID000 \(e.record.receivedAt.rfc3339) はい 7")
        let theirs = try Template("{{payload.request_id}} {{payload.source}} {{payload.received_at}} {{payload.payload}} {{payload.agree_optin_text}}")
            .render(TemplateContext.make(e))
        #expect(theirs == "01FAKE spoofed 1999-01-01 inner forged")
        #expect(try Template("{{#parameters}}x{{/parameters}}").render(TemplateContext.make(e)) == "")
    }

    /// The default form mail's footer names the real request, never a forged one.
    @Test func theDefaultFooterNamesTheRealRequest() throws {
        let e = try event(#"{"chat_id":"7","visitor_id":"v","request_id":"01FAKE","source":"spoofed","item":[]}"#)
        let body = try Template(DefaultTemplates.body(for: "form")).render(TemplateContext.make(e))
        #expect(body.contains("chathooks chatdealer/form 01KBBG7S00REALREQUESTID000"), "\(body)")
        #expect(!body.contains("01FAKE") && !body.contains("spoofed"))
    }
}

@Suite struct SpaloMailTests {
    /// SPALO's データ送信 mail lists every answered item, in order, with the bot and the sender.
    @Test func theSendMailListsEveryItem() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let sample = try JSONParser.parse(try Files.read("/" + path + "/examples/samples/send.json"))
        let payload = try #require(sample.objectValue).removing(SpaloDatasetRequest.secretKeys)
        let record = JournalRecord(receivedAt: Timestamp(seconds: 1_764_547_200, nanoseconds: 0), source: "spalo", event: "send",
                                   webhook: "answers", requestID: "01KBBG7S00REALREQUESTID000", remoteAddress: "192.0.2.1", payload: payload)
        let event = AcceptedEvent(record: record)
        guard case .spaloSend(let send) = event.event else {
            Issue.record("the sample does not decode as a send event")
            return
        }
        #expect(send.data.map(\.title) == ["開始日", "終了時間"])
        let body = try Template(DefaultTemplates.body(for: "send")).render(TemplateContext.make(event))
        #expect(body.contains("ボット: 業務日報 (42)") && body.contains("送信者: 鈴木一郎 (123)"), "\(body)")
        #expect(body.contains("開始日: 2023年01月18日\n終了時間: 10時40分\n"), "\(body)")
        #expect(body.contains("chathooks spalo/send 01KBBG7S00REALREQUESTID000"))
    }
}

enum TemplateContextTestError: Error { case notAnObject }

