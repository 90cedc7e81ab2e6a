/// The `spalo` block: a list of webhooks, or (as before it had one) the
/// single dataset webhook's keys at the top of the block.
///
///     spalo: {
///       errorText: "…",
///       webhooks: [
///         { name: "address", kind: "dataset", webhookKey: …, clientSecret: …,
///           key: "info.email",
///           source: { type: "csv", path: "data/customers.csv", encoding: "utf-8", match: "email" },
///           columns: { "住所": "住所", "電話": "電話番号" }, emptyMessage: "…", actions: [ … ] },
///       ],
///     }
enum SpaloConfigDecoder {
    static let legacyKeys = ["webhookKey", "clientSecret", "dataset", "actions"]
    static let webhookKeys = ["name", "kind", "webhookKey", "clientSecret", "key", "source", "columns", "candidate",
                              "emptyMessage", "errorText", "actions"]

    static func decode(_ value: JSONValue, reader r: inout ConfigReader, journalFsync: Bool) -> SpaloSettings? {
        guard let sp = r.object(value, "spalo", allowed: ["webhooks", "errorText"] + legacyKeys) else { return nil }
        let errorText = r.string(sp, "errorText", "spalo") ?? SpaloSettings.defaultErrorText
        var webhooks: [SpaloWebhook] = []
        let legacy = legacyKeys.contains { sp[$0] != nil }
        if let list = r.array(sp, "webhooks", "spalo") {
            if legacy {
                r.problem("spalo", "has both webhooks and the single webhook's \(legacyKeys.filter { sp[$0] != nil }.joined(separator: ", ")); move those into an entry of webhooks")
            }
            if list.isEmpty { r.problem("spalo.webhooks", "must list at least one webhook") }
            for (i, item) in list.enumerated() {
                if let w = decodeWebhook(item, "spalo.webhooks[\(i)]", errorText: errorText, reader: &r, journalFsync: journalFsync) {
                    webhooks.append(w)
                }
            }
        } else if legacy {
            if let w = decodeLegacy(sp, errorText: errorText, reader: &r, journalFsync: journalFsync) { webhooks.append(w) }
        } else {
            r.problem("spalo.webhooks", "is required: list the SPALO webhooks to receive")
        }
        for (i, w) in webhooks.enumerated() {
            if webhooks[..<i].contains(where: { $0.name == w.name }) {
                r.problem("spalo.webhooks[\(i)].name", "\"\(w.name)\" is the name of an earlier webhook; names must differ")
            }
            if !w.webhookKey.isEmpty, webhooks[..<i].contains(where: { $0.webhookKey == w.webhookKey }) {
                r.problem("spalo.webhooks[\(i)].webhookKey", "is the key of an earlier webhook; each SPALO webhook has its own key")
            }
        }
        return SpaloSettings(webhooks: webhooks, errorText: errorText)
    }

    /// The block as it was before webhooks: one dataset webhook, named `dataset`.
    static func decodeLegacy(_ sp: JSONObject, errorText: String, reader r: inout ConfigReader, journalFsync: Bool) -> SpaloWebhook? {
        let (key, secret) = credentials(sp, "spalo", reader: &r)
        var rows: [LookupField] = []
        var emptyMessage = SpaloSettings.defaultEmptyMessage
        if let ds = r.object(sp["dataset"], "spalo.dataset", allowed: ["static", "emptyMessage"]) {
            if let list = r.array(ds, "static", "spalo.dataset") { rows = pairs(list, "spalo.dataset.static", reader: &r) }
            if let m = r.string(ds, "emptyMessage", "spalo.dataset") { emptyMessage = m }
        }
        let actions = decodeActions(sp["actions"], "spalo.actions", kind: .dataset, lookupTimeout: 0, reader: &r, fsync: journalFsync)
        return SpaloWebhook(name: "dataset", kind: .dataset, webhookKey: key, clientSecret: secret,
                            lookup: LookupSettings(key: nil, source: .fixed([LookupRow(rows)]), columns: [], candidate: nil),
                            emptyMessage: emptyMessage, errorText: errorText, actions: actions)
    }

