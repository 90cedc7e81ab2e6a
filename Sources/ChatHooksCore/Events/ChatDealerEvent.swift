/// Chat Dealer's five "外部 API 呼び出し" events, by the names used in URLs,
/// config keys and the journal.
public enum ChatDealerEvent: String, CaseIterable, Sendable, Hashable {
    case chatStart = "chat-start"
    case chatMessage = "chat-message"
    case chatEnd = "chat-end"
    case scenario = "scenario"
    case form = "form"
}
