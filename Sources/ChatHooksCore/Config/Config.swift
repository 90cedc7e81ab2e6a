/// The receivers' configuration, decoded from one JSON5 file (see `ConfigLoader`).
/// Paths are absolute by the time a `Config` exists; secrets are resolved.
public struct Config: Sendable {
    /// The file it came from, and that file's folder (relative paths resolve there).
    public var path: String
    public var directory: String
    public var journal: JournalSettings
    /// Bodies larger than this are refused with 413 before a byte is read.
    public var maxBodyBytes: Int
    public var chatdealer: ChatDealerSettings?
    public var spalo: SpaloSettings?
    /// Things worth a look that do not stop the receivers (short tokens, …).
    public var warnings: [String]
    /// Problems inside one sender's block: they stop that sender's receivers
    /// (503 "the configuration file is invalid"), not the other's, so a typo
    /// in a new SPALO block does not cost Chat Dealer's events. A problem
    /// outside both blocks (syntax, journal, limits) stops every receiver.
    public var chatdealerProblems: [String] = []
    public var spaloProblems: [String] = []

    public static let defaultMaxBodyBytes = 1 << 20
}

public struct JournalSettings: Sendable {
    public var path: String
    /// `fsync` each line before answering (the default): a 200 then survives a power cut.
    public var fsync: Bool
    /// One journal for ever (the default), or one a month or a day; the
    /// outcomes and rejections files beside it follow.
    public var rotate: Rotation = .none

    public init(path: String, fsync: Bool, rotate: Rotation = .none) {
        self.path = path
        self.fsync = fsync
        self.rotate = rotate
    }

    public var files: JournalFiles { JournalFiles(journal: path, rotate: rotate) }
}

public struct ChatDealerSettings: Sendable {
    /// Checks the header Chat Dealer is told to send (e.g. `X-Chathooks-Token`)
    /// against every accepted token (more than one lets a token be rotated).
    public var authenticator: TokenAuthenticator
    public var events: EventTable

    public init(header: String, tokens: [String], events: EventTable) {
        self.authenticator = TokenAuthenticator(header: header, tokens: tokens)
        self.events = events
    }

    public var header: String { authenticator.header }
    public var tokens: [String] { authenticator.tokens }
}

/// The configured Chat Dealer events (an event missing here is not received).
/// Five stored slots, neither a Dictionary nor an array of optionals: either
/// would cost runtime type-metadata setup on every CGI request.
public struct EventTable: Sendable {
    private var chatStart: EventSettings?
    private var chatMessage: EventSettings?
    private var chatEnd: EventSettings?
    private var scenario: EventSettings?
    private var form: EventSettings?

    public init() {}

    public subscript(event: ChatDealerEvent) -> EventSettings? {
        get {
            switch event {
            case .chatStart: chatStart
            case .chatMessage: chatMessage
            case .chatEnd: chatEnd
            case .scenario: scenario
            case .form: form
            }
        }
        set {
            switch event {
            case .chatStart: chatStart = newValue
            case .chatMessage: chatMessage = newValue
            case .chatEnd: chatEnd = newValue
            case .scenario: scenario = newValue
            case .form: form = newValue
            }
        }
    }

    /// The configured events' settings, in `ChatDealerEvent.allCases` order.
    public var all: [EventSettings] {
        var result: [EventSettings] = []
        for event in ChatDealerEvent.allCases {
            if let settings = self[event] { result.append(settings) }
        }
        return result
    }
}

public struct EventSettings: Sendable {
    public var actions: [ActionSettings]
}

/// SPALO: every configured webhook. Each has its own fixed key and client
/// secret; a request is matched to its webhook by its `webhookKey`.
public struct SpaloSettings: Sendable {
    public var webhooks: [SpaloWebhook]
    /// Shown in the chat when a call is refused or a lookup fails (`spalo.errorText`).
    public var errorText: String = SpaloSettings.defaultErrorText

    /// Short, polite, and revealing nothing: the person reading it is chatting
    /// with the bot, not the one who can fix the cause.
    public static let defaultErrorText = "ただいまデータを取得できません。しばらくしてからもう一度お試しください。"
    public static let defaultEmptyMessage = "設定できるデータがありません。"
}

/// SPALO's three kinds of webhook, by the names of their routes.
public enum SpaloKind: String, Sendable, CaseIterable {
    /// 外部データ設定: values to fill into the bot.
    case dataset
    /// データ参照: candidates to choose from.
    case search
    /// データ送信: everything answered, once the bot is done.
    case send
}

public struct SpaloWebhook: Sendable {
    /// Names the webhook in the journal, logs and `replay` (unique in the file).
    public var name: String
    public var kind: SpaloKind
    public var webhookKey: String
    public var clientSecret: String
    public var lookup: LookupSettings
    /// The chat's text when nothing is found (400, SPALO's `{"type":"text"}`).
    public var emptyMessage: String
    /// The chat's text when the lookup fails (a file that cannot be read, …).
    public var errorText: String
    public var actions: [ActionSettings]
}
