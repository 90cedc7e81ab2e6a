import Glibc
import Testing
@testable import ChatHooksCore

@Suite struct ConfigTests {
    static let sample = """
    {
      journal: { path: "data/journal.jsonl", fsync: true },
      chatdealer: {
        auth: { header: "X-Chathooks-Token", tokens: ["short-token", { env: "SECOND_TOKEN" }] },
        events: {
          "chat-start": { actions: [] },
          "chat-end": { actions: [ { type: "append", path: "data/chats/{chat_id}.jsonl" } ] },
        },
      },
      spalo: {
        webhookKey: "0123456789ABCDEF0123456789ABCDEF01234567",
        clientSecret: "a-client-secret",
        dataset: { static: [ { key: "住所", value: "東京都中央区銀座1-2-3" } ], emptyMessage: "なし" },
      },
    }
    """

    func decode(_ text: String, env: [String: String] = [:]) throws(ConfigError) -> Config {
        try ConfigLoader.decode(Array(text.utf8), path: "/etc/chathooks/chathooks.json5", strict: true, environment: { env[$0] })
    }

    func problems(_ text: String, env: [String: String] = [:]) -> [String] {
        do {
            _ = try decode(text, env: env)
            return []
        } catch {
            return error.problems
        }
    }

    @Test func decodesTheDocumentedExample() throws {
        let c = try decode(Self.sample, env: ["SECOND_TOKEN": "rotated-token-123456"])
        #expect(c.journal.path == "/etc/chathooks/data/journal.jsonl")
        #expect(c.journal.fsync)
        #expect(c.maxBodyBytes == 1 << 20)
        #expect(c.chatdealer?.header == "X-Chathooks-Token")
        #expect(c.chatdealer?.tokens == ["short-token", "rotated-token-123456"])
        #expect(c.chatdealer?.events[.chatStart] != nil)
        #expect(c.chatdealer?.events[.form] == nil)
        guard case .append(let a)? = c.chatdealer?.events[.chatEnd]?.actions.first else {
            Issue.record("no append action")
            return
        }
        #expect(a.path.description == "/etc/chathooks/data/chats/{chat_id}.jsonl")
        guard case .fixed(let rows)? = c.spalo?.webhooks.first?.lookup.source else {
            Issue.record("the single spalo block is not read as one static dataset webhook")
            return
        }
        #expect(rows == [LookupRow([LookupField(name: "住所", value: "東京都中央区銀座1-2-3")])])
        #expect(c.spalo?.webhooks.map(\.name) == ["dataset"])
        #expect(c.spalo?.webhooks.first?.kind == .dataset)
        #expect(c.warnings.contains { $0.hasPrefix("chatdealer.auth.tokens[0]: shorter than 16") })
        #expect(c.warnings.contains { $0.hasPrefix("chatdealer.auth.tokens[1]") } == false)
    }

