/// SPALO's webhooks. All three kinds are authenticated by the body: its
/// `webhookKey` picks the configured webhook (compared with every key, in
/// constant time), then its `secretHash` must be a bcrypt hash of *that*
/// webhook's client secret. A POST without `webhookKey` is SPALO checking the
/// URL: answered 200, nothing run. Errors are SPALO's `{"type":"text"}`.
enum SpaloReceiver<Kind: SpaloWebhookKind>: Receiver {
    static var source: String { "spalo" }
    static var event: String { Kind.kind.rawValue }
    static var crashesInSpaloForm: Bool { true }

    /// The webhooks, and when the request began (SPALO's 5 seconds run from about then).
    struct Context {
        var settings: SpaloSettings
        var started: UInt64
    }

    static func prepare(_ config: Config, _ request: Request) throws(HTTPError) -> Context {
        let started = monotonicNanoseconds()
        try HTTPError.refuseBrokenBlock(config.spaloProblems, of: config)
        guard let sp = config.spalo else { throw HTTPError.notConfigured("spalo is not in \(config.path)") }
        guard sp.webhooks.contains(where: { $0.kind == Kind.kind }) else {
            throw HTTPError.notConfigured("spalo.webhooks has no \(Kind.kind.rawValue) webhook in \(config.path)")
        }
        return Context(settings: sp, started: started)
    }

    /// An empty body is SPALO's URL check, like a body without webhookKey.
    static func answerWithoutJournal(_ payload: JSONObject?, _ context: Context) -> Response? {
        guard let payload, payload["webhookKey"] != nil else { return Kind.urlCheckReply }
        return nil
    }

    static func admit(_ payload: JSONObject?, _ context: Context) throws(HTTPError) -> Admitted {
        let sp = context.settings
        guard case .string(let key)? = payload?["webhookKey"], let payload else {
            throw HTTPError.unauthorized("webhookKey must be a string")
        }
        let webhook = try match(key, in: sp.webhooks)
        try SpaloAuthenticator.verify(payload, clientSecret: webhook.clientSecret)
        var reader = FieldReader(payload)
        let event = try Kind.decode(&reader)
        return Admitted(event: event, journalPayload: payload.removing(SpaloDatasetRequest.secretKeys),
                        actions: webhook.actions, webhook: webhook.name)
    }

    /// The webhook whose key this is. Every configured key is compared, each
    /// in constant time and with no early exit, so the time taken says
    /// nothing about which key (or how much of one) matched. A key of a
    /// webhook of another kind is refused like an unknown one.
    static func match(_ key: String, in webhooks: [SpaloWebhook]) throws(HTTPError) -> SpaloWebhook {
        var found = -1
        for (i, w) in webhooks.enumerated() {
            let equal = constantTimeEquals(key.utf8, w.webhookKey.utf8)
            found = equal ? i : found
        }
        guard found >= 0 else { throw HTTPError.unauthorized("webhookKey does not match") }
        let webhook = webhooks[found]
        guard webhook.kind == Kind.kind else {
            throw HTTPError(401, "unauthorized", "webhookKey does not match",
                            detail: "it is the key of webhook \(webhook.name), a \(webhook.kind.rawValue) webhook, not a \(Kind.kind.rawValue) one: register /hooks/spalo/\(webhook.kind.rawValue) for it")
        }
        return webhook
    }

    /// The lookup, first: the bot is waiting for its answer, and the actions
    /// get what is left of the time.
    static func answerBeforeActions(_ admitted: Admitted, _ context: Context, _ accepted: AcceptedEvent,
                                    _ config: Config) -> Response? {
        Kind.answer(webhook(admitted, context.settings), accepted, config)
    }

    /// SPALO waits 5 seconds: the actions get what is left of 4 (at least
    /// one each). A mail not handed over by then waits in the spool for
    /// `chathooks retry`; a command cut short says so, for `chathooks replay`.
    static func actionTimeCap(_ context: Context) -> Int? {
        let elapsed = Int((monotonicNanoseconds() - context.started) / 1_000_000)
        return max(1, (4000 - elapsed) / 1000)
    }

    static func reply(_ admitted: Admitted, _ context: Context, _ accepted: AcceptedEvent,
                      _ results: ActionResults, _ config: Config, answer: Response?) -> Response {
        var reply = Kind.reply(webhook(admitted, context.settings), accepted, results, answer: answer)
        SpaloForm.addOutcomeHeaders(&reply, accepted, results)
        return reply
    }

    /// The webhook `admit` matched (by the name it gave a moment ago).
    static func webhook(_ admitted: Admitted, _ sp: SpaloSettings) -> SpaloWebhook {
        sp.webhooks.first { $0.name == admitted.webhook } ?? sp.webhooks[0]
    }

