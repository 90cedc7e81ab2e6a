/// What a request's (or a replay's) actions came to: the messages of those
/// that failed, and of those deferred (a spooled mail), and each action's
/// outcome for the outcomes file.
public struct ActionResults {
    public var failures: [String] = []
    public var deferred: [String] = []
    public var outcomes: [ActionOutcomeRecord] = []
}

/// How one action ended, as the outcomes file records it.
public struct ActionOutcomeRecord: Sendable, Equatable {
    public enum Outcome: String, Sendable { case done, deferred, failed }

    /// The action's place in its event's configured list.
    public var index: Int
    public var type: String
    public var outcome: Outcome
    /// Why it was deferred or failed (the message the response gives).
    public var why: String
    public var microseconds: Int
}

public enum ActionRunner {
    /// Runs every action in order, even after one fails; with `only`, just the
    /// actions of that type. Each keeps its place in the configured list
    /// whatever is skipped: a mail's spool file and Message-ID are named by it,
    /// so a replayed mail is the same mail.
    /// `timeCap`: no action may take longer than this many seconds (SPALO's
    /// wait), whatever its own timeout.
    public static func run(_ settings: [ActionSettings], _ event: AcceptedEvent, only: String? = nil,
                           timeCap: Int? = nil) -> ActionResults {
        var results = ActionResults()
        for (i, configured) in settings.enumerated() where only == nil || configured.typeName == only {
            let s = timeCap.map { configured.capped(seconds: $0) } ?? configured
            let started = monotonicNanoseconds()
            var record = ActionOutcomeRecord(index: i, type: s.typeName, outcome: .done, why: "", microseconds: 0)
            do {
                if case .deferred(let why) = try ActionFactory.make(s, index: i).run(event) {
                    results.deferred.append(why)
                    record.outcome = .deferred
                    record.why = why
                }
            } catch {
                logError("\(event.record.source)/\(event.record.event) \(event.record.requestID): \(error.detail)")
                results.failures.append(error.message)
                record.outcome = .failed
                record.why = error.message
            }
            record.microseconds = Int((monotonicNanoseconds() - started) / 1000)
            results.outcomes.append(record)
        }
        return results
    }
}

extension ActionSettings {
    /// The same action with its timeout cut to `seconds` when longer.
    func capped(seconds: Int) -> ActionSettings {
        switch self {
        case .append: return self
        case .mail(var m):
            m.timeout = min(m.timeout, seconds)
            return .mail(m)
        case .command(var c):
            c.timeout = min(c.timeout, seconds)
            return .command(c)
        }
    }

    /// "; then append to …, then mail …" for `chathooks check`, or "; no actions".
    static func summary(of actions: [ActionSettings]) -> String {
        actions.isEmpty ? "; no actions" : "; then " + actions.enumerated().map { ActionFactory.make($1, index: $0).summary }.joined(separator: ", then ")
    }
}
