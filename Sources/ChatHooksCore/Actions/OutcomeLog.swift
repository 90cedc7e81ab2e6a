/// The outcomes file beside the journal (`outcomes.jsonl`, rotated with it):
/// what each accepted event's actions came to, one line per request that ran
/// actions — and one per later `retry` or `replay` — so that "did the mail go
/// out?" has an answer in our own files. No fsync: the event itself is
/// durable in the journal; this line is its account.
///
///     {"at":"…","request_id":"…","source":"chatdealer","event":"form","run":"request",
///      "actions":[{"index":0,"type":"append","outcome":"done","ms":0.31},
///                 {"index":1,"type":"mail","outcome":"deferred","why":"…","ms":12.5}]}
public enum OutcomeLog {
    public enum Run: String, Sendable { case request, retry, replay }

    /// `record` is nil for a retried mail whose event is no longer in the
    /// journal (archived): the line then has the request id alone.
    public static func line(requestID: String, _ record: JournalRecord?, run: Run, at time: Timestamp,
                            _ outcomes: [ActionOutcomeRecord]) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 256)
        w.raw("{\"at\":")
        w.writeString(time.rfc3339)
        w.raw(",\"request_id\":")
        w.writeString(requestID)
        if let record {
            w.raw(",\"source\":")
            w.writeString(record.source)
            w.raw(",\"event\":")
            w.writeString(record.event)
            if !record.webhook.isEmpty {
                w.raw(",\"webhook\":")
                w.writeString(record.webhook)
            }
            w.raw(",\"received_at\":")
            w.writeString(record.receivedAt.rfc3339)
        }
        w.raw(",\"run\":")
        w.writeString(run.rawValue)
        w.raw(",\"actions\":[")
        for (i, o) in outcomes.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"index\":")
            w.raw(String(o.index))
            w.raw(",\"type\":")
            w.writeString(o.type)
            w.raw(",\"outcome\":")
            w.writeString(o.outcome.rawValue)
            if !o.why.isEmpty {
                w.raw(",\"why\":")
                w.writeString(o.why)
            }
            w.raw(",\"ms\":")
            w.raw(String(o.microseconds / 1000) + "." + String(o.microseconds % 1000 / 100) + String(o.microseconds % 100 / 10))
            w.raw("}")
        }
        w.raw("]}\n")
        return w.bytes
    }

    /// Appends the line when actions ran; a failure to write it is logged and
    /// changes nothing else (the event is in the journal, the answer stands).
    public static func append(_ record: JournalRecord, run: Run, _ outcomes: [ActionOutcomeRecord], files: JournalFiles,
                              at time: Timestamp = .now()) {
        append(requestID: record.requestID, record, run: run, outcomes, files: files, at: time)
    }

    /// Out of line: a request without actions never comes here, and the
    /// benchmark finds its cost by this name (bench/run.py, section 6).
    @inline(never)
    public static func append(requestID: String, _ record: JournalRecord?, run: Run, _ outcomes: [ActionOutcomeRecord],
                              files: JournalFiles, at time: Timestamp = .now()) {
        guard !outcomes.isEmpty else { return }
        let path = files.path(.outcomes, at: time)
        do {
            try LineAppender(path: path, fsync: false).append(line(requestID: requestID, record, run: run, at: time, outcomes))
        } catch {
            logError("outcomes: \(requestID): \(error); the outcome is not on record (the event is in the journal)")
        }
    }
}