    @Test func shortTokensAreWarnedAbout() throws {
        let c = try decode(#"{ chatdealer: { auth: { header: "X-T", tokens: ["short", "a-long-enough-token-123"] }, events: {} } }"#)
        #expect(c.warnings.filter { $0.contains("shorter than 16") }.map { String($0.prefix(26)) } == ["chatdealer.auth.tokens[0]:"])
    }

    @Test func placeholdersAndTheVendorsSampleKeyAreRefused() throws {
        let text = #"{ chatdealer: { auth: { header: "X-T", tokens: ["change-me-to-a-long-random-token"] }, events: {} },"#
            + #" spalo: { webhookKey: "85126C79CBF9FE36BB9D05D0639C70C235C18D37", clientSecret: "change-me-too" } }"#
        let p = problems(text)
        #expect(p.contains { $0.hasPrefix("chatdealer.auth.tokens[0]: still the example's placeholder") }, "\(p)")
        #expect(p.contains { $0.hasPrefix("spalo.clientSecret: still the example's placeholder") })
        #expect(p.contains { $0.hasPrefix("spalo.webhookKey: is the sample key from SPALO's documentation") })
        #expect(!p.joined().contains("change-me-too") && !p.joined().contains("85126C79"))
    }

    @Test func aSecretCannotComeFromARequestHeaderVariable() {
        let p = problems(#"{ chatdealer: { auth: { header: "X-T", tokens: [{ env: "HTTP_X_T" }] }, events: {} } }"#,
                         env: ["HTTP_X_T": "whatever-the-client-sends"])
        #expect(p.contains { $0.hasPrefix("chatdealer.auth.tokens[0]: HTTP_X_T holds a request header") }, "\(p)")
    }

    /// Every variable the web server sets from the request is refused as a
    /// secret's source, whatever the client sends in it; a variable of the
    /// user's own is taken.
    @Test(arguments: ["QUERY_STRING", "PATH_INFO", "CONTENT_TYPE", "CONTENT_LENGTH", "REMOTE_USER", "REMOTE_ADDR",
                      "AUTH_TYPE", "PATH_TRANSLATED", "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME", "REQUEST_URI",
                      "DOCUMENT_URI", "HTTPS", "REDIRECT_QUERY_STRING", "REDIRECT_HTTP_X_T", "SSL_CLIENT_S_DN",
                      "query_string", "Http_X_T"])
    func aSecretCannotComeFromARequestVariable(name: String) {
        let p = problems(#"{ chatdealer: { auth: { header: "X-T", tokens: [{ env: "\#(name)" }] }, events: {} } }"#,
                         env: [name: "whatever-the-client-sends-0123456789"])
        #expect(p.contains { $0.hasPrefix("chatdealer.auth.tokens[0]: \(name) ") && $0.contains("it cannot hold a secret") }, "\(p)")
        #expect(!p.joined().contains("whatever-the-client-sends"))
    }

    @Test func aSecretFromAVariableOfTheUsersOwnIsTaken() {
        for name in ["CHATHOOKS_TOKEN", "HTTPS_TOKEN", "MY_QUERY_STRING", "PATH_INFO_SECRET"] {
            let p = problems(#"{ chatdealer: { auth: { header: "X-T", tokens: [{ env: "\#(name)" }] }, events: {} } }"#,
                             env: [name: "a-long-random-token-0123456789"])
            #expect(!p.contains { $0.contains("cannot hold a secret") }, "\(name): \(p)")
        }
    }

    @Test func syntaxErrorsNameLineAndColumn() {
        let p = problems("{\n  journal: { path: \"x\" }\n  spalo: {}\n}")
        #expect(p.count == 1)
        #expect(p.first?.contains("line 3, column 3") == true, "\(p)")
    }

    @Test func listsEveryProblemWithItsPath() {
        let p = problems("""
        {
          jounral: {},
          limits: { maxBodyBytes: 0 },
          chatdealer: {
            auth: { header: "Bad Header", tokens: [] },
            events: { "chat-begin": {}, "form": { actions: [ { type: "ftp" }, { path: "x" }, { type: "append", path: "a/{x" } ] } },
          },
          spalo: { webhookKey: { env: "MISSING" }, clientSecret: 42 },
        }
        """)
        let expected = [
            "jounral: unknown key",
            "limits.maxBodyBytes: must be between",
            "chatdealer.auth.header: \"Bad Header\" is not a valid HTTP header name",
            "chatdealer.auth.tokens: must list at least one token",
            "chatdealer.events.chat-begin: unknown key",
            "chatdealer.events.form.actions[0].type: unknown action type \"ftp\"",
            "chatdealer.events.form.actions[1].type: is required",
            "chatdealer.events.form.actions[2].path: unclosed {",
            "spalo.webhookKey: environment variable MISSING is not set",
            "spalo.clientSecret: must be a string or",
        ]
        for e in expected {
            #expect(p.contains { $0.hasPrefix(e) }, "missing \(e) in \(p)")
        }
        #expect(p.count == expected.count, "\(p)")
    }

    @Test func secretsComeFromFilesAndNeverAppearInProblems() throws {
        let dir = try TemporaryDirectory()
        try dir.write("secret.txt", "file-secret-value\n")
        let text = #"{ spalo: { webhookKey: { file: "secret.txt" }, clientSecret: { file: "missing.txt" } } }"#
        let path = dir.path + "/chathooks.json5"
        do {
            _ = try ConfigLoader.decode(Array(text.utf8), path: path, strict: true, environment: { _ in nil })
            Issue.record("accepted a missing secret file")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems[0].hasPrefix("spalo.clientSecret: cannot read secret file"))
            #expect(!error.description.contains("file-secret-value"))
        }
        try dir.write("missing.txt", "s2")
        let c = try ConfigLoader.decode(Array(text.utf8), path: path, environment: { _ in nil })
        #expect(c.spalo?.webhooks.first?.webhookKey == "file-secret-value")
        #expect(c.spalo?.webhooks.first?.clientSecret == "s2")
    }

