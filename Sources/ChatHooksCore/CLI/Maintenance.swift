import Glibc

/// `chathooks retry` and `chathooks replay`: the two ways an accepted event's
/// unfinished work gets done later.
package enum Maintenance {
    /// Sends every spooled mail once; exit 1 when some are still waiting.
    static func retry(config: Config) -> Int32 {
        let r = retryAll(config: config)
        for line in r.lines { print(line) }
        if r.directories == 0 {
            print("no mail action is configured: there is no spool")
        } else if r.sent == 0 && r.failed == 0 {
            print("nothing waiting in the spool (\(Maintenance.spoolDirectories(config).joined(separator: ", ")))")
        } else {
            print("sent \(r.sent) mail\(r.sent == 1 ? "" : "s"); \(r.failed) still waiting")
        }
        return r.failed == 0 ? 0 : 1
    }

    package struct RetryResult {
        package var directories = 0
        package var sent = 0
        package var failed = 0
        /// `sent DIR/NAME` or `still waiting: DIR/NAME`, one a mail.
        package var lines: [String] = []
    }

    /// Sends every spooled mail once, and records each one's outcome (what
    /// `chathooks retry` and the console's button do).
    package static func retryAll(config: Config) -> RetryResult {
        var result = RetryResult()
        let directories = spoolDirectories(config)
        result.directories = directories.count
        var tried: [(name: String, why: String?)] = []
        for directory in directories {
            let report = MailSpool(directory: directory).retry()
            for name in report.sent { result.lines.append("sent \(directory)/\(name)") }
            for name in report.failed { result.lines.append("still waiting: \(directory)/\(name)") }
            result.failed += report.failed.count
            result.sent += report.sent.count
            tried += report.sent.map { ($0, nil) } + report.failed.map { ($0, report.reasons[$0] ?? "not sent") }
        }
        recordRetries(tried, config: config)
        return result
    }

    /// Each retried mail's outcome in the outcomes file: a spool file is
    /// named `<request id>-<action index>.mail`, and the event is looked up
    /// in the journal for its source and event (one pass over it).
    static func recordRetries(_ tried: [(name: String, why: String?)], config: Config) {
        guard !tried.isEmpty else { return }
        var parsed: [(id: String, index: Int, why: String?)] = []
        for t in tried {
            let stem = t.name.hasSuffix(".mail") ? String(t.name.dropLast(5)) : t.name
            guard let dash = stem.lastIndex(of: "-"), let index = Int(stem[stem.index(after: dash)...]) else { continue }
            parsed.append((String(stem[..<dash]), index, t.why))
        }
        let ids = Set(parsed.map(\.id))
        var records: [String: JournalRecord] = [:]
        for r in JournalReader.records(files: config.journal.files, select: { ids.contains($0["request_id"]?.stringValue ?? "") }) {
            records[r.requestID] = r
        }
        let now = CLI.now(config)
        for p in parsed {
            let outcome = ActionOutcomeRecord(index: p.index, type: "mail", outcome: p.why == nil ? .done : .failed,
                                              why: p.why ?? "", microseconds: 0)
            OutcomeLog.append(requestID: p.id, records[p.id], run: .retry, [outcome], files: config.journal.files, at: now)
        }
    }

    package static func spoolDirectories(_ config: Config) -> [String] {
        var dirs: [String] = []
        let all = (config.chatdealer?.events.all.flatMap(\.actions) ?? []) + (config.spalo?.webhooks.flatMap(\.actions) ?? [])
        for case .mail(let m) in all where !dirs.contains(m.spool) { dirs.append(m.spool) }
        return dirs
    }

    /// Runs the configured actions again for journaled events, by request id.
    /// `only` limits it to one action type (e.g. `command`). Never re-journals.
    static func replay(config: Config, ids: [String], only: String?) -> Int32 {
        var wanted = Set(ids)
        var status: Int32 = 0
        var failedEvents = 0
        let found = JournalReader.records(files: config.journal.files) { line in
            guard let id = line["request_id"]?.stringValue, wanted.contains(id) else { return false }
            wanted.remove(id)
            return true
        }
        for record in found {
            let line = "\(record.requestID) \(record.source)/\(record.event)"
            let actions: [ActionSettings]
            switch actionsFor(record, config: config) {
            case .success(let a): actions = a
            case .failure(let refusal):
                status = 1
                failedEvents += 1
                print("\(line): not replayed: \(refusal.message)")
                continue
            }
            let results = run(actions, record, config: config, only: only)
            let count = results.count
            let head = "\(line): \(count) action\(count == 1 ? "" : "s")"
            if results.failures.isEmpty && results.deferred.isEmpty {
                print("\(head) done")
            } else {
                status = 1
                failedEvents += 1
                print("\(head); " + (results.failures.map { "failed: \($0)" } + results.deferred.map { "deferred: \($0)" }).joined(separator: "; "))
            }
        }
        for id in wanted.sorted() {
            let files = config.journal.files.all(.journal)
            print("\(id): not in \((files.isEmpty ? [config.journal.path] : files).joined(separator: ", "))")
            status = 1
        }
        print("replayed \(found.count) event\(found.count == 1 ? "" : "s") (\(failedEvents) with a failed or deferred action)"
              + (wanted.isEmpty ? "" : "; \(wanted.count) not found"))
        return status
    }

    package struct ReplayResult {
        package var count: Int
        package var failures: [String]
        package var deferred: [String]
    }

    /// Runs the actions again for one event (`only`: those of that type), and
    /// records their outcome as a replay.
    static func run(_ actions: [ActionSettings], _ record: JournalRecord, config: Config, only: String?) -> ReplayResult {
        let count = actions.filter { only == nil || $0.typeName == only }.count
        let results = ActionRunner.run(actions, AcceptedEvent(record: record), only: only)
        OutcomeLog.append(record, run: .replay, results.outcomes, files: config.journal.files, at: CLI.now(config))
        return ReplayResult(count: count, failures: results.failures, deferred: results.deferred)
    }

    /// `replay` of one event, for the console's button.
    package static func replayOne(_ record: JournalRecord, config: Config, only: String?) -> Result<ReplayResult, ReplayRefusal> {
        actionsFor(record, config: config).map { run($0, record, config: config, only: only) }
    }

    /// The actions the record's receiver has configured for it now.
    package static func actionsFor(_ record: JournalRecord, config: Config) -> Result<[ActionSettings], ReplayRefusal> {
        guard let kind = ReceiverKind(source: record.source, event: record.event) else {
            return .failure(ReplayRefusal(message: "no receiver in this build takes \(record.source)/\(record.event)"))
        }
        var finder = ActionFinder(record: record, config: config)
        return kind.visit(&finder)
    }

    struct ActionFinder: ReceiverVisitor {
        let record: JournalRecord
        let config: Config
        func visit<R: Receiver>(_: R.Type) -> Result<[ActionSettings], ReplayRefusal> { R.actions(for: record, in: config) }
    }
}
