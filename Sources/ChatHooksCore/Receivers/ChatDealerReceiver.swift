/// A Chat Dealer event as it arrives: one of the five payload types.
protocol ChatDealerPayload: Sendable {
    static var event: ChatDealerEvent { get }
    init(_ r: inout FieldReader) throws(HTTPError)
    var validated: ValidatedEvent { get }
}

extension ChatStart: ChatDealerPayload {
    static var event: ChatDealerEvent { .chatStart }
    var validated: ValidatedEvent { .chatStart(self) }
}
extension ChatMessageEvent: ChatDealerPayload {
    static var event: ChatDealerEvent { .chatMessage }
    var validated: ValidatedEvent { .chatMessage(self) }
}
extension ChatEnd: ChatDealerPayload {
    static var event: ChatDealerEvent { .chatEnd }
    var validated: ValidatedEvent { .chatEnd(self) }
}
extension ScenarioFired: ChatDealerPayload {
    static var event: ChatDealerEvent { .scenario }
    var validated: ValidatedEvent { .scenario(self) }
}
extension FormAnswered: ChatDealerPayload {
    static var event: ChatDealerEvent { .form }
    var validated: ValidatedEvent { .form(self) }
}

/// Chat Dealer's "外部 API 呼び出し": the token is in a header, so strangers are
/// turned away before the body is read; the answer is ours, `{"ok":true,"id":…}`.
enum ChatDealerReceiver<Payload: ChatDealerPayload>: Receiver {
    static var source: String { "chatdealer" }
    static var event: String { Payload.event.rawValue }

    static func prepare(_ config: Config, _ request: Request) throws(HTTPError) -> EventSettings {
        try HTTPError.refuseBrokenBlock(config.chatdealerProblems, of: config)
        guard let cd = config.chatdealer else { throw HTTPError.notConfigured("chatdealer is not in \(config.path)") }
        guard let settings = cd.events[Payload.event] else {
            throw HTTPError.notConfigured("chatdealer.events.\(event) is not in \(config.path)")
        }
        try cd.authenticator.authenticate(request)
        return settings
    }

    static func answerWithoutJournal(_ payload: JSONObject?, _ settings: EventSettings) -> Response? { nil }

    static func admit(_ payload: JSONObject?, _ settings: EventSettings) throws(HTTPError) -> Admitted {
        guard let payload else { throw HTTPError.badRequest("empty_body", "the body is empty") }
        var reader = FieldReader(payload)
        let typed = try Payload(&reader)
        return Admitted(event: typed.validated, journalPayload: payload, actions: settings.actions, webhook: "")
    }

    static func answerBeforeActions(_ admitted: Admitted, _ settings: EventSettings, _ accepted: AcceptedEvent,
                                    _ config: Config) -> Response? { nil }

    static func actionTimeCap(_ settings: EventSettings) -> Int? { nil }

    static func reply(_ admitted: Admitted, _ settings: EventSettings, _ accepted: AcceptedEvent,
                             _ results: ActionResults, _ config: Config, answer: Response?) -> Response {
        OwnSuccessForm.response(accepted, results)
    }

    static func errorResponse(_ error: HTTPError, _ config: ConfigOutcome) -> Response {
        OwnErrorForm.response(error)
    }

    static func decodeJournaled(_ payload: JSONObject) throws(HTTPError) -> ValidatedEvent {
        var reader = FieldReader(payload)
        return try Payload(&reader).validated
    }

    static func actions(for record: JournalRecord, in config: Config) -> Result<[ActionSettings], ReplayRefusal> {
        guard let settings = config.chatdealer?.events[Payload.event] else {
            return .failure(ReplayRefusal(message: "chatdealer.events.\(event) is not in \(config.path)"))
        }
        return .success(settings.actions)
    }

    static func describe(_ config: Config) -> String {
        guard let cd = config.chatdealer, let settings = cd.events[Payload.event] else {
            return "not configured (answers 503)\n"
        }
        return "POST with header \(cd.header) holding one of \(cd.tokens.count) token\(cd.tokens.count == 1 ? "" : "s"); journal"
            + ActionSettings.summary(of: settings.actions) + "\n"
    }
}

/// Our own success form: `{"ok":true,"id":"…"}`, 202 with what is left to do
/// (a spooled mail) under "deferred", 500 when an action failed (the event is
/// in the journal all the same, and the message says so).
enum OwnSuccessForm {
    static func response(_ accepted: AcceptedEvent, _ results: ActionResults) -> Response {
        let id = accepted.record.requestID
        guard results.failures.isEmpty else {
            var body = JSONObject()
            body.append("ok", .bool(false))
            body.append("error", .string("action_failed"))
            body.append("id", .string(id))
            body.append("message", .string("the event is in the journal as \(id), but an action failed: \(results.failures.joined(separator: "; "))"))
            return .json(500, .object(body))
        }
        // Written straight out: this is every Chat Dealer request's answer.
        var writer = JSONWriter(reservingCapacity: 64)
        writer.raw("{\"ok\":true,\"id\":")
        writer.writeString(id)
        if !results.deferred.isEmpty {
            writer.raw(",\"deferred\":")
            writer.write(.array(results.deferred.map { .string($0) }))
        }
        writer.raw("}\n")
        return Response(status: results.deferred.isEmpty ? 200 : 202, contentType: Response.jsonType, body: writer.bytes)
    }
}
