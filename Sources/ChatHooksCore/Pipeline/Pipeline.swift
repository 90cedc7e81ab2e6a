/// The request path, the same for every receiver and transport: method →
/// config → header stage → length → body → body stage → journal → actions →
/// reply. Every `HTTPError` thrown on the way becomes a response here and
/// nowhere else, in the receiver's own error form.
public enum Pipeline {
    static func handle<R: Receiver>(
        _ receiver: R.Type, request: Request, body: inout some BodyReader, config: ConfigOutcome
    ) -> Response {
        do {
            return try accept(R.self, request: request, body: &body, config: config)
        } catch {
            let remote = request.remoteAddress.isEmpty ? "" : " from \(request.remoteAddress)"
            logError("\(R.source)/\(R.event): \(error.status) \(error.code)\(remote): \(error.message)"
                     + (error.detail.map { " (\($0))" } ?? ""))
            recordRejection(route: "\(R.source)/\(R.event)", error, request, config)
            return R.errorResponse(error, config)
        }
    }

    /// The refusal in the rejections file, when there is a configuration to
    /// say where that is. Out of line: an accepted request never comes here.
    @inline(never)
    package static func recordRejection(route: String, _ error: HTTPError, _ request: Request, _ config: ConfigOutcome) {
        guard case .loaded(let c) = config else { return }
        RejectionLog.append(route: route, error, request, files: c.journal.files, at: now(request, c))
    }

    /// The time of a request. A journal that rotates may be given a fixed
    /// time by the test suite (`CHATHOOKS_TEST_CLOCK`, RFC 3339, set by the
    /// gateway: no request header can set it), to write across a month's end
    /// without waiting for one; with no rotation the variable is not looked at.
    static func now(_ request: Request, _ config: Config) -> Timestamp {
        if config.journal.rotate != .none, let fixed = request.variables["CHATHOOKS_TEST_CLOCK"], let t = Timestamp(rfc3339: fixed) {
            return t
        }
        return Timestamp.now()
    }

    static func accept<R: Receiver>(
        _ receiver: R.Type, request: Request, body: inout some BodyReader, config result: ConfigOutcome
    ) throws(HTTPError) -> Response {
        guard request.method == "POST" else { throw HTTPError.methodNotAllowed }
        let config: Config
        switch result {
        case .loaded(let c): config = c
        case .failed(let e): throw HTTPError.configuration(e)
        }
        let context = try R.prepare(config, request)
        let payload = try readPayload(request, body: &body, limit: config.maxBodyBytes)
        if let answer = R.answerWithoutJournal(payload, context) { return answer }
        let admitted = try R.admit(payload, context)
        let accepted = try journal(R.source, R.event, admitted, request: request, config: config)
        let answer = R.answerBeforeActions(admitted, context, accepted, config)
        let results = ActionRunner.run(admitted.actions, accepted, timeCap: R.actionTimeCap(context))
        if !results.outcomes.isEmpty {
            OutcomeLog.append(accepted.record, run: .request, results.outcomes, files: config.journal.files,
                              at: now(request, config))
        }
        return R.reply(admitted, context, accepted, results, config, answer: answer)
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
    static func journal(_ source: String, _ event: String, _ admitted: Admitted, request: Request,
                        config: Config) throws(HTTPError) -> AcceptedEvent {
        let now = Pipeline.now(request, config)
        let record = JournalRecord(receivedAt: now, source: source, event: event, webhook: admitted.webhook,
                                   requestID: RequestID.make(at: now), remoteAddress: request.remoteAddress,
                                   payload: admitted.journalPayload)
        let accepted = AcceptedEvent(record: record, event: admitted.event)
        Teardown.park(accepted)
        do {
            let path = config.journal.rotate == .none ? config.journal.path : config.journal.files.path(.journal, at: now)
            try LineAppender(path: path, fsync: config.journal.fsync).append(accepted.line)
        } catch {
            throw HTTPError(500, "journal_failed", "the event could not be written to the journal, so it was not accepted; nothing was run",
                            detail: "\(error)")
        }
        return accepted
    }
}
