/// The rejections file beside the journal (`rejections.jsonl`, rotated with
/// it): one short line for every refused call — what a user whose sender
/// reports 失敗 looks at first, without the web server's error log.
///
///     {"at":"…","route":"chatdealer/form","status":401,"error":"unauthorized",
///      "message":"the X-Chathooks-Token header is missing","remote_addr":"203.0.113.7","body_bytes":512}
///
/// The message is the one the response gave (it never holds a secret or a
/// request value); never the body, never a header's value. Bounded whatever
/// the number of refusals: `CappedAppender` keeps at most `cap × (keep + 1)`
/// bytes a period, and each refusal costs one append.
public enum RejectionLog {
    public static let cap = 1 << 20
    public static let keep = 3

    public static func line(route: String, _ error: HTTPError, _ request: Request, at time: Timestamp) -> [UInt8] {
        var w = JSONWriter(reservingCapacity: 256)
        w.raw("{\"at\":")
        w.writeString(time.rfc3339)
        w.raw(",\"route\":")
        w.writeString(route)
        w.raw(",\"status\":")
        w.raw(String(error.status))
        w.raw(",\"error\":")
        w.writeString(error.code)
        w.raw(",\"message\":")
        w.writeString(error.message)
        w.raw(",\"remote_addr\":")
        w.writeString(String(request.remoteAddress.prefix(64)))
        w.raw(",\"body_bytes\":")
        if let text = request.contentLength, !text.isEmpty, text.utf8.count <= 18,
           text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = Int(text) {
            w.raw(String(n))
        } else {
            w.raw("null")
        }
        w.raw("}\n")
        return w.bytes
    }

    /// Appends the line; a failure to write it is logged (the refusal itself
    /// is already on its way to the sender).
    public static func append(route: String, _ error: HTTPError, _ request: Request, files: JournalFiles, at time: Timestamp) {
        let path = files.path(.rejections, at: time)
        do {
            try CappedAppender(path: path, cap: cap, keep: keep).append(line(route: route, error, request, at: time))
        } catch {
            logError("rejections: \(error); this refusal is not on record")
        }
    }
}
