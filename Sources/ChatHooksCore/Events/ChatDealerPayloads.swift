/// Chat Dealer's events, decoded and checked field by field against the vendor
/// document. Only `chat_id` and `event_date` are required; every other field is
/// checked when present. Fields we do not know are not an error (the journal
/// keeps the payload as received).

/// Who wrote a message (`msg_type`), trimmed first: the document's own sample
/// sends `" system"`.
public enum MessageType: String, Sendable {
    case staff, visitor, system

    /// By plain comparisons: `init(rawValue:)` searches a table of Strings,
    /// and a transcript asks once per message.
    init?(text: String) {
        if text == "staff" { self = .staff } else if text == "visitor" { self = .visitor } else if text == "system" { self = .system } else { return nil }
    }

    static func read(_ r: FieldReader, _ key: String) throws(HTTPError) -> MessageType? {
        guard let raw = try r.string(key) else { return nil }
        guard let t = MessageType(text: raw.trimmingASCIISpaces) else {
            throw HTTPError.invalidField(r.at(key), "must be staff, visitor or system")
        }
        return t
    }
}

/// Fields every Chat Dealer event carries.
public struct ChatDealerCommon: Sendable {
    public var eventDate: String
    public var chatID: String
    public var visitorID: String?

    init(_ r: inout FieldReader) throws(HTTPError) {
        eventDate = try r.required("event_date") { (k) throws(HTTPError) in try r.date(k, .chatDealer) }
        chatID = try r.required("chat_id") { (k) throws(HTTPError) in try r.id(k) }
        visitorID = try r.id("visitor_id")
    }
}

/// The page the visitor is on, and the visitor's key.
public struct VisitorPage: Sendable {
    public var visitorKey: String?
    public var pageURL: String?
    public var pageTitle: String?

    init(_ r: inout FieldReader) throws(HTTPError) {
        visitorKey = try r.string("visitor_key")
        pageURL = try r.string("page_url")
        pageTitle = try r.string("page_title")
    }
}

public struct ChatStart: Sendable {
    public var common: ChatDealerCommon
    public var page: VisitorPage
    public var ip: String?
    public var visitCount: Int?

    init(_ r: inout FieldReader) throws(HTTPError) {
        common = try ChatDealerCommon(&r)
        page = try VisitorPage(&r)
        ip = try r.string("ip")
        visitCount = try r.count("visit_count")
    }
}

/// One message: the `chat-message` event's own fields, and each `chat_detail` entry.
public struct ChatMessage: Sendable {
    public var type: MessageType?
    public var postUser: String?
    public var postDate: String?
    public var message: String?

    init(_ r: inout FieldReader) throws(HTTPError) {
        type = try MessageType.read(r, "msg_type")
        postUser = try r.string("post_user")
        postDate = try r.date("post_date", .chatDealer)
        message = try r.string("msg")
    }
}

public struct ChatMessageEvent: Sendable {
    public var common: ChatDealerCommon
    public var page: VisitorPage
    public var message: ChatMessage

    init(_ r: inout FieldReader) throws(HTTPError) {
        common = try ChatDealerCommon(&r)
        page = try VisitorPage(&r)
        message = try ChatMessage(&r)
    }
}

public struct ChatEnd: Sendable {
    public var common: ChatDealerCommon
    public var page: VisitorPage
    public var startDate: String?
    public var endDate: String?
    public var transcript: [ChatMessage]

    init(_ r: inout FieldReader) throws(HTTPError) {
        common = try ChatDealerCommon(&r)
        page = try VisitorPage(&r)
        startDate = try r.date("start_date", .chatDealer)
        endDate = try r.date("end_date", .chatDealer)
        transcript = try r.objects("chat_detail") { (m) throws(HTTPError) in try ChatMessage(&m) } ?? []
    }
}

/// A scenario action fired; `parameter` is a list of `{"KEY": "VALUE"}` objects.
public struct ScenarioFired: Sendable {
    public var common: ChatDealerCommon
    public var page: VisitorPage
    public var parameters: [(key: String, value: String)]

    init(_ r: inout FieldReader) throws(HTTPError) {
        common = try ChatDealerCommon(&r)
        page = try VisitorPage(&r)
        parameters = []
        for group in try r.objects("parameter", { (p) throws(HTTPError) in p }) ?? [] {
            for member in group.object.members {
                guard let text = member.value.scalarText else {
                    throw HTTPError.invalidField(group.atChosen(member.key), "must be a string, not \(member.value.typeName)")
                }
                parameters.append((member.key, text))
            }
        }
    }
}

/// A form answer. `subject`, `content` and the two agreements are present only
/// when the form shows them.
public struct FormAnswered: Sendable {
    public struct Item: Sendable {
        public var name: String
        public var value: String
    }

    public var common: ChatDealerCommon
    public var subject: String?
    public var content: String?
    public var agreeOptIn: Bool?
    public var agreePrivacyPolicy: Bool?
    public var items: [Item]

    init(_ r: inout FieldReader) throws(HTTPError) {
        common = try ChatDealerCommon(&r)
        subject = try r.string("subject")
        content = try r.string("content")
        agreeOptIn = try r.bool("agree_optin")
        agreePrivacyPolicy = try r.bool("agree_privacy_policy")
        items = try r.objects("item") { (i) throws(HTTPError) in
            let name = try i.required("item_name") { (k) throws(HTTPError) in try i.string(k) }
            // A number typed into a form may arrive as a JSON number: keep its text.
            let value: String
            switch i.value("item_value") {
            case nil: value = ""
            case .string(let s)?: value = s
            case .number(let n)?: value = n
            case let other?: throw HTTPError.invalidField(i.at("item_value"), "must be a string, not \(other.typeName)")
            }
            return Item(name: name, value: value)
        } ?? []
    }
}
