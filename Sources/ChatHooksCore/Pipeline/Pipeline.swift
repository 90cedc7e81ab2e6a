/// The request path, the same for every transport: method → config → auth →
/// length → body → decode → validate → journal → actions → response. Every
/// `HTTPError` thrown on the way becomes a response here and nowhere else.
public enum Pipeline {
    public static func handle(
        _ endpoint: Endpoint, request: Request, body: inout some BodyReader,
        config: ConfigOutcome
    ) -> Response {
        do {
            return try accept(endpoint, request: request, body: &body, config: config)
        } catch {
            let remote = request.remoteAddress.isEmpty ? "" : " from \(request.remoteAddress)"
            logError("\(endpoint.route): \(error.status) \(error.code)\(remote): \(error.message)"
                     + (error.detail.map { " (\($0))" } ?? ""))
            return errorResponse(endpoint, error, spaloText: Pipeline.spaloErrorText(config))
        }
    }

    /// A sender whose own block of the file has problems is not received
    /// (the other sender's may be: see `Config.chatdealerProblems`).
    static func refuseBrokenBlock(_ problems: [String], of config: Config) throws(HTTPError) {
        guard problems.isEmpty else {
            throw HTTPError.invalidConfiguration(ConfigError(path: config.path, problems: problems).logLine)
        }
    }

    /// What SPALO shows the person chatting with the bot when a call is
    /// refused: `spalo.errorText`, else a short Japanese sentence that says
    /// nothing about why (the why is in the error log).
    static func spaloErrorText(_ config: ConfigOutcome) -> String {
        if case .loaded(let c) = config, let text = c.spalo?.errorText { return text }
        return SpaloSettings.defaultErrorText
    }

    static func accept(
        _ endpoint: Endpoint, request: Request, body: inout some BodyReader,
        config result: ConfigOutcome
    ) throws(HTTPError) -> Response {
        guard request.method == "POST" else { throw HTTPError.methodNotAllowed }
        let config: Config
        switch result {
        case .loaded(let c): config = c
        case .failed(let e): throw HTTPError.configuration(e)
        }
        switch endpoint {
        case .chatdealer(let event):
            try refuseBrokenBlock(config.chatdealerProblems, of: config)
            guard let cd = config.chatdealer else { throw HTTPError.notConfigured("chatdealer is not in \(config.path)") }
            guard let settings = cd.events[event] else {
                throw HTTPError.notConfigured("chatdealer.events.\(event.rawValue) is not in \(config.path)")
            }
            // The token is in a header: strangers are turned away before the body is read.
            try cd.authenticator.authenticate(request)
            guard let payload = try readPayload(request, body: &body, limit: config.maxBodyBytes) else {
                throw HTTPError.badRequest("empty_body", "the body is empty")
            }
            try event.validate(payload)
            let accepted = try journal(endpoint, request: request, payload: payload, config: config)
            let results = runActions(settings.actions, accepted)
            let id = accepted.record.requestID
            guard results.failures.isEmpty else {
                var body = JSONObject()
                body.append("ok", .bool(false))
                body.append("error", .string("action_failed"))
                body.append("id", .string(id))
                body.append("message", .string("the event is in the journal as \(id), but an action failed: \(results.failures.joined(separator: "; "))"))
                return .json(500, .object(body))
            }
            // {"ok":true,"id":"…"}, written straight out; 202 with what is left
            // to do (a spooled mail) under "deferred".
            var writer = JSONWriter(reservingCapacity: 64)
            writer.raw("{\"ok\":true,\"id\":")
            writer.writeString(id)
            if !results.deferred.isEmpty {
                writer.raw(",\"deferred\":")
                writer.write(.array(results.deferred.map { .string($0) }))
            }
            writer.raw("}\n")
            return Response(status: results.deferred.isEmpty ? 200 : 202, contentType: Response.jsonType, body: writer.bytes)

        case .spaloDataset:
            try refuseBrokenBlock(config.spaloProblems, of: config)
            guard let sp = config.spalo else { throw HTTPError.notConfigured("spalo is not in \(config.path)") }
            // An empty body is SPALO's URL check, like a body without webhookKey.
            let payload = try readPayload(request, body: &body, limit: config.maxBodyBytes) ?? JSONObject()
            let authenticator = SpaloAuthenticator(webhookKey: sp.webhookKey, clientSecret: sp.clientSecret)
            if try authenticator.authenticate(payload) == .urlCheck {
                // SPALO checks a URL when it is registered: answer, run nothing.
                return .json(200, .object(JSONObject([.init(key: "type", value: .string("dataset")), .init(key: "actions", value: .array([]))])))
            }
            var reader = FieldReader(payload)
            _ = try SpaloDatasetRequest(&reader)
            let accepted = try journal(endpoint, request: request, payload: payload.removing(SpaloDatasetRequest.secretKeys), config: config)
            let results = runActions(sp.actions, accepted)
            var reply = DatasetReply.response(sp.dataset.staticEntries, emptyMessage: sp.dataset.emptyMessage)
            // The bot user is waiting for the data: the reply stands, and the
            // response says in headers what failed or waits (the event is journaled).
            reply.headers.append(("X-Chathooks-Request-Id", accepted.record.requestID))
            if !results.failures.isEmpty {
                reply.headers.append(("X-Chathooks-Action-Failed", MIMEMessage.clean(results.failures.joined(separator: "; "))))
            }
            if !results.deferred.isEmpty {
                reply.headers.append(("X-Chathooks-Action-Deferred", MIMEMessage.clean(results.deferred.joined(separator: "; "))))
            }
            return reply
        }
    }

