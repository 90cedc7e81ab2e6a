import Glibc

/// Runs a webhook's lookup for one request. Every way a source can fail is a
/// `LookupError` (the receiver answers SPALO's 400 with the configured text
/// and logs the detail); "nothing found" is an empty result, not an error.
enum LookupRunner {
    /// At most this many records are read for one answer (SPALO takes 200).
    static let recordLimit = 200

    /// A dataset's values: the first record's fields, chosen and renamed.
    static func dataset(_ lookup: LookupSettings, _ request: SpaloDatasetRequest, _ accepted: AcceptedEvent,
                        cacheDirectory: String) throws(LookupError) -> [LookupField] {
        if case .command = lookup.source {
            return try CommandLookup.dataset(lookup, accepted)
        }
        guard let row = try records(lookup, request, limit: 1, cacheDirectory: cacheDirectory).first else { return [] }
        return select(row, lookup)
    }

    /// A search's candidates: one field of each record.
    static func search(_ lookup: LookupSettings, _ request: SpaloDatasetRequest, _ accepted: AcceptedEvent,
                       cacheDirectory: String) throws(LookupError) -> [String] {
        if case .command = lookup.source {
            return try CommandLookup.search(lookup, accepted)
        }
        var out: [String] = []
        for row in try records(lookup, request, limit: recordLimit, cacheDirectory: cacheDirectory) {
            let field = lookup.candidate.flatMap { c in row.fields.first { $0.name == c } }
                ?? row.fields.first { f in
                    if case .csv(_, _, let match) = lookup.source { return f.name != match }
                    return true
                }
            if let field { out.append(field.value) }
        }
        return out
    }

    /// The records the source finds for this request.
    static func records(_ lookup: LookupSettings, _ request: SpaloDatasetRequest, limit: Int,
                        cacheDirectory: String) throws(LookupError) -> [LookupRow] {
        let key = lookup.key.map { ($0, $0.value(in: request)) }
        if let (selector, value) = key, value == nil {
            // Nothing to look up with: no record matches (said on stderr, for whoever set the bot up).
            logError("spalo lookup: the request has no \(selector); nothing to look up")
            return []
        }
        switch lookup.source {
        case .fixed(let rows):
            return rows
        case .csv(let path, let encoding, let match):
            guard let value = key?.1 else { throw LookupError("a CSV source needs the webhook's key") }
            do {
                return try CSVSource(path: path, encoding: encoding, matchColumn: match, cacheDirectory: cacheDirectory)
                    .rows(matching: value, limit: limit)
            } catch {
                throw error.message.hasPrefix(path) ? error : LookupError("CSV \(path): \(error.message)")
            }
        case .sqlite(let path, let query, let parameters):
            var bound: [LookupField] = []
            if let value = key?.1 { bound.append(LookupField(name: "key", value: value)) }
            for p in parameters {
                guard let v = p.value.value(in: request) else {
                    logError("spalo lookup: the request has no \(p.value) for :\(p.name); nothing to look up")
                    return []
                }
                bound.append(LookupField(name: p.name, value: v))
            }
            return try SQLiteSource(path: path, query: query).rows(binding: bound, limit: limit)
        case .command, .none:
            return []
        }
    }

    /// The fields sent: the configured columns, renamed, in the configured
    /// order; else every field (a CSV's match column left out).
    static func select(_ row: LookupRow, _ lookup: LookupSettings) -> [LookupField] {
        guard !lookup.columns.isEmpty else {
            if case .csv(_, _, let match) = lookup.source { return row.fields.filter { $0.name != match } }
            return row.fields
        }
        var out: [LookupField] = []
        for c in lookup.columns {
            if let f = row.fields.first(where: { $0.name == c.name }) { out.append(LookupField(name: c.value, value: f.value)) }
        }
        return out
    }
}

/// The command source: a program (never a shell) given the request, secrets
/// removed, on stdin; it prints the answer as JSON.
enum CommandLookup {
    static let captureLimit = 256 << 10

