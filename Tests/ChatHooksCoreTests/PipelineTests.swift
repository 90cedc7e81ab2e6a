import Testing
@testable import ChatHooksCore

/// The request path with a real config and journal in a temporary folder, and
/// bodies from memory: every class of bad input maps to its status, and only
/// accepted events reach the journal.
@Suite struct PipelineTests {
    static let token = "pipeline-token-0123456789"
    let dir: TemporaryDirectory
    let config: Config

    init() throws {
        dir = try TemporaryDirectory()
        let text = """
        {
          journal: { path: "journal.jsonl", fsync: false },
          limits: { maxBodyBytes: 4096 },
          chatdealer: {
            auth: { header: "X-Chathooks-Token", tokens: ["\(Self.token)"] },
            events: { "chat-start": {}, "chat-end": { actions: [ { type: "append", path: "chats/{chat_id}.jsonl" } ] },
                      "chat-message": {}, "scenario": {}, "form": {} },
          },
          spalo: { webhookKey: "KEY", clientSecret: "U*U", dataset: { static: [ { key: "k", value: "v" } ] } },
        }
        """
        try dir.write("chathooks.json5", text)
        config = try ConfigLoader.load(path: dir.path + "/chathooks.json5")
    }

    func run(_ kind: ReceiverKind = .chatStart, method: String = "POST", body: [UInt8],
             length: String?? = .some(nil), type: String? = nil, headers: [String: String]? = nil,
             config: ConfigOutcome? = nil) -> Response {
        var v = ["REQUEST_METHOD": method, "REMOTE_ADDR": "192.0.2.1"]
        switch length {
        case .some(nil): v["CONTENT_LENGTH"] = String(body.count)
        case .some(let l?): v["CONTENT_LENGTH"] = l
        case .none: break
        }
        if let type { v["CONTENT_TYPE"] = type }
        for (k, value) in headers ?? ["X-Chathooks-Token": Self.token] { v[Request.metaVariableName(forHeader: k)] = value }
        var reader = BufferBodyReader(body)
        let loaded = config ?? .loaded(self.config)
        return Router.fixed(kind).respond(to: Request(variables: v), body: &reader) { _ in loaded }
    }

    var journalLines: [String] {
        (dir.read("journal.jsonl") ?? "").split(separator: "\n").map(String.init)
    }

    static let valid = Array(VendorSamples.chatStart.utf8)
    /// OpenBSD's bcrypt test vector: the hash of "U*U".
    static let uuHash = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"

    @Test func acceptsAndJournalsBeforeAnswering() throws {
        let r = run(body: Self.valid)
        #expect(r.status == 200)
        let body = try JSONParser.parse(r.body)
        let id = try #require(body["id"]?.stringValue)
        #expect(body["ok"] == .bool(true))
        #expect(journalLines.count == 1)
        let line = try JSONParser.parse(journalLines[0])
        #expect(line.objectValue?.keys == ["received_at", "source", "event", "request_id", "remote_addr", "payload"])
        #expect(line["request_id"] == .string(id))
        #expect(line["source"] == .string("chatdealer"))
        #expect(line["event"] == .string("chat-start"))
        #expect(line["remote_addr"] == .string("192.0.2.1"))
        #expect(line["payload"] == (try JSONParser.parse(Self.valid)))
    }

