import Glibc

/// Runs a webhook's lookup for one request. Every way a source can fail is a
/// `LookupError` (the receiver answers SPALO's 400 with the configured text
/// and logs the detail); "nothing found" is an empty result, not an error.
enum LookupRunner {
    /// At most this many records are read for one answer (SPALO takes 200).
    static let recordLimit = 200

    /// A dataset's values: the first record's fields, chosen and renamed.
    static func dataset(_ lookup: LookupSettings, _ request: SpaloDatasetRequest, _ accepted: AcceptedEvent,
                        config: Config) throws(LookupError) -> [LookupField] {
        guard let key = try key(lookup, request) else { return [] }
        if case .command = lookup.source {
            return try CommandLookup.dataset(lookup, key: key.value, accepted, config: config)
        }
        let cacheDirectory = cacheFolder(config)
        guard let row = try records(lookup, request, key: key.value, limit: 1, cacheDirectory: cacheDirectory).first else { return [] }
        return select(row, lookup)
    }

    /// A search's candidates: one field of each record.
    static func search(_ lookup: LookupSettings, _ request: SpaloDatasetRequest, _ accepted: AcceptedEvent,
                       config: Config) throws(LookupError) -> [String] {
        guard let key = try key(lookup, request) else { return [] }
        if case .command = lookup.source {
            return try CommandLookup.search(lookup, key: key.value, accepted, config: config)
        }
        let cacheDirectory = cacheFolder(config)
        var out: [String] = []
        for row in try records(lookup, request, key: key.value, limit: recordLimit, cacheDirectory: cacheDirectory) {
            let field = lookup.candidate.flatMap { c in row.fields.first { $0.name == c } }
                ?? row.fields.first { f in
                    if case .csv(_, _, let match) = lookup.source { return f.name != match }
                    return true
                }
            if let field { out.append(field.value) }
        }
        return out
    }

    /// Where a CSV source keeps its index: `cache/` beside the journal.
    static func cacheFolder(_ config: Config) -> String {
        Files.resolve("cache", against: Files.directoryName(config.journal.path))
    }

    /// The request's lookup key; its `value` is nil when the webhook names no key.
    struct Key {
        var value: String?
    }

    /// The lookup key, or nil when the webhook names one that this request
    /// does not usefully carry — missing, empty (an empty key would find the
    /// records whose column is empty: someone else's), or holding a NUL — so
    /// that nothing is found, whatever the source (said on stderr, for
    /// whoever set the bot up).
    static func key(_ lookup: LookupSettings, _ request: SpaloDatasetRequest) throws(LookupError) -> Key? {
        guard let selector = lookup.key else { return Key(value: nil) }
        guard let value = selector.value(in: request), usable(value) else {
            logError("spalo lookup: the request has no usable \(selector) (missing, empty or with a NUL); nothing to look up")
            return nil
        }
        return Key(value: value)
    }

    static func usable(_ value: String) -> Bool {
        !value.isEmpty && !value.utf8.contains(0)
    }

    /// The records the source finds for this request.
    static func records(_ lookup: LookupSettings, _ request: SpaloDatasetRequest, key: String?, limit: Int,
                        cacheDirectory: String) throws(LookupError) -> [LookupRow] {
        switch lookup.source {
        case .fixed(let rows):
            return rows
        case .csv(let path, let encoding, let match):
            guard let key else { throw LookupError("a CSV source needs the webhook's key") }
            do {
                return try CSVSource(path: path, encoding: encoding, matchColumn: match, cacheDirectory: cacheDirectory)
                    .rows(matching: key, limit: limit)
            } catch {
                throw error.message.hasPrefix(path) ? error : LookupError("CSV \(path): \(error.message)")
            }
        case .sqlite(let path, let query, let parameters):
            var bound: [LookupField] = []
            if let key { bound.append(LookupField(name: "key", value: key)) }
            for p in parameters {
                guard let v = p.value.value(in: request), usable(v) else {
                    logError("spalo lookup: the request has no usable \(p.value) for :\(p.name) (missing, empty or with a NUL); nothing to look up")
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

    static func environment(_ lookup: LookupSettings, key: String?, _ accepted: AcceptedEvent, extra: [String: String]) -> [String: String] {
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        for (k, v) in extra { env[k] = v }
        let r = accepted.record
        env["CHATHOOKS_SOURCE"] = r.source
        env["CHATHOOKS_EVENT"] = r.event
        env["CHATHOOKS_WEBHOOK"] = r.webhook
        env["CHATHOOKS_REQUEST_ID"] = r.requestID
        env["CHATHOOKS_RECEIVED_AT"] = r.receivedAt.rfc3339
        // As the request holds it (LookupRunner.key has refused one with a NUL).
        if let key { env["CHATHOOKS_KEY"] = key }
        return env
    }

    /// Runs the program; its output parsed as JSON.
    static func run(_ lookup: LookupSettings, key: String?, _ accepted: AcceptedEvent, config: Config) throws(LookupError) -> JSONValue {
        guard case .command(let argv, let timeout, let extra) = lookup.source else { throw LookupError("not a command source") }
        let name = argv[0].split(separator: "/").last.map(String.init) ?? argv[0]
        var stdin = JSONWriter.serialize(.object(accepted.record.payload))
        stdin.append(0x0A)
        let result: Subprocess.Result
        var process = Subprocess(argv: argv, environment: environment(lookup, key: key, accepted, extra: extra), stdin: stdin,
                                 timeoutSeconds: timeout, captureLimit: captureLimit)
        // Only its answer is wanted: nothing it started outlives the lookup.
        process.killGroupAfterExit = true
        do {
            result = try process.run()
        } catch {
            throw LookupError("command \(argv[0]) could not be started: \(error)")
        }
        for line in String(decoding: result.stderr, as: UTF8.self).split(separator: "\n").prefix(20) {
            logError("lookup command \(name) \(accepted.record.requestID) stderr: " + config.redacting(String(line)))
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
    static func dataset(_ lookup: LookupSettings, key: String?, _ accepted: AcceptedEvent, config: Config) throws(LookupError) -> [LookupField] {
        let value = try run(lookup, key: key, accepted, config: config)
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
    static func search(_ lookup: LookupSettings, key: String?, _ accepted: AcceptedEvent, config: Config) throws(LookupError) -> [String] {
        let value = try run(lookup, key: key, accepted, config: config)
        guard case .array(let list) = value else { throw LookupError("command printed \(value.typeName), not an array of strings") }
        var out: [String] = []
        for (i, v) in list.enumerated() {
            guard let text = v.scalarText else { throw LookupError("command printed [\(i)] as \(v.typeName), not a string") }
            out.append(text)
        }
        return out
    }
}
