import Glibc

/// The admin commands' arguments: the same `--config CONFIG` everywhere (a
/// lone CONFIG still works for check and retry), `--help`/`-h` on each, and
/// for anything wrong one line saying what, then the command's usage, on
/// stderr with exit status 2.
extension CLI {
    enum Command: String {
        case check, retry, replay, export, events, passwd

        var usage: String {
            switch self {
            case .check: "usage: chathooks check [--config CONFIG | CONFIG]"
            case .retry: "usage: chathooks retry [--config CONFIG | CONFIG]"
            case .replay: "usage: chathooks replay [--config CONFIG] [--only append|mail|command] REQUEST-ID..."
            case .export: "usage: chathooks export [--config CONFIG] [--csv | --jsonl] [--from DATE] [--to DATE] [--source S] [--event E] [--output FILE]"
            case .events: "usage: chathooks events [--config CONFIG] [--since DATE] [--source S] [--event E] [--follow]"
            case .passwd: "usage: chathooks passwd [--cost N]"
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
            case .export: """
                Writes the journal (every month's or day's file, in order) as a CSV that
                Excel opens on a double-click (UTF-8 with a BOM, one row per event: when,
                what, who, what became of its actions, and each kind of event's fields,
                a form's items one column each), or with --jsonl the records as they are.
                DATE is a local date, 2026-12-01 (--from and --to both included);
                S is chatdealer or spalo, E an event (chat-end, form, dataset, send, …).
                To standard output, or to FILE.
                """
            case .events: """
                Lists the events, a line each: when, route, request id, chat or visitor,
                and what became of their actions. --follow then waits for new ones
                (Ctrl-C stops it).
                """
            case .passwd: """
                Makes the web console's password hash (bcrypt, cost N: 4 to 12, 12 by
                default). It asks for the password twice on a terminal, or reads one
                line from standard input, and prints the hash for the configuration:
                    admin: { passwordHash: "$2b$12$…" }
                """
            }
            if self == .passwd { return usage + "\n\n" + what + "\n" }
            return usage + "\n\n" + what + "\n\n" + CLI.configNote + "\n"
        }
    }

    static let configNote = "CONFIG defaults to $CHATHOOKS_CONFIG, else chathooks.json5 beside this program."

    static var overview: String {
        """
        usage: chathooks check [--config CONFIG | CONFIG]
               chathooks retry [--config CONFIG | CONFIG]
               chathooks replay [--config CONFIG] [--only append|mail|command] REQUEST-ID...
               chathooks export [--config CONFIG] [--csv | --jsonl] [--from DATE] [--to DATE] [--source S] [--event E] [--output FILE]
               chathooks events [--config CONFIG] [--since DATE] [--source S] [--event E] [--follow]
               chathooks passwd [--cost N]
               chathooks --version
               chathooks COMMAND --help
          check   validate a configuration and print what each endpoint will do
          retry   send the mails that are waiting in the spool (safe from cron, and twice at once)
          replay  run the configured actions again for journaled events
          export  the journal as a CSV for Excel (or JSON Lines), with each event's outcome
          events  list the events, and with --follow wait for new ones
          passwd  make the password hash of the web console (admin: { passwordHash })
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
        var filter = Export.Filter()
        var jsonl = false
        var output: String?
        var follow = false
        var cost = 12
    }

    /// `2026-12-01`, a real date.
    static func isDate(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let y = decimal(b, 0..<4), let m = decimal(b, 5..<7), let d = decimal(b, 8..<10) else { return false }
        return y >= 1970 && (1...12).contains(m) && (1...31).contains(d)
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
            case "--csv" where command == .export:
                result.jsonl = false
            case "--jsonl" where command == .export:
                result.jsonl = true
            case "--output" where command == .export, "-o" where command == .export:
                result.output = value()
            case "--from" where command == .export, "--to" where command == .export, "--since" where command == .events:
                let v = value()
                guard isDate(v) else { usageError(command, "\(name) takes a date such as 2026-12-01, not '\(v)'") }
                if name == "--to" { result.filter.to = v } else { result.filter.from = v }
            case "--source" where command == .export || command == .events:
                let v = value()
                guard ["chatdealer", "spalo"].contains(v) else { usageError(command, "--source takes chatdealer or spalo, not '\(v)'") }
                result.filter.source = v
            case "--event" where command == .export || command == .events:
                let v = value()
                guard ReceiverKind.allCases.contains(where: { $0.event == v }) else {
                    usageError(command, "--event takes one of \(ReceiverKind.allCases.map(\.event).joined(separator: ", ")), not '\(v)'")
                }
                result.filter.event = v
            case "--cost" where command == .passwd:
                let v = value()
                guard let n = Int(v), (Bcrypt.minCost...Bcrypt.maxCost).contains(n) else {
                    usageError(command, "--cost takes a number from \(Bcrypt.minCost) to \(Bcrypt.maxCost), not '\(v)'")
                }
                result.cost = n
            case "--follow" where command == .events, "-f" where command == .events:
                result.follow = true
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
        case .passwd:
            if let p = result.positionals.first { usageError(command, "unexpected argument '\(p)' (the password is read from standard input, never from the command line)") }
        case .export, .events:
            if let p = result.positionals.first { usageError(command, "unexpected argument '\(p)'") }
            if let from = result.filter.from, let to = result.filter.to, from > to {
                usageError(command, "--from \(from) is after --to \(to)")
            }
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