    static func decodeWebhook(_ item: JSONValue, _ at: String, errorText defaultError: String, reader r: inout ConfigReader,
                              journalFsync: Bool) -> SpaloWebhook? {
        guard let w = r.object(item, at, allowed: webhookKeys) else { return nil }
        let name = r.string(w, "name", at, required: true) ?? ""
        if !name.isEmpty && !isValidName(name) {
            r.problem(at + ".name", "must be 1 to 64 letters, digits, - or _ (it names the webhook in the journal)")
        }
        let kindText = r.string(w, "kind", at, required: true)
        let kind = kindText.flatMap { SpaloKind(rawValue: $0) }
        if let kindText, kind == nil {
            r.problem(at + ".kind", "unknown kind \"\(kindText)\" (one of: dataset (外部データ設定), search (データ参照), send (データ送信))")
        }
        let (key, secret) = credentials(w, at, reader: &r)
        let emptyMessage = r.string(w, "emptyMessage", at) ?? SpaloSettings.defaultEmptyMessage
        let errorText = r.string(w, "errorText", at) ?? defaultError
        var lookup = LookupSettings.none
        if let kind, kind != .send {
            lookup = decodeLookup(w, at, kind: kind, reader: &r)
        } else if kind == .send {
            for k in ["key", "source", "columns", "candidate"] where w[k] != nil {
                r.problem("\(at).\(k)", "a send webhook looks nothing up: it has no \(k)")
            }
        }
        var lookupTimeout = 0
        if case .command(_, let t, _) = lookup.source { lookupTimeout = t }
        let actions = decodeActions(w["actions"], at + ".actions", kind: kind ?? .dataset, lookupTimeout: lookupTimeout,
                                    reader: &r, fsync: journalFsync)
        guard let kind else { return nil }
        return SpaloWebhook(name: name, kind: kind, webhookKey: key, clientSecret: secret, lookup: lookup,
                            emptyMessage: emptyMessage, errorText: errorText, actions: actions)
    }

    static func credentials(_ o: JSONObject, _ at: String, reader r: inout ConfigReader) -> (String, String) {
        let key = r.secret(o["webhookKey"], "\(at).webhookKey") ?? ""
        let secret = r.secret(o["clientSecret"], "\(at).clientSecret") ?? ""
        if ConfigDecoder.isPlaceholder(key) {
            r.problem(at + ".webhookKey", "still the example's placeholder: copy the webhook key from SPALO's webhook settings")
        }
        if ConfigDecoder.isPlaceholder(secret) {
            r.problem(at + ".clientSecret", "still the example's placeholder: copy the client secret from SPALO's webhook settings")
        }
        if key == ConfigDecoder.vendorSampleWebhookKey {
            r.problem(at + ".webhookKey", "is the sample key from SPALO's documentation, known to everyone: copy your webhook's own key")
        }
        return (key, secret)
    }