    @Test func refusesAConfigThatReceivesNothingOrOpensChatDealerWithoutAuth() {
        #expect(problems("{}").contains { $0.contains("neither chatdealer nor spalo") })
        #expect(problems("[]").contains { $0.contains("must be an object") })
        #expect(problems(#"{ chatdealer: { events: { form: {} } } }"#).contains { $0.hasPrefix("chatdealer.auth: is required") })
    }

    @Test func missingFileIsExplained() {
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/chathooks.json5")
            Issue.record("loaded")
        } catch {
            #expect(error.description.contains("no configuration file here"))
            #expect(error.kind == .missing)
        }
    }

    /// A problem inside one sender's block stops that sender only (receivers
    /// load leniently); one outside both blocks stops every receiver; the
    /// admin commands (strict) refuse both.
    @Test func aBrokenSenderBlockStopsThatSenderOnly() throws {
        let text = #"{ chatdealer: { auth: { header: "X-T", tokens: ["a-long-random-token-0123"] }, events: { form: {} } },"#
            + #" spalo: { webhookKey: "K", clientSecret: "change-me-to-your-client-secret", dataset: { statc: [] } } }"#
        let c = try ConfigLoader.decode(Array(text.utf8), path: "/etc/c.json5", environment: { _ in nil })
        #expect(c.chatdealerProblems.isEmpty)
        #expect(c.spaloProblems.count == 2)
        #expect(c.spaloProblems.contains { $0.hasPrefix("spalo.clientSecret: still the example's placeholder") })
        #expect(c.spaloProblems.contains { $0.hasPrefix("spalo.dataset.statc: unknown key") })
        #expect(throws: ConfigError.self) { try ConfigLoader.decode(Array(text.utf8), path: "/etc/c.json5", strict: true, environment: { _ in nil }) }
        let broken = text.replacingFirst("chatdealer: { auth", with: "chatdealer: { ath: {}, auth")
        let d = try ConfigLoader.decode(Array(broken.utf8), path: "/etc/c.json5", environment: { _ in nil })
        #expect(d.chatdealerProblems.count == 1 && d.spaloProblems.count == 2)
        #expect(d.chatdealerProblems.first?.hasPrefix("chatdealer.ath: unknown key") == true)
        let global = "{ journal: { pth: 1 }," + text.dropFirst()
        #expect(throws: ConfigError.self) { try ConfigLoader.decode(Array(global.utf8), path: "/etc/c.json5", environment: { _ in nil }) }
    }

    /// The shipped example is refused as it is, every placeholder named, and
    /// accepted once each is replaced.
    @Test func theShippedExampleIsRefusedUntilEveryPlaceholderIsReplaced() throws {
        let path = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let example = "/" + path + "/examples/chathooks.json5"
        let text = String(decoding: try Files.read(example), as: UTF8.self)
        do {
            _ = try ConfigLoader.decode(Array(text.utf8), path: example, strict: true, environment: { _ in nil })
            Issue.record("the example was accepted with its placeholders")
        } catch {
            // The token, and each of the three SPALO webhooks' key and secret.
            #expect(error.problems.count == 7, "\(error.problems)")
            var keys = ["chatdealer.auth.tokens[0]"]
            for i in 0..<3 { keys += ["spalo.webhooks[\(i)].webhookKey", "spalo.webhooks[\(i)].clientSecret"] }
            for key in keys {
                #expect(error.problems.contains { $0.hasPrefix(key + ": still the example's placeholder") }, "\(key)")
            }
        }
        var filled = text.replacingFirst("change-me-to-a-long-random-token", with: "0123456789abcdef0123456789abcdef")
        for (i, kind) in ["dataset", "search", "send"].enumerated() {
            filled = filled.replacingFirst("change-me-to-the-\(kind)-webhook-key", with: "A1B2C3D4E5F60718293A4B5C6D7E8F901234567\(i)")
                .replacingFirst("change-me-to-the-\(kind)-client-secret", with: "a-\(kind)-client-secret")
        }
        _ = try ConfigLoader.decode(Array(filled.utf8), path: example, strict: true, environment: { _ in nil })
    }

    /// A syntax error says what it most likely is, for a file edited in a
    /// Japanese editor.
    @Test(arguments: [
        ([0x7B, 0x20, 0x6A, 0x6F, 0x75, 0x72, 0x6E, 0x61, 0x6C, 0x3A, 0x20, 0x7B, 0x20, 0x70, 0x61, 0x74, 0x68, 0x3A, 0x20, 0x22]
            + [0x83, 0x65, 0x83, 0x58, 0x83, 0x67] + [0x22, 0x20, 0x7D, 0x20, 0x7D] as [UInt8], "looks like Shift_JIS: save it as UTF-8"),
        (Array("{ journal: { path: \u{201C}x\u{201D} } }".utf8), "curly or full-width quotes \u{201C}: use straight quotes"),
        (Array("{ journal\u{FF1A} { path: \"x\" } }".utf8), "the full-width \u{FF1A}: use the ASCII :"),
        (Array("{ journal: { path: \"x\"\u{FF0C} fsync: true } }".utf8), "the full-width \u{FF0C}: use the ASCII ,"),
    ])
    func syntaxErrorsSayWhatTheyMostLikelyAre(bytes: [UInt8], hint: String) {
        do {
            _ = try ConfigLoader.decode(bytes, path: "/etc/c.json5", environment: { _ in nil })
            Issue.record("accepted")
        } catch {
            #expect(error.problems.count == 1)
            #expect(error.problems[0].hasPrefix("syntax error at line 1"), "\(error.problems)")
            #expect(error.problems[0].contains(hint), "\(error.problems)")
        }
    }

    /// Several problems on one log line, each numbered, no newline in it.
    @Test func problemsReadWellOnOneLogLine() {
        let e = ConfigError(path: "/c.json5", problems: ["a: x", "b: y"])
        #expect(e.logLine == "/c.json5: 2 problems: (1) a: x; (2) b: y")
        #expect(e.description == "/c.json5: a: x\n/c.json5: b: y")
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let r = range(of: target) else { return self }
        return replacingCharacters(in: r, with: replacement)
    }
}

