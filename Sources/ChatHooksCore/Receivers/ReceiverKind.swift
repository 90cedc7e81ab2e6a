/// The registry: every receiver, by the name a route, an executable and the
/// journal know it by. Adding a kind of webhook is one receiver file, one case
/// here and its line in `visit`.
public enum ReceiverKind: CaseIterable, Sendable, Hashable {
    case chatStart, chatMessage, chatEnd, scenario, form
    case spaloDataset, spaloSearch, spaloSend

    /// Calls the visitor with this kind's receiver type: the one place that
    /// maps a kind to its code, statically.
    func visit<V: ReceiverVisitor>(_ v: inout V) -> V.Result {
        switch self {
        case .chatStart: v.visit(ChatDealerReceiver<ChatStart>.self)
        case .chatMessage: v.visit(ChatDealerReceiver<ChatMessageEvent>.self)
        case .chatEnd: v.visit(ChatDealerReceiver<ChatEnd>.self)
        case .scenario: v.visit(ChatDealerReceiver<ScenarioFired>.self)
        case .form: v.visit(ChatDealerReceiver<FormAnswered>.self)
        case .spaloDataset: v.visit(SpaloReceiver<DatasetKind>.self)
        case .spaloSearch: v.visit(SpaloReceiver<SearchKind>.self)
        case .spaloSend: v.visit(SpaloReceiver<SendKind>.self)
        }
    }

    public var source: String { var v = Names(); return visit(&v).source }
    public var event: String { var v = Names(); return visit(&v).event }
    /// `chatdealer/chat-start`.
    public var route: String { var v = Names(); let n = visit(&v); return "\(n.source)/\(n.event)" }
    /// `chatdealer-chat-start`.
    public var executableName: String { var v = Names(); let n = visit(&v); return "\(n.source)-\(n.event)" }

    /// The kind a journal record's `source` and `event` name.
    public init?(source: String, event: String) {
        for kind in ReceiverKind.allCases {
            var v = Names()
            let n = kind.visit(&v)
            if n.source == source && n.event == event { self = kind; return }
        }
        return nil
    }

    /// The kind an executable's own name stands for (`chatdealer-form`,
    /// `chatdealer-form.cgi`, `/path/spalo-dataset.fcgi`), if any.
    public init?(executableName path: String) {
        var name = Substring(path.split(separator: "/").last ?? "")
        for suffix in [".cgi", ".fcgi"] where name.hasSuffix(suffix) { name = name.dropLast(suffix.count) }
        guard let kind = ReceiverKind.allCases.first(where: { $0.executableName == name }) else { return nil }
        self = kind
    }

    /// The kind a request path names by its last two segments:
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
        self.init(source: source, event: event)
    }

    struct Names: ReceiverVisitor {
        func visit<R: Receiver>(_: R.Type) -> (source: String, event: String) { (R.source, R.event) }
    }
}

/// Something done with a receiver's type, whichever kind it is.
protocol ReceiverVisitor {
    associatedtype Result
    mutating func visit<R: Receiver>(_ receiver: R.Type) -> Result
}

extension ReceiverKind {
    /// The payload decoded and validated as this kind's receiver does it
    /// (for tests, fuzzing and `replay`; the pipeline calls the receiver itself).
    func decode(_ payload: JSONObject) throws(HTTPError) -> ValidatedEvent {
        var v = Decoding(payload: payload)
        return try visit(&v).get()
    }

    /// An error in this kind's sender's form.
    func errorResponse(_ error: HTTPError, _ config: ConfigOutcome) -> Response {
        var v = ErrorForm(error: error, config: config)
        return visit(&v)
    }

    struct Decoding: ReceiverVisitor {
        let payload: JSONObject
        func visit<R: Receiver>(_: R.Type) -> Result<ValidatedEvent, HTTPError> {
            do throws(HTTPError) { return .success(try R.decodeJournaled(payload)) } catch { return .failure(error) }
        }
    }

    struct ErrorForm: ReceiverVisitor {
        let error: HTTPError
        let config: ConfigOutcome
        func visit<R: Receiver>(_: R.Type) -> Response { R.errorResponse(error, config) }
    }
}

extension ChatDealerEvent {
    /// This event's receiver in the registry.
    var kind: ReceiverKind {
        guard let kind = ReceiverKind(source: "chatdealer", event: rawValue) else { fatalError("\(rawValue) is not in the registry") }
        return kind
    }

    /// Checks a payload against the event's documented fields.
    func validate(_ payload: JSONObject) throws(HTTPError) {
        _ = try kind.decode(payload)
    }
}

extension AcceptedEvent {
    /// A journaled record, decoded again by its receiver (`replay`); a
    /// record that no longer decodes is `.undecoded` (its actions still see
    /// the raw payload).
    public convenience init(record: JournalRecord) {
        let kind = ReceiverKind(source: record.source, event: record.event)
        self.init(record: record, event: (kind.flatMap { try? $0.decode(record.payload) }) ?? .undecoded)
    }
}
