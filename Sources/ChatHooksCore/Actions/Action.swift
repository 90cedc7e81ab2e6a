/// What an action is given: the accepted event, already in the journal.
/// A class: it is handed to every action and parked for the life of a CGI
/// process (see `Teardown`), and a reference costs one retain where a copy of
/// the record, the line and the typed event costs one for each of their parts.
public final class AcceptedEvent: Sendable {
    public let record: JournalRecord
    /// The journal line, reused by actions that write the event out again.
    public let line: [UInt8]
    /// The event decoded and validated, as its receiver checked it.
    public let event: ValidatedEvent

    public init(record: JournalRecord, event: ValidatedEvent) {
        self.record = record
        self.line = record.line
        self.event = event
    }

    /// A value for a path or template placeholder: `event`, `source`,
    /// `request_id`, `date` (the local date received), or a top-level scalar
    /// field of the payload such as `chat_id`.
    public func placeholder(_ name: String) -> String? {
        switch name {
        case "event": record.event
        case "source": record.source
        case "request_id": record.requestID
        case "date": record.receivedAt.localDate
        default: record.payload[name]?.scalarText
        }
    }
}

/// Why an action failed; the message is safe for a response, the detail is for stderr.
public struct ActionError: Error, Sendable {
    public var message: String
    public var detail: String
}

/// How an action ended, when it did not fail.
public enum ActionOutcome: Equatable, Sendable {
    case done
    /// Not done yet, but nothing is lost: e.g. a mail in the spool for `chathooks retry`.
    case deferred(String)
}

/// Something done with an accepted event after it is journaled: append, mail,
/// command — each conforms to this one requirement.
public protocol Action: Sendable {
    /// Names the action in messages, e.g. `append to data/chats/{chat_id}.jsonl`.
    var summary: String { get }
    func run(_ event: AcceptedEvent) throws(ActionError) -> ActionOutcome
}

public enum ActionFactory {
    /// `index` is the action's place in its event's list.
    public static func make(_ settings: ActionSettings, index: Int = 0) -> any Action {
        switch settings {
        case .append(let s): AppendAction(settings: s)
        case .mail(let s): MailAction(settings: s, index: index)
        case .command(let s): CommandAction(settings: s)
        }
    }
}

/// One configured action; `ActionFactory` turns it into something that runs.
public enum ActionSettings: Sendable {
    /// Seconds a mail or command action may take when the config names none.
    public static let defaultTimeout = 10

    case append(AppendSettings)
    case mail(MailSettings)
    case command(CommandSettings)

    public var typeName: String {
        switch self {
        case .append: "append"
        case .mail: "mail"
        case .command: "command"
        }
    }
}