    static func errorResponse(_ error: HTTPError, _ config: ConfigOutcome) -> Response {
        SpaloForm.errorResponse(error, config)
    }

    static func decodeJournaled(_ payload: JSONObject) throws(HTTPError) -> ValidatedEvent {
        var reader = FieldReader(payload)
        return try Kind.decode(&reader)
    }

    static func actions(for record: JournalRecord, in config: Config) -> Result<[ActionSettings], ReplayRefusal> {
        // Journals written before webhooks had names hold the one dataset webhook's events.
        let name = record.webhook.isEmpty ? "dataset" : record.webhook
        guard let w = config.spalo?.webhooks.first(where: { $0.name == name && $0.kind == Kind.kind }) else {
            return .failure(ReplayRefusal(message: "no \(Kind.kind.rawValue) webhook named \(name) in \(config.path)"))
        }
        return .success(w.actions)
    }

    static func describe(_ config: Config) -> String {
        let mine = config.spalo?.webhooks.filter { $0.kind == Kind.kind } ?? []
        guard !mine.isEmpty else { return "not configured (answers 503)\n" }
        var out = "POST with webhookKey and a bcrypt secretHash of the webhook's client secret; \(mine.count) webhook\(mine.count == 1 ? "" : "s")\n"
        for w in mine {
            out += "  \(w.name): journal" + ActionSettings.summary(of: w.actions) + Kind.describeReply(w) + "\n"
        }
        return out
    }
}

/// What differs between SPALO's three kinds of webhook.
protocol SpaloWebhookKind {
    static var kind: SpaloKind { get }
    static func decode(_ reader: inout FieldReader) throws(HTTPError) -> ValidatedEvent
    /// The answer to SPALO's URL check: an empty answer of the kind's own form.
    static var urlCheckReply: Response { get }
    /// The lookup's answer (nil: none, for send).
    static func answer(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ config: Config) -> Response?
    static func reply(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ results: ActionResults, answer: Response?) -> Response
    static func describeReply(_ webhook: SpaloWebhook) -> String
}

extension SpaloWebhookKind {
    /// The lookup's answer stands (dataset, search), whatever the actions did:
    /// their outcome is in the headers.
    static func reply(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ results: ActionResults, answer: Response?) -> Response {
        answer ?? DatasetReply.textResponse(400, webhook.errorText)
    }
}

/// 外部データ設定: `{"type":"dataset","actions":[{"key":…,"value":…}]}`.
enum DatasetKind: SpaloWebhookKind {
    static var kind: SpaloKind { .dataset }

    static func decode(_ reader: inout FieldReader) throws(HTTPError) -> ValidatedEvent {
        .spaloDataset(try SpaloDatasetRequest(&reader, kind: .dataset))
    }

    static var urlCheckReply: Response {
        .json(200, .object(JSONObject([.init(key: "type", value: .string("dataset")), .init(key: "actions", value: .array([]))])))
    }

    static func answer(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ config: Config) -> Response? {
        SpaloForm.lookedUp(webhook, accepted, config) { (request) throws(LookupError) in
            DatasetReply.response(try LookupRunner.dataset(webhook.lookup, request, accepted, config: config),
                                  emptyMessage: webhook.emptyMessage)
        }
    }

    static func describeReply(_ w: SpaloWebhook) -> String {
        if case .fixed(let rows) = w.lookup.source {
            let fields = rows.first?.fields ?? []
            let n = min(fields.count, DatasetReply.maxActions)
            return n == 0 ? "; reply 400 \"\(w.emptyMessage)\""
                : "; reply \(n) static value\(n == 1 ? "" : "s") (\(fields.prefix(3).map(\.name).joined(separator: ", "))\(n > 3 ? ", …" : ""))"
        }
        return "; reply the values " + SpaloForm.describeLookup(w)
    }
}

/// データ参照: a JSON array of candidate strings.
enum SearchKind: SpaloWebhookKind {
    static var kind: SpaloKind { .search }

    static func decode(_ reader: inout FieldReader) throws(HTTPError) -> ValidatedEvent {
        .spaloSearch(try SpaloDatasetRequest(&reader, kind: .search))
    }

    static var urlCheckReply: Response { .json(200, .array([])) }

    static func answer(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ config: Config) -> Response? {
        SpaloForm.lookedUp(webhook, accepted, config) { (request) throws(LookupError) in
            DatasetReply.candidates(try LookupRunner.search(webhook.lookup, request, accepted, config: config),
                                    emptyMessage: webhook.emptyMessage)
        }
    }

    static func describeReply(_ w: SpaloWebhook) -> String {
        if case .fixed(let rows) = w.lookup.source { return "; reply \(min(rows.count, DatasetReply.maxActions)) static candidates" }
        return "; reply the candidates " + SpaloForm.describeLookup(w)
    }
}

