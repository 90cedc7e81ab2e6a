import Glibc

/// The `mail` action's settings.
enum MailConfigDecoder {
    static let keys = ["type", "to", "from", "envelopeSender", "subject", "subjectFile", "body", "bodyFile",
                       "replyToItem", "sendmail", "timeout", "spool"]

    static func decode(_ item: JSONValue, _ at: String, event: String, reader r: inout ConfigReader) -> ActionSettings? {
        guard let m = r.object(item, at, allowed: keys) else { return nil }
        var recipients: [MailAddress] = []
        switch m["to"] {
        case .string(let s)?: recipients = address(s, "\(at).to", reader: &r).map { [$0] } ?? []
        case .array(let list)?:
            for (i, v) in list.enumerated() {
                guard case .string(let s) = v else { r.problem("\(at).to[\(i)]", "must be a string, not \(v.typeName)"); continue }
                if let a = address(s, "\(at).to[\(i)]", reader: &r) { recipients.append(a) }
            }
            if list.isEmpty { r.problem("\(at).to", "must list at least one address") }
        case let other?: r.problem("\(at).to", "must be an address or a list of addresses, not \(other.typeName)")
        case nil: r.problem("\(at).to", "is required")
        }
        let from = r.string(m, "from", at, required: true).flatMap { address($0, "\(at).from", reader: &r) }
        var sender = from?.address ?? ""
        if let s = r.string(m, "envelopeSender", at) {
            if MailAddress.isAddrSpec(s) { sender = s } else { r.problem("\(at).envelopeSender", "\"\(s)\" is not an address") }
        }
        let subject = template(m, "subject", at, default: DefaultTemplates.subject(for: event), reader: &r)
        let body = template(m, "body", at, default: DefaultTemplates.body(for: event), reader: &r)
        let sendmail = Files.resolve(r.string(m, "sendmail", at) ?? "/usr/sbin/sendmail", against: r.directory)
        let timeout = r.integer(m, "timeout", at, range: 1...300) ?? ActionSettings.defaultTimeout
        let spool = Files.resolve(r.string(m, "spool", at) ?? "data/spool", against: r.directory)
        let replyToItem = r.string(m, "replyToItem", at)
        if replyToItem != nil && event != "form" {
            r.warnings.append("\(at).replyToItem: only form answers have items; ignored for \(event)")
        }
        guard let from, let subject, let body, !recipients.isEmpty else { return nil }
        return .mail(MailSettings(from: from, envelopeSender: sender, to: recipients, subject: subject, body: body,
                                  replyToItem: replyToItem, sendmail: sendmail, timeout: timeout, spool: spool))
    }

    static func address(_ s: String, _ at: String, reader r: inout ConfigReader) -> MailAddress? {
        guard let a = MailAddress(s) else {
            r.problem(at, "\"\(s)\" is not one e-mail address (user@example.jp or Name <user@example.jp>)")
            return nil
        }
        return a
    }

    /// `subject`/`body` inline, or `subjectFile`/`bodyFile` (relative to the
    /// config's folder), or the event's default.
    static func template(_ m: JSONObject, _ key: String, _ at: String, default fallback: String,
                         reader r: inout ConfigReader) -> Template? {
        var source = fallback
        var origin = "the default \(key)"
        if let inline = r.string(m, key, at, nonEmpty: false) {
            source = inline
            origin = "\(at).\(key)"
        }
        if let file = r.string(m, key + "File", at) {
            if m[key] != nil { r.problem("\(at).\(key)File", "give \(key) or \(key)File, not both") }
            guard let text = r.textFile(file, "template", limit: 1 << 20, at: "\(at).\(key)File") else { return nil }
            source = text.text
            origin = text.path
        }
        do {
            return try Template(source)
        } catch {
            r.problem(origin == "\(at).\(key)" ? origin : "\(at).\(key) (\(origin))", "template: \(error.message)")
            return nil
        }
    }
}
