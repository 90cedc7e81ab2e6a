/// One kind of webhook — a Chat Dealer event, a SPALO webhook kind — as the
/// pipeline sees it. Everything that differs between kinds is here; the
/// sequence around it (`Pipeline`) is the same for all of them. Every
/// requirement is static and every caller is generic over the concrete type
/// (the registry, `ReceiverKind`, names each one), so a request never goes
/// through a witness table or an existential.
protocol Receiver {
    /// What the header stage hands the body stage: the configured settings
    /// that apply to this route.
    associatedtype Context

    /// `chatdealer`, `spalo`: the first part of the route and the journal's `source`.
    static var source: String { get }
    /// `chat-start`, `dataset`: the second part, and the journal's `event`.
    static var event: String { get }

    /// Header stage, before a byte of the body is read: the settings for this
    /// route (503 when there are none) and what the headers can authenticate.
    static func prepare(_ config: Config, _ request: Request) throws(HTTPError) -> Context

    /// An answer that needs no journal line and runs nothing (SPALO's URL
    /// check: a POST without `webhookKey`), or nil. `payload` is nil for an
    /// empty body.
    static func answerWithoutJournal(_ payload: JSONObject?, _ context: Context) -> Response?

    /// Body stage: what the body authenticates (SPALO's key and hash), then
    /// decoding and validation.
    static func admit(_ payload: JSONObject?, _ context: Context) throws(HTTPError) -> Admitted

    /// What the reply needs before the actions run, once the event is
    /// journaled (SPALO's lookup: the bot is waiting for it), or nil.
    static func answerBeforeActions(_ admitted: Admitted, _ context: Context, _ accepted: AcceptedEvent,
                                    _ config: Config) -> Response?

    /// The longest any action may take, in seconds, now (SPALO waits 5
    /// seconds in all); nil: each action's own timeout.
    static func actionTimeCap(_ context: Context) -> Int?

    /// The success reply, in the sender's form, once the event is journaled
    /// and its actions have run; `answer` is what `answerBeforeActions` gave.
    static func reply(_ admitted: Admitted, _ context: Context, _ accepted: AcceptedEvent,
                      _ results: ActionResults, _ config: Config, answer: Response?) -> Response

    /// An error in the sender's form.
    static func errorResponse(_ error: HTTPError, _ config: ConfigOutcome) -> Response

    /// The typed event again, from a journaled payload (for `replay`).
    static func decodeJournaled(_ payload: JSONObject) throws(HTTPError) -> ValidatedEvent

    /// The actions configured for a journaled record of this kind (`replay`);
    /// a reason when there are none to run because the config no longer has them.
    static func actions(for record: JournalRecord, in config: Config) -> Result<[ActionSettings], ReplayRefusal>

    /// What `chathooks check` says about this route, one or more lines.
    static func describe(_ config: Config) -> String

    /// The subject and body a mail action sends unless the config gives its own.
    static var defaultMail: (subject: String, body: String) { get }

    /// True when a crash on this route is answered in SPALO's form (`CrashGuard`).
    static var crashesInSpaloForm: Bool { get }
}

/// A request that passed every check: what goes into the journal and what runs.
struct Admitted {
    var event: ValidatedEvent
    /// The payload as received, secrets removed: what the journal keeps.
    var journalPayload: JSONObject
    var actions: [ActionSettings]
    /// The configured webhook's name, for senders with several (SPALO); else empty.
    var webhook: String
}

/// Why `replay` cannot run a record's actions.
package struct ReplayRefusal: Error, Sendable {
    package var message: String
}

extension Receiver {
    /// `chatdealer/chat-start`, `spalo/dataset`.
    static var route: String { "\(source)/\(event)" }
    /// `chatdealer-chat-start`, `spalo-dataset`.
    static var executableName: String { "\(source)-\(event)" }
    static var crashesInSpaloForm: Bool { false }

    static var defaultMail: (subject: String, body: String) {
        (DefaultTemplates.subject(for: event), DefaultTemplates.body(for: event))
    }
}

/// Our own error form, for Chat Dealer and for a path that names no receiver:
/// `{"ok":false,"error":"<code>","message":"…"}`.
package enum OwnErrorForm {
    package static func response(_ error: HTTPError) -> Response {
        var body = JSONObject()
        body.append("ok", .bool(false))
        body.append("error", .string(error.code))
        body.append("message", .string(error.message))
        return .json(error.status, .object(body), headers: error.headers)
    }
}
