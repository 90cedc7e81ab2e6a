/// Runs a program on the event: an argument vector from the config (never a
/// shell), the event's journal line (secrets removed) on stdin, a clean
/// environment — `CHATHOOKS_EVENT`, `CHATHOOKS_SOURCE`, `CHATHOOKS_REQUEST_ID`,
/// `CHATHOOKS_RECEIVED_AT`, `CHATHOOKS_CHAT_ID` (when there is one), a fixed
/// `PATH` and whatever the config names, nothing inherited — and a timeout.
/// Its output goes to the web server's error log, bounded.
public struct CommandAction: Action {
    public var settings: CommandSettings

    public static let captureLimit = 4096

    public var summary: String { "run \(settings.argv.joined(separator: " ")) (timeout \(settings.timeout) s)" }

    public func environment(_ event: AcceptedEvent) -> [String: String] {
        var env = ["PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        for (k, v) in settings.environment { env[k] = v }
        let r = event.record
        env["CHATHOOKS_EVENT"] = r.event
        env["CHATHOOKS_SOURCE"] = r.source
        env["CHATHOOKS_REQUEST_ID"] = r.requestID
        env["CHATHOOKS_RECEIVED_AT"] = r.receivedAt.rfc3339
        if let chat = r.payload["chat_id"]?.scalarText { env["CHATHOOKS_CHAT_ID"] = MIMEMessage.clean(chat) }
        return env
    }

    public func run(_ event: AcceptedEvent) throws(ActionError) -> ActionOutcome {
        let name = settings.argv[0].split(separator: "/").last.map(String.init) ?? settings.argv[0]
        let id = event.record.requestID
        let process = Subprocess(argv: settings.argv, environment: environment(event), stdin: event.line,
                                 timeoutSeconds: settings.timeout, captureLimit: CommandAction.captureLimit)
        let result: Subprocess.Result
        do {
            result = try process.run()
        } catch {
            throw ActionError(message: "command \(name) could not be started; re-run it with `chathooks replay \(id)`",
                              detail: "command \(settings.argv[0]): \(error)")
        }
        // What it prints goes to the error log, with the secrets it was given left out.
        let secrets = Array(settings.environment.values)
        for (stream, bytes) in [("stdout", result.stdout), ("stderr", result.stderr)] {
            for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
                logError("command \(name) \(id) \(stream): " + Redaction.apply(String(line), secrets))
            }
        }
        if result.truncated { logError("command \(name) \(id): output beyond \(CommandAction.captureLimit) bytes was dropped") }
        guard result.termination.succeeded else {
            throw ActionError(message: "command \(name) \(result.termination); re-run it with `chathooks replay \(id)`",
                              detail: "command \(settings.argv[0]) \(id) \(result.termination)")
        }
        return .done
    }
}

public struct CommandSettings: Sendable {
    /// The program and its arguments; never a shell.
    public var argv: [String]
    public var timeout: Int
    /// The environment beyond the CHATHOOKS_* variables: only what the config names.
    public var environment: [String: String]
}
