/// Appends the event's journal line to another JSON Lines file, whose name may
/// be templated from the event (one file per chat, per day, …).
public struct AppendAction: Action {
    public var settings: AppendSettings

    public var summary: String { "append to \(settings.path)" }

    public func run(_ event: AcceptedEvent) throws(ActionError) -> ActionOutcome {
        let path: String
        do {
            path = try settings.path.render(event.placeholder)
        } catch {
            throw ActionError(message: "append: \(error.message)", detail: "append to \(settings.path): \(error.message)")
        }
        do {
            try LineAppender(path: path, fsync: settings.fsync).append(event.line)
        } catch {
            throw ActionError(message: "append: the file could not be written", detail: "append: \(error)")
        }
        return .done
    }
}

public struct AppendSettings: Sendable {
    public var path: PathTemplate
    public var fsync: Bool
}