/// データ送信: journaled, its actions run; answered 200 `{"ok":true,"id":…}`
/// (SPALO asks only for a 200), with `"failed"` and `"deferred"` listing
/// what did not run when something did not — never a 5xx, which SPALO
/// counts as a failed send: the event is in the journal, and
/// `chathooks replay` runs what failed.
enum SendKind: SpaloWebhookKind {
    static var kind: SpaloKind { .send }

    static func decode(_ reader: inout FieldReader) throws(HTTPError) -> ValidatedEvent {
        .spaloSend(try SpaloSendRequest(&reader))
    }

    static var urlCheckReply: Response { .json(200, .object(JSONObject())) }

    static func answer(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ config: Config) -> Response? { nil }

    static func reply(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ results: ActionResults, answer: Response?) -> Response {
        var body = JSONObject()
        body.append("ok", .bool(true))
        body.append("id", .string(accepted.record.requestID))
        if !results.failures.isEmpty { body.append("failed", .array(results.failures.map { .string($0) })) }
        if !results.deferred.isEmpty { body.append("deferred", .array(results.deferred.map { .string($0) })) }
        return .json(200, .object(body))
    }

    static func describeReply(_ w: SpaloWebhook) -> String { "; reply 200" }
}

/// What every SPALO reply shares.
enum SpaloForm {
    /// The bot user is waiting for the data: a reply stands even when an
    /// action failed, and headers say what failed or waits (the event is journaled).
    static func addOutcomeHeaders(_ reply: inout Response, _ accepted: AcceptedEvent, _ results: ActionResults) {
        reply.headers.append(("X-Chathooks-Request-Id", accepted.record.requestID))
        if !results.failures.isEmpty {
            reply.headers.append(("X-Chathooks-Action-Failed", MIMEMessage.clean(results.failures.joined(separator: "; "))))
        }
        if !results.deferred.isEmpty {
            reply.headers.append(("X-Chathooks-Action-Deferred", MIMEMessage.clean(results.deferred.joined(separator: "; "))))
        }
    }

    /// The answer `lookup` makes from the request; a lookup that fails is the
    /// webhook's 400 text.
    static func lookedUp(_ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ config: Config,
                         _ lookup: (SpaloDatasetRequest) throws(LookupError) -> Response) -> Response {
        guard let request = accepted.event.spaloRequest else { return DatasetReply.textResponse(400, webhook.errorText) }
        do {
            return try lookup(request)
        } catch {
            return lookupFailed(error, webhook, accepted, config)
        }
    }

    /// A lookup that failed: SPALO's 400 with the webhook's text (never a
    /// 500, which SPALO shows as a broken bot); the cause on stderr.
    static func lookupFailed(_ error: LookupError, _ webhook: SpaloWebhook, _ accepted: AcceptedEvent, _ config: Config) -> Response {
        logError("spalo/\(webhook.kind.rawValue) \(webhook.name) \(accepted.record.requestID): lookup failed: "
                 + config.redacting(error.message))
        return DatasetReply.textResponse(400, webhook.errorText, headers: [("X-Chathooks-Error", "lookup_failed")])
    }

    static func describeLookup(_ w: SpaloWebhook) -> String {
        let key = w.lookup.key.map { " by \($0)" } ?? ""
        switch w.lookup.source {
        case .fixed: return "from the config"
        case .csv(let path, let encoding, let match): return "from \(path) (\(encoding.rawValue)) where \(match) =\(key.isEmpty ? " ?" : key.dropFirst(3))"
        case .sqlite(let path, _, _): return "from SQLite \(path)\(key)"
        case .command(let argv, let timeout, _): return "printed by \(argv.joined(separator: " ")) (timeout \(timeout) s)\(key)"
        case .none: return ""
        }
    }

    /// `{"type":"text","text":…}`: the bot user reads the text, so it says
    /// nothing of the cause (`spalo.errorText`, else a short Japanese
    /// sentence). The error code (never a detail) is in a header, for whoever
    /// tests the URL with curl. A 5xx of ours (a journal that cannot be
    /// written, a configuration that cannot be used) goes out as 400: SPALO
    /// shows a 5xx as a broken bot, and a 400 with back and skip buttons; the
    /// status we meant is in `X-Chathooks-Status`.
    static func errorResponse(_ error: HTTPError, _ config: ConfigOutcome) -> Response {
        var headers = error.headers
        headers.append(("X-Chathooks-Error", error.code))
        var status = error.status
        if status >= 500 {
            headers.append(("X-Chathooks-Status", String(status)))
            status = 400
        }
        return DatasetReply.textResponse(status, errorText(config), headers: headers)
    }

    static func errorText(_ config: ConfigOutcome) -> String {
        if case .loaded(let c) = config, let text = c.spalo?.errorText { return text }
        return SpaloSettings.defaultErrorText
    }
}