    /// The decoded body; nil when it is empty.
    static func readPayload(_ request: Request, body: inout some BodyReader, limit: Int) throws(HTTPError) -> JSONObject? {
        let length = try BodyDecoder.contentLength(request, limit: limit)
        let kind = try BodyDecoder.kind(request)
        let bytes = try BodyDecoder.read(&body, length: length)
        if bytes.isEmpty { return nil }
        return try BodyDecoder.decode(bytes, as: kind)
    }

    /// Writes the event to the journal; only then may anything else happen.
    static func journal(_ endpoint: Endpoint, request: Request, payload: JSONObject, config: Config) throws(HTTPError) -> AcceptedEvent {
        let now = Timestamp.now()
        let record = JournalRecord(receivedAt: now, source: endpoint.source, event: endpoint.eventName,
                                   requestID: RequestID.make(at: now), remoteAddress: request.remoteAddress,
                                   payload: payload)
        let accepted = AcceptedEvent(record: record)
        Teardown.park(accepted)
        do {
            try LineAppender(path: config.journal.path, fsync: config.journal.fsync).append(accepted.line)
        } catch {
            throw HTTPError(500, "journal_failed", "the event could not be written to the journal, so it was not accepted; nothing was run",
                            detail: "\(error)")
        }
        return accepted
    }

    public struct ActionResults {
        public var failures: [String] = []
        public var deferred: [String] = []
    }

    /// Runs every action in order, even after one fails; with `only`, just the
    /// actions of that type. Each keeps its place in the configured list
    /// whatever is skipped: a mail's spool file and Message-ID are named by it,
    /// so a replayed mail is the same mail.
    public static func runActions(_ settings: [ActionSettings], _ event: AcceptedEvent, only: String? = nil) -> ActionResults {
        var results = ActionResults()
        for (i, s) in settings.enumerated() where only == nil || s.typeName == only {
            do {
                if case .deferred(let why) = try ActionFactory.make(s, index: i).run(event) { results.deferred.append(why) }
            } catch {
                logError("\(event.record.source)/\(event.record.event) \(event.record.requestID): \(error.detail)")
                results.failures.append(error.message)
            }
        }
        return results
    }

    /// An error in the sender's own form: SPALO's `{"type":"text",…}`, else ours
    /// (also for a request that matched no endpoint).
    static func errorResponse(_ endpoint: Endpoint?, _ error: HTTPError, spaloText: String = SpaloSettings.defaultErrorText) -> Response {
        var headers = error.headers
        switch endpoint {
        case .spaloDataset?:
            // The bot user reads the text: it says nothing of the cause. The
            // error code (never a detail) is in a header, for whoever tests
            // the URL with curl.
            headers.append(("X-Chathooks-Error", error.code))
            return DatasetReply.textResponse(error.status, spaloText, headers: headers)
        case .chatdealer?, nil:
            var body = JSONObject()
            body.append("ok", .bool(false))
            body.append("error", .string(error.code))
            body.append("message", .string(error.message))
            return .json(error.status, .object(body), headers: headers)
        }
    }
}