    @Test(arguments: [
        // (name, method, body, Content-Length ("auto" = the body's, nil = none), Content-Type, status, error code)
        ("wrong method", "GET", "", "0", nil, 405, "method_not_allowed"),
        ("no length", "POST", "{}", nil, nil, 411, "length_required"),
        ("bad length", "POST", "{}", "-2", nil, 400, "invalid_length"),
        ("huge length", "POST", "{}", "99999999999999999999999", nil, 413, "body_too_large"),
        ("over the limit", "POST", "{}", "4097", nil, 413, "body_too_large"),
        ("truncated", "POST", "{\"a\":1}", "100", nil, 400, "truncated_body"),
        ("empty", "POST", "", "0", nil, 400, "empty_body"),
        ("empty object", "POST", "{}", "auto", nil, 400, "invalid_field"),
        ("invalid UTF-8", "POST", "{\"a\":\"\u{FFFD}\"}", "auto", nil, 400, "invalid_utf8"),
        ("invalid JSON", "POST", "{\"a\":", "auto", nil, 400, "invalid_json"),
        ("array", "POST", "[1]", "auto", nil, 400, "invalid_json"),
        ("string", "POST", "\"x\"", "auto", nil, 400, "invalid_json"),
        ("wrong type", "POST", #"{"event_date":"2020/12/10 15:29:08","chat_id":true}"#, "auto", nil, 400, "invalid_field"),
        ("missing field", "POST", #"{"event_date":"2020/12/10 15:29:08"}"#, "auto", nil, 400, "invalid_field"),
        ("multipart", "POST", "{}", "auto", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
        ("duplicate key", "POST", #"{"chat_id":"1","chat_id":"2"}"#, "auto", nil, 400, "invalid_json"),
    ] as [(String, String, String, String?, String?, Int, String)])
    func badInputGetsItsStatusAndNothingIsJournaled(
        name: String, method: String, body: String, length: String?, type: String?, status: Int, code: String
    ) throws {
        var bytes = Array(body.utf8)
        if name == "invalid UTF-8" { bytes = [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D] }
        let r = run(method: method, body: bytes, length: length == "auto" ? .some(nil) : length.map { .some($0) } ?? .none, type: type)
        #expect(r.status == status, "\(name)")
        let json = try JSONParser.parse(r.body)
        #expect(json["ok"] == .bool(false))
        #expect(json["error"] == .string(code), "\(name): \(json)")
        let message = json["message"]?.stringValue ?? ""
        #expect(message.count > 10)
        if status == 405 { #expect(r.headers.contains { $0.name == "Allow" && $0.value == "POST" }) }
        #expect(journalLines.isEmpty, "\(name) reached the journal")
    }

    @Test func tokenIsCheckedBeforeTheBodyIsRead() throws {
        // With a wrong token even an oversized body is refused as 401, unread.
        let r = run(body: Self.valid, length: "99999999", headers: ["X-Chathooks-Token": "wrong"])
        #expect(r.status == 401)
        #expect(!String(decoding: r.body, as: UTF8.self).contains(Self.token))
        #expect(run(body: Self.valid, headers: [:]).status == 401)
        #expect(journalLines.isEmpty)
    }

    @Test func notConfiguredIsA503AndNeverOpen() throws {
        let missing = ConfigError(path: "/x", problems: ["no configuration file here"], kind: .missing)
        let r = run(body: Self.valid, config: .failed(missing))
        #expect(r.status == 503)
        #expect(try JSONParser.parse(r.body)["error"] == .string("not_configured"))
        // An invalid file says so, and nothing of its problems.
        let invalid = ConfigError(path: "/x", problems: ["spalo.webhookKey: still the example's placeholder"])
        let i = run(body: Self.valid, config: .failed(invalid))
        #expect(i.status == 503)
        #expect(try JSONParser.parse(i.body)["error"] == .string("invalid_config"))
        #expect(try JSONParser.parse(i.body)["message"]?.stringValue?.hasPrefix("the configuration file is invalid") == true)
        #expect(!String(decoding: i.body, as: UTF8.self).contains("webhookKey"))
        // A problem in SPALO's block does not stop Chat Dealer's receivers, and stops SPALO's.
        var spaloBroken = config
        spaloBroken.spaloProblems = ["spalo.clientSecret: still the example's placeholder"]
        #expect(run(body: Self.valid, config: .loaded(spaloBroken)).status == 200)
        var chatdealerBroken = config
        chatdealerBroken.chatdealerProblems = ["chatdealer.events.form.actions[0].to: is required"]
        let b = run(body: Self.valid, config: .loaded(chatdealerBroken))
        #expect(b.status == 503)
        #expect(try JSONParser.parse(b.body)["error"] == .string("invalid_config"))
        // An event missing from the config's events is not received either.
        var partial = config
        partial.chatdealer?.events[.form] = nil
        #expect(run(.form, body: Array(VendorSamples.form.utf8), config: .loaded(partial)).status == 503)
        #expect(journalLines.count == 1)  // the one SPALO's broken block did not stop
    }

    @Test func journalFailureIsA500AndRunsNothing() throws {
        var broken = config
        broken.journal.path = dir.path + "/journal.jsonl/not-a-folder/x"
        try dir.write("journal.jsonl", "")
        let r = run(.chatEnd, body: Array(VendorSamples.chatEnd.utf8), config: .loaded(broken))
        #expect(r.status == 500)
        #expect(try JSONParser.parse(r.body)["error"] == .string("journal_failed"))
        #expect(dir.read("chats/21252.jsonl") == nil, "an action ran without a journal line")
    }

    @Test func actionFailureSaysSoAndKeepsTheEvent() throws {
        try dir.write("chats", "a file where the folder should be")
        let r = run(.chatEnd, body: Array(VendorSamples.chatEnd.utf8))
        #expect(r.status == 500)
        let json = try JSONParser.parse(r.body)
        #expect(json["error"] == .string("action_failed"))
        let id = try #require(json["id"]?.stringValue)
        #expect(journalLines.count == 1)
        #expect(journalLines[0].contains(id))
    }

    @Test func formEncodedBodiesAreFields() throws {
        let body = "event_date=2020%2F12%2F10+15%3A29%3A08&chat_id=21252&page_title=%E3%83%A9%E3%82%AF%E3%82%B9"
        let r = run(body: Array(body.utf8), type: "application/x-www-form-urlencoded")
        #expect(r.status == 200)
        let line = try JSONParser.parse(try #require(journalLines.first))
        #expect(line["payload"]?["page_title"] == .string("ラクス"))
    }

    @Test func aPathThatNamesNoReceiverIs404AndRunsNothing() throws {
        var v = ["REQUEST_METHOD": "POST", "CONTENT_LENGTH": String(Self.valid.count), "PATH_INFO": "/chatdealer/chat-begin"]
        v[Request.metaVariableName(forHeader: "X-Chathooks-Token")] = Self.token
        var reader = BufferBodyReader(Self.valid)
        let r = Router.byPath.respond(to: Request(variables: v), body: &reader) { _ in .loaded(config) }
        #expect(r.status == 404)
        let json = try JSONParser.parse(r.body)
        #expect(json["error"] == .string("not_found"))
        #expect(json["message"]?.stringValue?.contains("/chatdealer/chat-start") == true)
        #expect(journalLines.isEmpty)
        // The same request on a real route is accepted.
        v["PATH_INFO"] = "/chatdealer/chat-start"
        reader = BufferBodyReader(Self.valid)
        #expect(Router.byPath.respond(to: Request(variables: v), body: &reader) { _ in .loaded(config) }.status == 200)
    }

    @Test func aJSONBodyLabelledAsAFormIsReadAsJSON() throws {
        // curl -d '{…}' without -H sends x-www-form-urlencoded.
        let r = run(body: Self.valid, type: "application/x-www-form-urlencoded")
        #expect(r.status == 200)
        let line = try JSONParser.parse(try #require(journalLines.first))
        #expect(line["payload"] == (try JSONParser.parse(Self.valid)))
    }

    @Test func spaloStripsSecretsAndAnswersInItsOwnForm() throws {
        let body = VendorSamples.spalo
            .replacingOccurrences(of: "85126C79CBF9FE36BB9D05D0639C70C235C18D37", with: "KEY")
            .replacingOccurrences(of: "$2a$10$WOqE.sD38vWR5376P8DC7..fP/cnTefOVlymq1AVIEAqDkKJeWjT6", with: Self.uuHash)
        let r = run(.spaloDataset, body: Array(body.utf8))
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self) == #"{"type":"dataset","actions":[{"key":"k","value":"v"}]}"# + "\n")
        let line = try #require(journalLines.first)
        #expect(!line.contains("KEY") && !line.contains("secretHash") && !line.contains(Self.uuHash))
        #expect(line.contains("業務日報"))

        // URL check: no webhookKey, nothing journaled.
        #expect(run(.spaloDataset, body: Array("{}".utf8)).status == 200)
        #expect(run(.spaloDataset, body: [], length: "0").status == 200)
        #expect(journalLines.count == 1)

        let wrong = run(.spaloDataset, body: Array(#"{"webhookKey":"NOPE","secretHash":"x","event":"dataset"}"#.utf8))
        #expect(wrong.status == 401)
        #expect(try JSONParser.parse(wrong.body)["type"] == .string("text"))
        #expect(journalLines.count == 1)
    }
}