    static func environment(_ lookup: LookupSettings, _ accepted: AcceptedEvent, extra: [String: String]) -> [String: String] {
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        for (k, v) in extra { env[k] = v }
        let r = accepted.record
        env["CHATHOOKS_SOURCE"] = r.source
        env["CHATHOOKS_EVENT"] = r.event
        env["CHATHOOKS_WEBHOOK"] = r.webhook
        env["CHATHOOKS_REQUEST_ID"] = r.requestID
        env["CHATHOOKS_RECEIVED_AT"] = r.receivedAt.rfc3339
        if case .spaloDataset(let request) = accepted.event, let key = lookup.key, let value = key.value(in: request) {
            env["CHATHOOKS_KEY"] = MIMEMessage.clean(value)
        }
        return env
    }

    /// Runs the program; its output parsed as JSON.
    static func run(_ lookup: LookupSettings, _ accepted: AcceptedEvent) throws(LookupError) -> JSONValue {
        guard case .command(let argv, let timeout, let extra) = lookup.source else { throw LookupError("not a command source") }
        let name = argv[0].split(separator: "/").last.map(String.init) ?? argv[0]
        var stdin = JSONWriter.serialize(.object(accepted.record.payload))
        stdin.append(0x0A)
        let result: Subprocess.Result
        do {
            result = try Subprocess(argv: argv, environment: environment(lookup, accepted, extra: extra), stdin: stdin,
                                    timeoutSeconds: timeout, captureLimit: captureLimit).run()
        } catch {
            throw LookupError("command \(argv[0]) could not be started: \(error)")
        }
        for line in String(decoding: result.stderr, as: UTF8.self).split(separator: "\n").prefix(20) {
            logError("lookup command \(name) \(accepted.record.requestID) stderr: \(line)")
        }
        guard result.termination.succeeded else { throw LookupError("command \(argv[0]) \(result.termination)") }
        guard !result.truncated else { throw LookupError("command \(argv[0]) printed more than \(captureLimit) bytes") }
        do {
            return try JSONParser.parse(result.stdout, mode: .strict)
        } catch {
            throw LookupError("command \(argv[0]) did not print JSON (\(error)): \(String(decoding: result.stdout.prefix(120), as: UTF8.self))")
        }
    }

    /// SPALO's own reply object, or a flat object of key → value.
    static func dataset(_ lookup: LookupSettings, _ accepted: AcceptedEvent) throws(LookupError) -> [LookupField] {
        let value = try run(lookup, accepted)
        guard case .object(let object) = value else { throw LookupError("command printed \(value.typeName), not an object") }
        var fields: [LookupField] = []
        if object["type"]?.stringValue == "dataset", case .array(let actions)? = object["actions"] {
            for (i, a) in actions.enumerated() {
                guard let key = a["key"]?.scalarText, let v = a["value"]?.scalarText ?? (a["value"] == .null ? "" : nil) else {
                    throw LookupError("command printed actions[\(i)] without a text key and value")
                }
                fields.append(LookupField(name: key, value: v))
            }
        } else {
            for m in object.members {
                if m.value == .null { continue }
                guard let text = m.value.scalarText else {
                    throw LookupError("command printed \(m.key) as \(m.value.typeName); values must be strings or numbers")
                }
                fields.append(LookupField(name: m.key, value: text))
            }
        }
        return LookupRunner.select(LookupRow(fields), lookup)
    }

    /// A JSON array of strings (numbers taken as written).
    static func search(_ lookup: LookupSettings, _ accepted: AcceptedEvent) throws(LookupError) -> [String] {
        let value = try run(lookup, accepted)
        guard case .array(let list) = value else { throw LookupError("command printed \(value.typeName), not an array of strings") }
        var out: [String] = []
        for (i, v) in list.enumerated() {
            guard let text = v.scalarText else { throw LookupError("command printed [\(i)] as \(v.typeName), not a string") }
            out.append(text)
        }
        return out
    }
}
