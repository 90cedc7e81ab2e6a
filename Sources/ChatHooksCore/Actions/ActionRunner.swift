/// What a request's (or a replay's) actions came to: the messages of those
/// that failed, and of those deferred (a spooled mail).
public struct ActionResults {
    public var failures: [String] = []
    public var deferred: [String] = []
}

public enum ActionRunner {
    /// Runs every action in order, even after one fails; with `only`, just the
    /// actions of that type. Each keeps its place in the configured list
    /// whatever is skipped: a mail's spool file and Message-ID are named by it,
    /// so a replayed mail is the same mail.
    public static func run(_ settings: [ActionSettings], _ event: AcceptedEvent, only: String? = nil) -> ActionResults {
        var results = ActionResults()
        for (i, s) in settings.enumerated() where only == nil || s.typeName == only {
            do {
                if case .deferred(let why) = try ActionFactory.make(s, index: i).run(event) { results.deferred.append(why) }
            } catch {
                logError("\(event.record.source)/\(event.record.event) \(event.record.requestID): \(error.detail)")
                results.failures.append(error.message)
            }
        }
        return results
    }
}

extension ActionSettings {
    /// "; then append to …, then mail …" for `chathooks check`, or "; no actions".
    static func summary(of actions: [ActionSettings]) -> String {
        actions.isEmpty ? "; no actions" : "; then " + actions.enumerated().map { ActionFactory.make($1, index: $0).summary }.joined(separator: ", then ")
    }
}