    static func decodeLookup(_ w: JSONObject, _ at: String, kind: SpaloKind, reader r: inout ConfigReader) -> LookupSettings {
        var lookup = LookupSettings.none
        if let k = r.string(w, "key", at) {
            if let v = RequestValue(k) { lookup.key = v } else {
                r.problem(at + ".key", "\"\(k)\" is not a request value (one of: \(RequestValue.forms))")
            }
        }
        if let c = r.string(w, "candidate", at) {
            if kind == .search { lookup.candidate = c } else { r.problem(at + ".candidate", "only a search webhook has candidates") }
        }
        switch w["columns"] {
        case nil: break
        case .array(let list)?:
            for (i, v) in list.enumerated() {
                guard case .string(let c) = v, !c.isEmpty else { r.problem("\(at).columns[\(i)]", "must be a column name"); continue }
                lookup.columns.append(LookupField(name: c, value: c))
            }
        case .object(let o)?:
            for m in o.members {
                guard case .string(let to) = m.value, !to.isEmpty else {
                    r.problem("\(at).columns.\(m.key)", "must be the name SPALO gets for the column")
                    continue
                }
                lookup.columns.append(LookupField(name: m.key, value: to))
            }
        case let other?:
            r.problem(at + ".columns", "must be a list of column names, or an object of column → name sent, not \(other.typeName)")
        }
        if kind == .search && !lookup.columns.isEmpty {
            r.problem(at + ".columns", "a search answers with one value per record: name it with candidate")
        }
        let sat = at + ".source"
        guard let src = w["source"] else {
            r.problem(sat, "is required (type: static, csv, sqlite or command)")
            return lookup
        }
        guard case .object(let so) = src else {
            r.problem(sat, "must be an object, not \(src.typeName)")
            return lookup
        }
        switch so["type"]?.stringValue {
        case "static":
            guard let s = r.object(src, sat, allowed: ["type", "values"]), let list = r.array(s, "values", sat, required: true) else { break }
            if list.isEmpty && kind == .search { r.problem(sat + ".values", "must list at least one candidate") }
            if lookup.key != nil {
                r.warnings.append("\(at).key: a static source answers the same whatever the key; the key is not used")
                lookup.key = nil
            }
            if kind == .dataset {
                lookup.source = .fixed([LookupRow(pairs(list, sat + ".values", reader: &r))])
            } else {
                var rows: [LookupRow] = []
                for (i, v) in list.enumerated() {
                    guard let text = v.scalarText else { r.problem("\(sat).values[\(i)]", "must be a string"); continue }
                    rows.append(LookupRow([LookupField(name: "value", value: text)]))
                }
                lookup.source = .fixed(rows)
            }
        case "csv":
            guard let s = r.object(src, sat, allowed: ["type", "path", "encoding", "match"]) else { break }
            let path = r.string(s, "path", sat, required: true).map { Files.resolve($0, against: r.directory) }
            let match = r.string(s, "match", sat, required: true)
            var encoding = TextEncoding.utf8
            if let e = r.string(s, "encoding", sat) {
                switch e.lowercased() {
                case "utf-8", "utf8": encoding = .utf8
                case "shift_jis", "shift-jis", "sjis", "cp932", "windows-31j": encoding = .shiftJIS
                default: r.problem(sat + ".encoding", "\"\(e)\" is not utf-8 or shift_jis (Excel's \"CSV UTF-8\" is utf-8; its plain \"CSV\" on Japanese Windows is shift_jis)")
                }
            }
            if lookup.key == nil { r.problem(at + ".key", "is required with a CSV source: the request value compared with the match column") }
            if let path, let match { lookup.source = .csv(path: path, encoding: encoding, match: match) }
        case "sqlite":
            guard let s = r.object(src, sat, allowed: ["type", "path", "query", "params"]) else { break }
            let path = r.string(s, "path", sat, required: true).map { Files.resolve($0, against: r.directory) }
            let query = r.string(s, "query", sat, required: true)
            var parameters: [(name: String, value: RequestValue)] = []
            if let p = r.object(s["params"], sat + ".params", allowed: s["params"]?.objectValue?.keys ?? []) {
                for m in p.members {
                    let pat = "\(sat).params.\(m.key)"
                    if m.key == "key" { r.problem(pat, ":key is the webhook's key; name this parameter otherwise"); continue }
                    if m.key.first.map({ ":@$".contains($0) }) ?? true {
                        r.problem(pat, "name the parameter without its : (as in the query's :\(m.key.dropFirst()))")
                        continue
                    }
                    guard case .string(let sel) = m.value, let v = RequestValue(sel) else {
                        r.problem(pat, "must be a request value (one of: \(RequestValue.forms))")
                        continue
                    }
                    parameters.append((m.key, v))
                }
            }
            if let path, let query { lookup.source = .sqlite(path: path, query: query, parameters: parameters) }
        case "command":
            guard let s = r.object(src, sat, allowed: ["type", "argv", "timeout", "env"]) else { break }
            guard case .command(let c)? = ConfigDecoder.decodeCommand(.object(s.removing(["type", "timeout"])), sat, reader: &r) else { break }
            let timeout = r.integer(s, "timeout", sat, range: 1...LookupSettings.maxCommandTimeout) ?? LookupSettings.defaultCommandTimeout
            lookup.source = .command(argv: c.argv, timeout: timeout, environment: c.environment)
        case nil:
            r.problem(sat + ".type", "is required (one of: static, csv, sqlite, command)")
        case let other?:
            r.problem(sat + ".type", "unknown source type \"\(other)\" (one of: static, csv, sqlite, command)")
        }
        return lookup
    }

    /// A dataset's fixed `{key, value}` pairs.
    static func pairs(_ list: [JSONValue], _ at: String, reader r: inout ConfigReader) -> [LookupField] {
        var out: [LookupField] = []
        for (i, item) in list.enumerated() {
            let iat = "\(at)[\(i)]"
            guard let o = r.object(item, iat, allowed: ["key", "value"]) else { continue }
            guard let k = r.string(o, "key", iat, required: true),
                  let v = r.string(o, "value", iat, required: true, nonEmpty: false) else { continue }
            if DatasetReply.cut(k) != k || DatasetReply.cut(v) != v {
                r.warnings.append("\(iat): longer than \(DatasetReply.maxLength) characters (an emoji counts as two); SPALO takes 50, so it will be cut")
            }
            out.append(LookupField(name: k, value: v))
        }
        if list.count > DatasetReply.maxActions {
            r.warnings.append("\(at): \(list.count) entries; SPALO takes \(DatasetReply.maxActions), the rest are not sent")
        }
        return out
    }

    static func decodeActions(_ value: JSONValue?, _ at: String, kind: SpaloKind, lookupTimeout: Int,
                              reader r: inout ConfigReader, fsync: Bool) -> [ActionSettings] {
        let actions = ConfigDecoder.decodeActions(value, at, event: kind.rawValue, reader: &r, fsync: fsync)
        guard kind != .send else { return actions }
        for case (let i, let a) in actions.enumerated() {
            let timeout: Int? = switch a {
            case .mail(let m): m.timeout
            case .command(let c): c.timeout
            case .append: nil
            }
            if let timeout, timeout + lookupTimeout >= 5 {
                r.warnings.append("\(at)[\(i)]: a timeout of \(timeout) s\(lookupTimeout > 0 ? " after the lookup's \(lookupTimeout) s" : "") can outlast SPALO's 5-second wait; the bot would see an error")
            }
        }
        return actions
    }

    static func isValidName(_ name: String) -> Bool {
        name.utf8.count <= 64 && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
    }
}
