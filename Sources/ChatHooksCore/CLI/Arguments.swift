import Glibc

/// The admin commands' arguments: the same `--config CONFIG` everywhere (a
/// lone CONFIG still works for check and retry), `--help`/`-h` on each, and
/// for anything wrong one line saying what, then the command's usage, on
/// stderr with exit status 2.
extension CLI {
    enum Command: String {
        case check, retry, replay

        var usage: String {
            switch self {
            case .check: "usage: chathooks check [--config CONFIG | CONFIG]"
            case .retry: "usage: chathooks retry [--config CONFIG | CONFIG]"
            case .replay: "usage: chathooks replay [--config CONFIG] [--only append|mail|command] REQUEST-ID..."
            }
        }

        var help: String {
            let what = switch self {
            case .check: """
                Reads the configuration and prints what each receiver will do, or every
                problem with where it is (exit status 1). Also says when the file looks
                downloadable from the web (no .htaccess denying it).
                """
            case .retry: """
                Sends every mail waiting in the spool once (safe from cron, and twice at
                once). Exit status 1 while some are still waiting.
                """
            case .replay: """
                Runs the configured actions again for journaled events, by request id
                (--only: just the actions of that type). Never journals them again.
                Exit status 1 when an id is not in the journal or an action failed.
                """
            }
            return usage + "\n\n" + what + "\n\n" + CLI.configNote + "\n"
        }
    }

    static let configNote = "CONFIG defaults to $CHATHOOKS_CONFIG, else chathooks.json5 beside this program."

    static var overview: String {
        """
        usage: chathooks check [--config CONFIG | CONFIG]
               chathooks retry [--config CONFIG | CONFIG]
               chathooks replay [--config CONFIG] [--only append|mail|command] REQUEST-ID...
               chathooks --version
               chathooks COMMAND --help
          check   validate a configuration and print what each endpoint will do
          retry   send the mails that are waiting in the spool (safe from cron, and twice at once)
          replay  run the configured actions again for journaled events
        \(configNote)

        Started by a web server, chathooks is every receiver at once, routed by
        path: as CGI (chathooks.cgi/chatdealer/chat-start) or on a FastCGI socket
        (/hooks/chatdealer/chat-start). Named after one receiver
        (chatdealer-form.cgi, spalo-dataset), it is that receiver.

        """
    }

    struct Arguments {
        var config: String
        var only: String?
        var positionals: [String] = []
    }

    /// Parses one command's arguments, or ends the process: 0 with the help
    /// for --help, 2 with what is wrong.
    static func parse(_ args: [String], for command: Command) -> Arguments {
        var config: String?
        var result = Arguments(config: "")
        var rest = args[...]
        var onlyOptions = false
        while let a = rest.popFirst() {
            if onlyOptions || !a.hasPrefix("-") || a == "-" {
                result.positionals.append(a)
                continue
            }
            var name = a
            var inline: String?
            if let eq = a.firstIndex(of: "="), a.hasPrefix("--") {
                name = String(a[..<eq])
                inline = String(a[a.index(after: eq)...])
            }
            func value() -> String {
                if let inline { return inline }
                guard let v = rest.popFirst() else { usageError(command, "\(name) needs a value") }
                return v
            }
            switch name {
            case "--help", "-h":
                writeAll(1, Array(command.help.utf8))
                exit(0)
            case "--":
                onlyOptions = true
            case "--config", "-c":
                guard config == nil else { usageError(command, "--config is given twice") }
                let v = value()
                guard !v.isEmpty else { usageError(command, "--config needs a file name") }
                config = v
            case "--only" where command == .replay:
                let v = value()
                guard ["append", "mail", "command"].contains(v) else {
                    usageError(command, "--only takes append, mail or command, not '\(v)'")
                }
                result.only = v
            default:
                usageError(command, "unknown option '\(name)'")
            }
        }
        switch command {
        case .check, .retry:
            if result.positionals.count > 1 {
                usageError(command, "one configuration file at most, not \(result.positionals.count) ('\(result.positionals.joined(separator: "' '"))')")
            }
            if let p = result.positionals.first {
                guard config == nil else { usageError(command, "the configuration is given twice (--config and '\(p)')") }
                config = p
            }
            result.positionals = []
        case .replay:
            guard !result.positionals.isEmpty else { usageError(command, "no request id given (the ids are in the journal and in each 200 answer)") }
        }
        result.config = config ?? ConfigLoader.locate(environment: ConfigLoader.processEnvironment)
        return result
    }

    /// One line saying what is wrong, then the usage, on stderr; exit status 2.
    static func usageError(_ command: Command?, _ message: String) -> Never {
        let prefix = command.map { "chathooks \($0.rawValue)" } ?? "chathooks"
        let usage = command.map { $0.usage + "\n(chathooks \($0.rawValue) --help for more)" } ?? overview
        writeAll(2, Array("\(prefix): \(message)\n\(usage)\n".utf8))
        exit(2)
    }
}
