import Glibc

/// Turns a parsed JSON5 document into a `Config`, through a `ConfigReader` that
/// collects every problem.
enum ConfigDecoder {
    /// The configuration; meaningful only when the reader has no problems.
    /// (Not an Optional: destroying a `Config?` goes through runtime type
    /// metadata that every CGI request would otherwise build.)
    static func decode(_ document: JSONValue, path: String, reader r: inout ConfigReader) -> Config {
        guard let root = r.object(document, "", allowed: ["journal", "limits", "chatdealer", "spalo", "sink", "admin"]) else {
            if document.objectValue == nil || r.problems.isEmpty { r.problem("", "the configuration must be an object") }
            return Config(path: path, directory: r.directory, journal: JournalSettings(path: "", fsync: true),
                          maxBodyBytes: Config.defaultMaxBodyBytes, chatdealer: nil, spalo: nil, warnings: [])
        }
        var journal = JournalSettings(path: "", fsync: true)
        if let j = r.object(root["journal"], "journal", allowed: ["path", "fsync", "rotate"]) {
            // One pass over what the file says (this runs on every CGI request):
            // each key is compared once, not looked up in turn.
            for member in j.members {
                switch member.key {
                case "path":
                    if let p = r.string(j, "path", "journal") { journal.path = Files.resolve(p, against: r.directory) }
                case "fsync":
                    journal.fsync = r.bool(j, "fsync", "journal", default: true)
                case "rotate":
                    guard let text = r.string(j, "rotate", "journal") else { break }
                    if let rotate = Rotation(rawValue: text) { journal.rotate = rotate } else {
                        r.problem("journal.rotate", "\"\(text)\" is not none, monthly or daily")
                    }
                default:
                    break  // reported by r.object
                }
            }
        }
        if journal.path.isEmpty { journal.path = Files.resolve("data/journal.jsonl", against: r.directory) }
        var maxBody = Config.defaultMaxBodyBytes
        if let l = r.object(root["limits"], "limits", allowed: ["maxBodyBytes"]) {
            maxBody = r.integer(l, "maxBodyBytes", "limits", range: 1...(256 << 20)) ?? maxBody
        }
        let chatdealer = root["chatdealer"].flatMap { decodeChatDealer($0, reader: &r) }
        let spalo = root["spalo"].flatMap { SpaloConfigDecoder.decode($0, reader: &r, journalFsync: journal.fsync) }
        if root["chatdealer"] == nil && root["spalo"] == nil {
            r.problem("", "neither chatdealer nor spalo is configured: nothing would be received")
        }
        return Config(path: path, directory: r.directory, journal: journal, maxBodyBytes: maxBody,
                      chatdealer: chatdealer, spalo: spalo, warnings: r.warnings)
    }

    static func decodeChatDealer(_ value: JSONValue, reader r: inout ConfigReader) -> ChatDealerSettings? {
        guard let cd = r.object(value, "chatdealer", allowed: ["auth", "events"]) else { return nil }
        var header = ""
        var tokens: [String] = []
        if let auth = r.object(cd["auth"], "chatdealer.auth", allowed: ["header", "tokens"]) {
            if let h = r.string(auth, "header", "chatdealer.auth", required: true) {
                if isValidHeaderName(h) { header = h } else {
                    r.problem("chatdealer.auth.header", "\"\(h)\" is not a valid HTTP header name")
                }
                if h.utf8.contains(UInt8(ascii: "_")) {
                    r.warnings.append("chatdealer.auth.header: nginx drops request headers with underscores unless underscores_in_headers is on; use hyphens (X-Chathooks-Token)")
                }
                if h.equalsIgnoringASCIICase("authorization") {
                    r.warnings.append("chatdealer.auth.header: Apache passes Authorization to CGI programs only with CGIPassAuth On; a custom header such as X-Chathooks-Token is simpler")
                }
            }
            if let list = r.array(auth, "tokens", "chatdealer.auth", required: true) {
                if list.isEmpty { r.problem("chatdealer.auth.tokens", "must list at least one token") }
                for (i, t) in list.enumerated() {
                    if let s = r.secret(t, "chatdealer.auth.tokens[\(i)]") {
                        tokens.append(s)
                        if ConfigDecoder.isPlaceholder(s) {
                            r.problem("chatdealer.auth.tokens[\(i)]", "still the example's placeholder: anyone could use it; put a long random token here (openssl rand -hex 24)")
                        } else if s.utf8.count < 16 {
                            r.warnings.append("chatdealer.auth.tokens[\(i)]: shorter than 16 characters; use a long random token (e.g. `openssl rand -hex 24`)")
                        }
                    }
                }
            }
        } else if cd["auth"] == nil {
            r.problem("chatdealer.auth", "is required: without it anyone could post events")
        }
        var events = EventTable()
        let names = ChatDealerEvent.allCases.map { $0.rawValue }
        if let ev = r.object(cd["events"], "chatdealer.events", allowed: names) {
            for event in ChatDealerEvent.allCases {
                guard let value = ev[event.rawValue] else { continue }
                let at = "chatdealer.events.\(event.rawValue)"
                guard let e = r.object(value, at, allowed: ["actions"]) else { continue }
                events[event] = EventSettings(actions: decodeActions(e["actions"], at + ".actions", event: event.rawValue, reader: &r, fsync: true))
            }
        } else if cd["events"] == nil {
            r.problem("chatdealer.events", "is required: name the events to receive")
        }
        return ChatDealerSettings(header: header, tokens: tokens, events: events)
    }

