/// How a SPALO `dataset` or `search` webhook finds its answer: which request
/// value is the lookup key, where the records are, and which fields are sent.

/// A value of the request, named in the config: `info.email`, `info.userId`,
/// `info.userName`, `item_name`, `data[title=メールアドレス]`, `data[id=C5]`.
public enum RequestValue: Sendable, Equatable, CustomStringConvertible {
    case email, userID, userName, itemName
    case dataTitle(String)
    case dataID(String)

    /// What the config may write, for messages.
    public static let forms = "info.email, info.userId, info.userName, item_name, data[title=…] or data[id=…]"

    public init?(_ text: String) {
        switch text {
        case "info.email": self = .email
        case "info.userId": self = .userID
        case "info.userName": self = .userName
        case "item_name": self = .itemName
        default:
            for (prefix, make) in [("data[title=", RequestValue.dataTitle), ("data[id=", RequestValue.dataID)] {
                guard text.hasPrefix(prefix), text.hasSuffix("]") else { continue }
                let inner = String(text.dropFirst(prefix.count).dropLast())
                guard !inner.isEmpty else { return nil }
                self = make(inner)
                return
            }
            return nil
        }
    }

    public var description: String {
        switch self {
        case .email: "info.email"
        case .userID: "info.userId"
        case .userName: "info.userName"
        case .itemName: "item_name"
        case .dataTitle(let t): "data[title=\(t)]"
        case .dataID(let i): "data[id=\(i)]"
        }
    }

    /// The value in this request; nil when the request does not carry it.
    public func value(in request: SpaloDatasetRequest) -> String? {
        switch self {
        case .email: request.info?.email
        case .userID: request.info?.userID
        case .userName: request.info?.userName
        case .itemName: request.itemName
        // The last item of that title or cell: a person who went back and
        // answered again has the later answer last.
        case .dataTitle(let t): request.data.last { $0.title == t }?.value
        case .dataID(let i): request.data.last { $0.id == i }?.value
        }
    }
}

/// Where the records are.
public enum LookupSourceSettings: Sendable {
    /// `static`: fixed values from the config (a dataset's key/value pairs as
    /// one record; a search's candidates one record each).
    case fixed([LookupRow])
    case csv(path: String, encoding: TextEncoding, match: String)
    /// Named parameters (without their `:`), each bound from a request value.
    case sqlite(path: String, query: String, parameters: [(name: String, value: RequestValue)])
    case command(argv: [String], timeout: Int, environment: [String: String])
    /// The send webhook looks nothing up.
    case none

    public var typeName: String {
        switch self {
        case .fixed: "static"
        case .csv: "csv"
        case .sqlite: "sqlite"
        case .command: "command"
        case .none: "none"
        }
    }
}

public struct LookupSettings: Sendable {
    /// The request value looked up (a CSV's match column is compared with it;
    /// SQLite binds it as `:key`; a command gets it as CHATHOOKS_KEY).
    public var key: RequestValue?
    public var source: LookupSourceSettings
    /// The fields sent, renamed: `name` is the source's column, `value` the
    /// name SPALO gets. Empty: every field as it is named (a CSV's match
    /// column left out).
    public var columns: [LookupField]
    /// A search's candidate: this column of each record (default: the first).
    public var candidate: String?

    public static let none = LookupSettings(key: nil, source: .none, columns: [], candidate: nil)

    /// Seconds a command source may take: SPALO waits 5 in all.
    public static let defaultCommandTimeout = 3
    public static let maxCommandTimeout = 4
}
