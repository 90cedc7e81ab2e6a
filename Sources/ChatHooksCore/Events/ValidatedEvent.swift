/// An accepted event, decoded and checked: what actions are given beside the
/// raw journal record (a form's items, a transcript, SPALO's items).
public enum ValidatedEvent: Sendable {
    case chatStart(ChatStart)
    case chatMessage(ChatMessageEvent)
    case chatEnd(ChatEnd)
    case scenario(ScenarioFired)
    case form(FormAnswered)
    case spaloDataset(SpaloDatasetRequest)
    case spaloSearch(SpaloDatasetRequest)
    case spaloSend(SpaloSendRequest)
    /// A record that no receiver decodes any more (a journal line of a kind
    /// this build does not know): actions see its raw payload only.
    case undecoded
}

extension ValidatedEvent {
    /// The request of a SPALO dataset or search call (they share one shape).
    var spaloRequest: SpaloDatasetRequest? {
        switch self {
        case .spaloDataset(let r), .spaloSearch(let r): r
        default: nil
        }
    }
}