    static func decodeActions(_ value: JSONValue?, _ path: String, event: String, reader r: inout ConfigReader, fsync: Bool) -> [ActionSettings] {
        guard let value else { return [] }
        guard case .array(let list) = value else {
            r.problem(path, "must be an array, not \(value.typeName)")
            return []
        }
        var actions: [ActionSettings] = []
        for (i, item) in list.enumerated() {
            let at = "\(path)[\(i)]"
            guard case .object(let o) = item else {
                r.problem(at, "must be an object, not \(item.typeName)")
                continue
            }
            let decoded: ActionSettings?
            switch o["type"]?.stringValue {
            case "append": decoded = decodeAppend(item, at, reader: &r, fsync: fsync)
            case "mail": decoded = MailConfigDecoder.decode(item, at, event: event, reader: &r)
            case "command": decoded = decodeCommand(item, at, reader: &r)
            case nil:
                r.problem(at + ".type", "is required (one of: append, mail, command)")
                decoded = nil
            case let other?:
                r.problem(at + ".type", "unknown action type \"\(other)\" (one of: append, mail, command)")
                decoded = nil
            }
            if let decoded { actions.append(decoded) }
        }
        return actions
    }

    static func decodeAppend(_ item: JSONValue, _ at: String, reader r: inout ConfigReader, fsync: Bool) -> ActionSettings? {
        guard let a = r.object(item, at, allowed: ["type", "path", "fsync"]),
              let p = r.string(a, "path", at, required: true) else { return nil }
        do {
            let template = try PathTemplate(Files.resolve(p, against: r.directory))
            return .append(AppendSettings(path: template, fsync: r.bool(a, "fsync", at, default: fsync)))
        } catch {
            r.problem(at + ".path", error.message)
            return nil
        }
    }

    static func decodeCommand(_ item: JSONValue, _ at: String, reader r: inout ConfigReader) -> ActionSettings? {
        guard let c = r.object(item, at, allowed: ["type", "argv", "timeout", "env"]) else { return nil }
        guard let list = r.array(c, "argv", at, required: true) else { return nil }
        var argv: [String] = []
        for (i, v) in list.enumerated() {
            guard case .string(let s) = v else {
                r.problem("\(at).argv[\(i)]", "must be a string, not \(v.typeName)")
                continue
            }
            argv.append(s)
        }
        guard let program = argv.first, !program.isEmpty else {
            r.problem(at + ".argv", "must name the program to run")
            return nil
        }
        // No PATH search: the program is a path, relative to the config's folder.
        argv[0] = Files.resolve(program, against: r.directory)
        let timeout = r.integer(c, "timeout", at, range: 1...300) ?? ActionSettings.defaultTimeout
        var environment: [String: String] = [:]
        if let env = r.object(c["env"], at + ".env", allowed: c["env"]?.objectValue?.keys ?? []) {
            for member in env.members {
                let name = member.key
                let valid = !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
                    && !(name.utf8.first.map { $0 >= 0x30 && $0 <= 0x39 } ?? true)
                guard valid, !name.hasPrefix("CHATHOOKS_") else {
                    r.problem("\(at).env.\(name)", "must be a variable name (letters, digits, _), not starting with CHATHOOKS_")
                    continue
                }
                if let v = r.secret(member.value, "\(at).env.\(name)") { environment[name] = v }
            }
        }
        return .command(CommandSettings(argv: argv, timeout: timeout, environment: environment))
    }

    /// The example config's placeholders: a config that still holds one is
    /// refused (fail closed), not merely warned about.
    static func isPlaceholder(_ secret: String) -> Bool {
        secret.containsIgnoringASCIICase("change-me")
    }

    /// The webhookKey printed in SPALO's public documentation.
    static let vendorSampleWebhookKey = "85126C79CBF9FE36BB9D05D0639C70C235C18D37"

    /// RFC 9110 token characters.
    static func isValidHeaderName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || "!#$%&'*+-.^_`|~".utf8.contains(c)
        }
    }
}