/// A folder under /tmp removed when the value goes away.
final class TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/chathooks-test-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemError("mkdtemp") }
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func write(_ name: String, _ text: String) throws {
        let full = path + "/" + name
        try Files.makeDirectories(Files.directoryName(full))
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw SystemError("open", path: full) }
        defer { close(fd) }
        guard writeAll(fd, Array(text.utf8)) else { throw SystemError("write", path: full) }
    }

    func read(_ name: String) -> String? {
        (try? Files.read(path + "/" + name)).map { String(decoding: $0, as: UTF8.self) }
    }

    deinit {
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("rm"), strdup("-rf"), strdup(path), nil]
        var pid = pid_t()
        if posix_spawnp(&pid, "rm", nil, nil, &argv, environ) == 0 {
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        for p in argv { free(p) }
    }
}

@Suite struct ReviewedEdgeTests {
    func problems(_ text: String, env: [String: String] = [:]) -> [String] {
        do {
            _ = try ConfigLoader.decode(Array(text.utf8), path: "/etc/chathooks/chathooks.json5", strict: true, environment: { env[$0] })
            return []
        } catch {
            return error.problems
        }
    }

    /// Secrets: only an inline non-empty string skips the checks; every other
    /// form is reported under its own key path, never with the value.
    @Test func secretProblemsNameTheirKeyPath() {
        let cases: [(String, String)] = [
            (#"tokens: [""]"#, "chatdealer.auth.tokens[0]: must not be empty"),
            (#"tokens: [{ env: "A", file: "b" }]"#, "chatdealer.auth.tokens[0]: must name exactly one of env or file"),
            (#"tokens: [{}]"#, "chatdealer.auth.tokens[0]: must name exactly one of env or file"),
            (#"tokens: [{ env: "EMPTY" }]"#, "chatdealer.auth.tokens[0]: environment variable EMPTY is not set or empty"),
            (#"tokens: [{ path: "x" }]"#, "chatdealer.auth.tokens[0].path: unknown key"),
        ]
        for (tokens, expected) in cases {
            let p = problems(#"{ chatdealer: { auth: { header: "X-T", "# + tokens + #" }, events: {} } }"#, env: ["EMPTY": ""])
            #expect(p.contains { $0.hasPrefix(expected) }, "\(tokens): \(p)")
        }
    }

    /// The cache decodes a file again when it changes in any way a deploy
    /// changes it (same size, other time; renamed into place; removed and put
    /// back), keeps what it decoded otherwise, and SIGHUP's flag forces a re-read.
    @Test func configCacheFollowsTheFile() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/chathooks.json5"
        func config(_ token: String) -> String {
            #"{ journal: { path: "j.jsonl" }, chatdealer: { auth: { header: "X-T", tokens: ["# + #"""# + token + #"""# + #"] }, events: {} } }"#
        }
        func token(_ outcome: ConfigOutcome) -> String? {
            if case .loaded(let c) = outcome { return c.chatdealer?.tokens.first }
            return nil
        }
        func setTime(_ seconds: Int) {
            var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
            _ = utimensat(AT_FDCWD, path, &times, 0)
        }
        var secret = "token-aaaaaaaaaaaaaaaa"
        let cache = ConfigCache(environment: { _ in nil })
        try dir.write("chathooks.json5", config(secret)); setTime(1_000_000)
        #expect(token(cache.config(at: path)) == secret)
        // The same bytes written again, same time: the decoded one is kept (a
        // file read behind the cache's back is not seen until the stamp moves).
        try dir.write("chathooks.json5", config("token-bbbbbbbbbbbbbbbb")); setTime(1_000_000)
        #expect(token(cache.config(at: path)) == secret)
        // Same size, later time.
        secret = "token-bbbbbbbbbbbbbbbb"
        setTime(1_000_001)
        #expect(token(cache.config(at: path)) == secret)
        // Renamed into place (an editor's save): new inode, same size and time.
        secret = "token-cccccccccccccccc"
        try dir.write("new.json5", config(secret))
        _ = utimensat(AT_FDCWD, dir.path + "/new.json5", [timespec(tv_sec: 1_000_001, tv_nsec: 0), timespec(tv_sec: 1_000_001, tv_nsec: 0)], 0)
        #expect(rename(dir.path + "/new.json5", path) == 0)
        #expect(token(cache.config(at: path)) == secret)
        // Removed: refused; put back: read again.
        #expect(unlink(path) == 0)
        guard case .failed(let e) = cache.config(at: path) else { Issue.record("a missing file was used"); return }
        #expect(e.description.contains("no configuration file"))
        secret = "token-dddddddddddddddd"
        try dir.write("chathooks.json5", config(secret)); setTime(1_000_002)
        #expect(token(cache.config(at: path)) == secret)
        // A change the stamp cannot see is read after SIGHUP's flag.
        try dir.write("chathooks.json5", config("token-eeeeeeeeeeeeeeee")); setTime(1_000_002)
        #expect(token(cache.config(at: path)) == secret)
        cache.reloadRequested = true
        #expect(token(cache.config(at: path)) == "token-eeeeeeeeeeeeeeee")
    }

    /// Journal lines are read back whole across the reader's 64 KiB pieces; a
    /// line that is not a record (a torn fragment ended by the next append, a
    /// valid JSON line that is not a record) is skipped and the records after
    /// it are read; a last line without a newline (being written, or torn) is
    /// not read.
    @Test func journalReaderReadsEveryLineAcrossPieces() throws {
        let dir = try TemporaryDirectory()
        var text = ""
        var ids: [String] = []
        for i in 0..<300 {
            let id = RequestID.make(at: Timestamp(seconds: 1_700_000_000 + i, nanoseconds: 0))
            ids.append(id)
            let record = JournalRecord(receivedAt: Timestamp(seconds: 1_700_000_000 + i, nanoseconds: 0), source: "chatdealer",
                                       event: "chat-message", requestID: id, remoteAddress: "127.0.0.1",
                                       payload: JSONObject([.init(key: "msg", value: .string(String(repeating: "あ", count: 100 + i)))]))
            let line = String(decoding: record.line, as: UTF8.self)
            text += line
            if i == 150 { text += "not a record\n" }
            if i == 151 { text += "{\"json\":\"but not a record\"}\n" }
            if i == 152 { text += String(line.utf8.prefix(77))! + "\n" }  // a torn fragment, ended later
        }
        text.removeLast()  // the last line without its newline
        try dir.write("journal.jsonl", text)
        #expect(text.utf8.count > 3 << 16)
        let all = JournalReader.records(path: dir.path + "/journal.jsonl") { _ in true }
        #expect(all.map { $0.requestID } == Array(ids.dropLast()))
        #expect(all.last?.payload["msg"]?.stringValue?.count == 398)
    }
}

@Suite struct CheckTests {
    /// Missing programs are reported by `check` (with the action's key path),
    /// and never looked for while a request decodes the config.
    @Test func checkNamesProgramsThatAreNotExecutable() throws {
        let text = """
        { chatdealer: { auth: { header: "X-T", tokens: ["a-long-enough-token-123"] }, events: { form: { actions: [
            { type: "append", path: "data/x.jsonl" },
            { type: "command", argv: ["/no/such/program"] },
            { type: "mail", to: "a@example.jp", from: "b@example.jp", sendmail: "/no/such/sendmail" },
            { type: "command", argv: ["/bin/true"] },
        ] } } } }
        """
        let config = try ConfigLoader.decode(Array(text.utf8), path: "/etc/chathooks/chathooks.json5", environment: { _ in nil })
        #expect(!config.warnings.contains { $0.contains("not an executable") })
        #expect(CLI.executableWarnings(config) == [
            "chatdealer.events.form.actions[1].argv[0]: /no/such/program is not an executable file (yet)",
            "chatdealer.events.form.actions[2].sendmail: /no/such/sendmail is not an executable file; mail will be spooled until it is",
        ])
        #expect(CLI.describe(config).contains("warning: chatdealer.events.form.actions[2].sendmail"))
    }
}

@Suite struct TextFileTests {
    /// Secret files and mail template files are read the same way, and each
    /// problem names the key it comes from.
    @Test func secretAndTemplateFilesShareTheirChecks() throws {
        let dir = try TemporaryDirectory()
        try dir.write("token.txt", "a-token-from-a-file-123\r\n")
        try dir.write("blank.txt", "\n\n")
        let bad = dir.path + "/latin1.txt"
        let fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = writeAll(fd, [0x61, 0xE9, 0x0A])
        close(fd)
        func problems(_ text: String) -> [String] {
            do { _ = try ConfigLoader.decode(Array(text.utf8), path: dir.path + "/c.json5", strict: true, environment: { _ in nil }); return [] }
            catch { return error.problems }
        }
        func auth(_ token: String) -> String {
            #"{ chatdealer: { auth: { header: "X-T", tokens: ["# + token + #"] }, events: { form: { actions: [ "#
        }
        let mail = #"{ type: "mail", to: "a@example.jp", from: "b@example.jp", bodyFile: "latin1.txt" }"#
        let config = try ConfigLoader.decode(Array((auth(#"{ file: "token.txt" }"#) + "] } } } }").utf8), path: dir.path + "/c.json5",
                                             environment: { _ in nil })
        #expect(config.chatdealer?.tokens == ["a-token-from-a-file-123"])
        #expect(problems(auth(#"{ file: "blank.txt" }"#) + "] } } } }").contains { $0.hasPrefix("chatdealer.auth.tokens[0]: secret file") && $0.hasSuffix("is empty") })
        #expect(problems(auth(#"{ file: "latin1.txt" }"#) + "] } } } }").contains { $0.hasPrefix("chatdealer.auth.tokens[0]: secret file") && $0.hasSuffix("is not UTF-8 text") })
        #expect(problems(auth(#""a-long-enough-token-123""#) + mail + "] } } } }").contains {
            $0.hasPrefix("chatdealer.events.form.actions[0].bodyFile: template") && $0.hasSuffix("is not UTF-8 text") })
        #expect(problems(auth(#""a-long-enough-token-123""#) + mail.replacingAll("latin1.txt", with: "none.txt") + "] } } } }").contains {
            $0.hasPrefix("chatdealer.events.form.actions[0].bodyFile: cannot read template") })
    }
}

@Suite struct FilesTests {
    /// Every missing folder of a path is made, with repeated or trailing
    /// slashes, and existing ones are left alone. (Relative paths are made
    /// absolute before they get here: Config resolves them.)
    @Test func makeDirectoriesMakesEveryMissingFolder() throws {
        let dir = try TemporaryDirectory()
        try Files.makeDirectories(dir.path + "/a//b/c/")
        var st = stat()
        #expect(stat(dir.path + "/a/b/c", &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR)
        try Files.makeDirectories(dir.path + "/a/b/c")  // all there: nothing to do
        try Files.makeDirectories(dir.path + "/a/b/d")
        #expect(stat(dir.path + "/a/b/d", &st) == 0)
        try dir.write("file", "x")
        #expect(throws: SystemError.self) { try Files.makeDirectories(dir.path + "/file/sub") }
    }
}

@Suite struct HtaccessRulesTests {
    func denies(_ text: String) -> Bool { HtaccessRules.denies(Array(text.utf8), file: "chathooks.json5") }

    @Test func theShippedFilesDeny() throws {
        let root = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        #expect(denies(String(decoding: try Files.read(root + "/apache/htaccess"), as: UTF8.self)))
        #expect(denies(String(decoding: try Files.read(root + "/dist-files/data.htaccess"), as: UTF8.self)))
        // The bundle's .htaccess of before (config, journal and .txt denied by extension).
        #expect(denies("<FilesMatch \"\\.(json5|jsonl|json|txt|log)$\">\n    Require all denied\n</FilesMatch>\n"))
    }

    @Test(arguments: [
        ("Require all denied", true),
        ("  REQUIRE   ALL\tDENIED  \r\n", true),
        ("Order allow,deny\nDeny from all", true),
        ("<IfModule mod_authz_core.c>\n  <IfVersion >= 2.4>\n    Require all denied\n  </IfVersion>\n</IfModule>", true),
        ("<Files \"chathooks.json5\">\nRequire all denied\n</Files>", true),
        ("<Files chathooks.json5>\nDeny from all\n</Files>", true),
        // Words that protect nothing here.
        ("# Require all denied", false),
        ("#Deny from all\nRequire all granted", false),
        ("<Files xmlrpc.php>\norder deny,allow\ndeny from all\n</Files>", false),
        ("<FilesMatch \"\\.bak$\">\nRequire all denied\n</FilesMatch>", false),
        ("<Limit PUT>\nRequire all denied\n</Limit>", false),
        ("<Files other.json5>\nRequire all denied\n</Files>\nRequire all granted", false),
        ("Require all denied for nobody", false),
        ("", false),
    ])
    func aDenyCountsOnlyWhereItAppliesToTheConfig(text: String, expected: Bool) {
        #expect(denies(text) == expected, "\(text)")
    }

    /// check infers a web site only from the bundle's layout or a web folder's
    /// own name: /var/www/app is where nginx setups keep such files.
    @Test func checkDoesNotCallAnNginxLayoutDownloadable() throws {
        let dir = try TemporaryDirectory()
        try Files.makeDirectories(dir.path + "/www/app")
        try dir.write("www/app/chathooks.json5", "{}")
        #expect(ConfigExposure.checkForCLI(configPath: dir.path + "/www/app/chathooks.json5").isEmpty)
        try Files.makeDirectories(dir.path + "/public_html/hooks")
        try dir.write("public_html/hooks/chathooks.json5", "{}")
        #expect(ConfigExposure.checkForCLI(configPath: dir.path + "/public_html/hooks/chathooks.json5").count == 1)
        try dir.write("public_html/.htaccess", "<IfModule mod_authz_core.c>\nRequire all denied\n</IfModule>\n")
        #expect(ConfigExposure.checkForCLI(configPath: dir.path + "/public_html/hooks/chathooks.json5").isEmpty)
    }
}
