/// Chat Dealer's five "外部 API 呼び出し" events, by the names used in URLs,
/// config keys and the journal.
public enum ChatDealerEvent: String, CaseIterable, Sendable, Hashable {
    case chatStart = "chat-start"
    case chatMessage = "chat-message"
    case chatEnd = "chat-end"
    case scenario = "scenario"
    case form = "form"

    /// Checks a payload against the event's documented fields.
    func validate(_ payload: JSONObject) throws(HTTPError) {
        var r = FieldReader(payload)
        switch self {
        case .chatStart: _ = try ChatStart(&r)
        case .chatMessage: _ = try ChatMessageEvent(&r)
        case .chatEnd: _ = try ChatEnd(&r)
        case .scenario: _ = try ScenarioFired(&r)
        case .form: _ = try FormAnswered(&r)
        }
    }
}

/// Where a request goes: one Chat Dealer event, or SPALO's dataset call.
public enum Endpoint: Sendable, Hashable {
    case chatdealer(ChatDealerEvent)
    case spaloDataset

    public var source: String {
        switch self {
        case .chatdealer: "chatdealer"
        case .spaloDataset: "spalo"
        }
    }

    public var eventName: String {
        switch self {
        case .chatdealer(let e): e.rawValue
        case .spaloDataset: "dataset"
        }
    }

    /// The route, as in `/hooks/chatdealer/chat-start` or `chathooks.cgi/spalo/dataset`.
    public var route: String { "\(source)/\(eventName)" }

    public static let all: [Endpoint] = ChatDealerEvent.allCases.map { .chatdealer($0) } + [.spaloDataset]

    /// The executable's name for this endpoint (`chatdealer-chat-start`, `spalo-dataset`).
    public var executableName: String { "\(source)-\(eventName)" }

    /// The endpoint an executable's own name stands for (`chatdealer-form`,
    /// `chatdealer-form.cgi`, `/path/spalo-dataset.fcgi`), if any.
    public init?(executableName path: String) {
        var name = Substring(path.split(separator: "/").last ?? "")
        for suffix in [".cgi", ".fcgi"] where name.hasSuffix(suffix) { name = name.dropLast(suffix.count) }
        guard let e = Endpoint.all.first(where: { $0.executableName == name }) else { return nil }
        self = e
    }

    /// The endpoint a request path names by its last two segments:
    /// `/hooks/chatdealer/chat-start`, `/chathooks.cgi/spalo/dataset`, `chatdealer/form`.
    public init?(path: String) {
        // The last two segments, found on the bytes (this runs on every routed request).
        let bytes = Array(path.utf8)
        var end = bytes.count
        while end > 0 && bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
        guard let slash = bytes[..<end].lastIndex(of: UInt8(ascii: "/")) else { return nil }
        var start = slash
        while start > 0 && bytes[start - 1] != UInt8(ascii: "/") { start -= 1 }
        let source = String(decoding: bytes[start..<slash], as: UTF8.self)
        let event = String(decoding: bytes[(slash + 1)..<end], as: UTF8.self)
        switch source {
        case "chatdealer":
            guard let e = ChatDealerEvent(rawValue: event) else { return nil }
            self = .chatdealer(e)
        case "spalo" where event == "dataset":
            self = .spaloDataset
        default:
            return nil
        }
    }
}
