/// Mails the event through the system's sendmail: recipients from the config
/// only (as arguments, never `-t`), `-i` and `-f <envelope sender>`. When
/// sendmail is missing, fails or times out, the message goes to the spool and
/// `chathooks retry` sends it later: the outcome is "deferred", not lost.
public struct MailAction: Action {
    public var settings: MailSettings
    /// Which action of the event this is: keeps Message-IDs and spool names apart.
    public var index: Int

    public var summary: String {
        "mail to \(settings.to.map { $0.address }.joined(separator: ", ")) via \(settings.sendmail)"
    }

    public func run(_ event: AcceptedEvent) throws(ActionError) -> ActionOutcome {
        let message = compose(event).bytes
        let recipients = settings.to.map { $0.address }
        let envelope = MailEnvelope(sendmail: settings.sendmail, sender: settings.envelopeSender,
                                    recipients: recipients, timeout: settings.timeout)
        let failure: String
        switch envelope.send(message) {
        case .success: return .done
        case .failure(let reason): failure = reason
        }
        let name = "\(event.record.requestID)-\(index)"
        do {
            try MailSpool(directory: settings.spool).store(name: name, envelope: envelope, message: message)
        } catch {
            throw ActionError(message: "mail could not be sent (\(failure)) nor spooled",
                              detail: "mail \(name): \(failure); spooling failed: \(error)")
        }
        logError("mail \(name): \(failure); spooled in \(settings.spool) for `chathooks retry`")
        return .deferred("mail could not be sent yet (\(failure)); it is spooled and `chathooks retry` will send it")
    }

    public func compose(_ event: AcceptedEvent) -> MIMEMessage {
        let context = TemplateContext.make(event)
        let subject = settings.subject.render(context)
        let body = settings.body.render(context)
        let domain = settings.from.address.split(separator: "@").last.map(String.init) ?? "localhost"
        return MIMEMessage(from: settings.from, to: settings.to, replyTo: replyTo(event), subject: subject, body: body,
                           date: event.record.receivedAt, messageID: "\(event.record.requestID).\(index)@\(domain)")
    }

    /// The configured form item's value, when it is exactly one valid address.
    func replyTo(_ event: AcceptedEvent) -> MailAddress? {
        guard let itemName = settings.replyToItem, case .form(let form) = event.event else { return nil }
        for item in form.items where item.name == itemName {
            let value = item.value.trimmingASCIISpaces
            guard MailAddress.isAddrSpec(value) else { return nil }
            return MailAddress(value)
        }
        return nil
    }
}

/// How a message is handed to sendmail.
public struct MailEnvelope: Sendable, Equatable {
    public var sendmail: String
    public var sender: String
    public var recipients: [String]
    public var timeout: Int

    public enum Outcome: Equatable { case success, failure(String) }

    public func send(_ message: [UInt8]) -> Outcome {
        let argv = [sendmail, "-i", "-f", sender, "--"] + recipients
        let run = Subprocess(argv: argv, environment: ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"],
                             stdin: message, timeoutSeconds: timeout)
        let result: Subprocess.Result
        do {
            result = try run.run()
        } catch {
            return .failure("\(sendmail) could not be started: \(error)")
        }
        for line in String(decoding: result.stderr, as: UTF8.self).split(separator: "\n").prefix(20) {
            logError("sendmail: \(line)")
        }
        return result.termination.succeeded ? .success : .failure("sendmail \(result.termination)")
    }
}

/// What templates see: the payload's fields, plus our own `event`, `source`,
/// `request_id`, `received_at`, `parameters` (a scenario's `{"KEY":"VALUE"}`
/// objects as `key`/`value` pairs) and `agree_optin_text`,
/// `agree_privacy_policy_text` (はい/いいえ). Our names always win: a payload
/// that carries a field of one of them (a form posted with its own
/// `request_id`) cannot change what the mail says about the call. The payload
/// as received stays reachable whole as `payload` (`{{payload.request_id}}`).
enum TemplateContext {
    /// The names the context gives values of its own.
    static let reserved: Set<String> = ["event", "source", "request_id", "received_at", "parameters",
                                        "agree_optin_text", "agree_privacy_policy_text", "payload"]

    static func make(_ event: AcceptedEvent) -> JSONValue {
        let r = event.record
        var context = JSONObject()
        for m in r.payload.members where !reserved.contains(m.key) { context.append(m.key, m.value) }
        for (k, v) in [("event", r.event), ("source", r.source), ("request_id", r.requestID), ("received_at", r.receivedAt.rfc3339)] {
            context.append(k, .string(v))
        }
        context.append("payload", .object(r.payload))
        if case .array(let groups)? = context["parameter"] {
            var pairs: [JSONValue] = []
            for case .object(let g) in groups {
                for m in g.members {
                    pairs.append(.object(JSONObject([.init(key: "key", value: .string(m.key)), .init(key: "value", value: m.value)])))
                }
            }
            context.append("parameters", .array(pairs))
        }
        // The form's agreements, true or false as JSON or as strings, in words.
        // (Read as the form's validation reads them; anything else gets no words.)
        if case .form(let form) = event.event {
            for (key, agreed) in [("agree_optin", form.agreeOptIn), ("agree_privacy_policy", form.agreePrivacyPolicy)] {
                guard let yes = agreed else { continue }
                context.append(key + "_text", .string(yes ? "はい" : "いいえ"))
            }
        }
        return .object(context)
    }
}

public struct MailSettings: Sendable {
    public var from: MailAddress
    /// `-f`: where bounces go. Defaults to the From address.
    public var envelopeSender: String
    public var to: [MailAddress]
    public var subject: Template
    public var body: Template
    /// A form item (by `item_name`) whose value becomes Reply-To when it is one valid address.
    public var replyToItem: String?
    public var sendmail: String
    public var timeout: Int
    public var spool: String
}
