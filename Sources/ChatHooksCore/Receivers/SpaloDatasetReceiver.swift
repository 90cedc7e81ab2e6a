/// SPALO's "外部データ設定" (`dataset`): the bot waits up to 5 seconds for values
/// to fill in. Authenticated by the body (`webhookKey`, bcrypt `secretHash`);
/// every answer, errors included, is SPALO's own JSON.
enum SpaloDatasetReceiver: Receiver {
    static var source: String { "spalo" }
    static var event: String { "dataset" }

    static func prepare(_ config: Config, _ request: Request) throws(HTTPError) -> SpaloSettings {
        try Pipeline.refuseBrokenBlock(config.spaloProblems, of: config)
        guard let sp = config.spalo else { throw HTTPError.notConfigured("spalo is not in \(config.path)") }
        return sp
    }

    static func admit(_ payload: JSONObject?, _ sp: SpaloSettings) throws(HTTPError) -> Admission {
        // An empty body is SPALO's URL check, like a body without webhookKey.
        let payload = payload ?? JSONObject()
        let authenticator = SpaloAuthenticator(webhookKey: sp.webhookKey, clientSecret: sp.clientSecret)
        if try authenticator.authenticate(payload) == .urlCheck {
            // SPALO checks a URL when it is registered: answer, run nothing.
            return .answered(.json(200, .object(JSONObject([.init(key: "type", value: .string("dataset")), .init(key: "actions", value: .array([]))]))))
        }
        var reader = FieldReader(payload)
        let typed = try SpaloDatasetRequest(&reader)
        return .admitted(Admitted(event: .spaloDataset(typed), journalPayload: payload.removing(SpaloDatasetRequest.secretKeys),
                                  actions: sp.actions, webhook: ""))
    }

    static func reply(_ admitted: Admitted, _ sp: SpaloSettings, _ accepted: AcceptedEvent,
                             _ results: Pipeline.ActionResults, _ config: Config) -> Response {
        var reply = DatasetReply.response(sp.dataset.staticEntries, emptyMessage: sp.dataset.emptyMessage)
        SpaloForm.addOutcomeHeaders(&reply, accepted, results)
        return reply
    }

    static func errorResponse(_ error: HTTPError, _ config: ConfigOutcome) -> Response {
        SpaloForm.errorResponse(error, config)
    }

    static func decodeJournaled(_ payload: JSONObject) throws(HTTPError) -> ValidatedEvent {
        var reader = FieldReader(payload)
        return .spaloDataset(try SpaloDatasetRequest(&reader))
    }

    static func actions(for record: JournalRecord, in config: Config) -> Result<[ActionSettings], ReplayRefusal> {
        guard let sp = config.spalo else { return .failure(ReplayRefusal(message: "spalo is not in \(config.path)")) }
        return .success(sp.actions)
    }

    static func describe(_ config: Config) -> String {
        guard let sp = config.spalo else { return "not configured (answers 503)\n" }
        let n = min(sp.dataset.staticEntries.count, DatasetReply.maxActions)
        return "POST with webhookKey and a bcrypt secretHash of the client secret; journal"
            + CLI.actionsText(sp.actions)
            + (n == 0 ? "; reply 400 \"\(sp.dataset.emptyMessage)\"\n" : "; reply \(n) static value\(n == 1 ? "" : "s") (\(sp.dataset.staticEntries.prefix(3).map(\.key).joined(separator: ", "))\(n > 3 ? ", …" : ""))\n")
    }
}

/// What every SPALO reply shares.
enum SpaloForm {
    /// The bot user is waiting for the data: a reply stands even when an
    /// action failed, and headers say what failed or waits (the event is journaled).
    static func addOutcomeHeaders(_ reply: inout Response, _ accepted: AcceptedEvent, _ results: Pipeline.ActionResults) {
        reply.headers.append(("X-Chathooks-Request-Id", accepted.record.requestID))
        if !results.failures.isEmpty {
            reply.headers.append(("X-Chathooks-Action-Failed", MIMEMessage.clean(results.failures.joined(separator: "; "))))
        }
        if !results.deferred.isEmpty {
            reply.headers.append(("X-Chathooks-Action-Deferred", MIMEMessage.clean(results.deferred.joined(separator: "; "))))
        }
    }

    /// `{"type":"text","text":…}`: the bot user reads the text, so it says
    /// nothing of the cause (`spalo.errorText`, else a short Japanese
    /// sentence). The error code (never a detail) is in a header, for whoever
    /// tests the URL with curl.
    static func errorResponse(_ error: HTTPError, _ config: ConfigOutcome) -> Response {
        var headers = error.headers
        headers.append(("X-Chathooks-Error", error.code))
        return DatasetReply.textResponse(error.status, errorText(config), headers: headers)
    }

    static func errorText(_ config: ConfigOutcome) -> String {
        if case .loaded(let c) = config, let text = c.spalo?.errorText { return text }
        return SpaloSettings.defaultErrorText
    }
}
