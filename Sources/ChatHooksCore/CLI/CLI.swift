import Glibc

/// The `chathooks` admin command.
public enum CLI {
    /// One executable, many names: copied or linked as `chatdealer-form.cgi` it
    /// is that receiver; started by a web server (CGI or FastCGI) it routes by
    /// path; from a shell it is the admin command.
    public static func main(_ arguments: [String]) -> Never {
        if let endpoint = Endpoint(executableName: arguments.first ?? "") {
            Server.main(.fixed(endpoint))
        }
        // Under CGI, a query string without '=' may arrive as arguments
        // (RFC 3875 §4.4): a request must never reach the admin commands.
        if getenv("GATEWAY_INTERFACE") != nil || getenv("REQUEST_METHOD") != nil || FastCGITransport.isFastCGI() {
            Server.main(.byPath)
        }
        // replay and retry append and spool too: a file-size limit must make a
        // write fail, not kill the command halfway.
        FileSizeLimit.ignoreSignal()
        let args = Array(arguments.dropFirst())
        let defaultConfig = { ConfigLoader.locate(environment: ConfigLoader.processEnvironment) }
        switch args.first {
        case "check":
            guard args.count <= 2 else { usage(to: 2) }
            exit(check(path: args.count == 2 ? args[1] : defaultConfig()))
        case "retry":
            guard args.count <= 2 else { usage(to: 2) }
            exit(withConfig(args.count == 2 ? args[1] : defaultConfig()) { Maintenance.retry(config: $0) })
        case "replay":
            var ids: [String] = []
            var only: String? = nil
            var path = defaultConfig()
            var rest = args.dropFirst()
            while let a = rest.popFirst() {
                switch a {
                case "--config": guard let p = rest.popFirst() else { usage(to: 2) }; path = p
                case "--only":
                    guard let t = rest.popFirst(), ["append", "mail", "command"].contains(t) else { usage(to: 2) }
                    only = t
                default: ids.append(a)
                }
            }
            guard !ids.isEmpty else { usage(to: 2) }
            exit(withConfig(path) { Maintenance.replay(config: $0, ids: ids, only: only) })
        case "help", "--help", "-h":
            usage(to: 1)
        case nil:
            usage(to: 2)
        default:
            print("chathooks: unknown command '\(args[0])'\n", to: &standardError)
            usage(to: 2)
        }
    }

    static func usage(to fd: Int32) -> Never {
        let text = """
        usage: chathooks check [CONFIG]
               chathooks retry [CONFIG]
               chathooks replay [--config CONFIG] [--only append|mail|command] REQUEST-ID...
          check   validate a configuration and print what each endpoint will do
          retry   send the mails that are waiting in the spool (safe from cron, and twice at once)
          replay  run the configured actions again for journaled events
          (CONFIG defaults to $CHATHOOKS_CONFIG, else chathooks.json5 beside this program)

        Started by a web server, chathooks is every receiver at once, routed by
        path: as CGI (chathooks.cgi/chatdealer/chat-start) or on a FastCGI socket
        (/hooks/chatdealer/chat-start). Named after one receiver
        (chatdealer-form.cgi, spalo-dataset), it is that receiver.
        """
        writeAll(fd, Array((text + "\n").utf8))
        exit(fd == 1 ? 0 : 2)
    }

    static func withConfig(_ path: String, _ body: (Config) -> Int32) -> Int32 {
        do {
            return body(try ConfigLoader.load(path: path))
        } catch {
            writeAll(2, Array("\(error)\n".utf8))
            return 2
        }
    }

    /// Prints what each endpoint will do, or every problem; returns the exit status.
    public static func check(path: String) -> Int32 {
        do {
            let config = try ConfigLoader.load(path: path)
            print(describe(config), terminator: "")
            return 0
        } catch {
            var out = "\(path): invalid configuration (\(error.problems.count) problem\(error.problems.count == 1 ? "" : "s")):\n"
            for p in error.problems { out += "  - \(p)\n" }
            writeAll(2, Array(out.utf8))
            return 1
        }
    }

    public static func describe(_ config: Config) -> String {
        var out = "\(config.path): valid\n"
        out += "journal: \(config.journal.path) (fsync \(config.journal.fsync ? "on" : "off"))\n"
        out += "body limit: \(config.maxBodyBytes) bytes\n"
        for endpoint in Endpoint.all {
            out += "\(endpoint.route) (\(endpoint.executableName)): "
            switch endpoint {
            case .chatdealer(let event):
                guard let cd = config.chatdealer, let settings = cd.events[event] else {
                    out += "not configured (answers 503)\n"
                    continue
                }
                out += "POST with header \(cd.header) holding one of \(cd.tokens.count) token\(cd.tokens.count == 1 ? "" : "s"); journal"
                out += actionsText(settings.actions) + "\n"
            case .spaloDataset:
                guard let sp = config.spalo else {
                    out += "not configured (answers 503)\n"
                    continue
                }
                let n = min(sp.dataset.staticEntries.count, DatasetReply.maxActions)
                out += "POST with webhookKey and a bcrypt secretHash of the client secret; journal"
                out += actionsText(sp.actions)
                out += n == 0 ? "; reply 400 \"\(sp.dataset.emptyMessage)\"\n" : "; reply \(n) static value\(n == 1 ? "" : "s") (\(sp.dataset.staticEntries.prefix(3).map(\.key).joined(separator: ", "))\(n > 3 ? ", …" : ""))\n"
            }
        }
        for w in config.warnings + executableWarnings(config) { out += "warning: \(w)\n" }
        return out
    }

    /// Programs the actions would run that are not executable (yet). Checked
    /// here, for `check`, not while decoding: decoding runs on every CGI
    /// request, and these are only advice.
    static func executableWarnings(_ config: Config) -> [String] {
        var lists: [(String, [ActionSettings])] = []
        for event in ChatDealerEvent.allCases {
            if let settings = config.chatdealer?.events[event] { lists.append(("chatdealer.events.\(event.rawValue).actions", settings.actions)) }
        }
        if let sp = config.spalo { lists.append(("spalo.actions", sp.actions)) }
        var warnings: [String] = []
        for (path, actions) in lists {
            for (i, action) in actions.enumerated() {
                switch action {
                case .mail(let m) where access(m.sendmail, X_OK) != 0:
                    warnings.append("\(path)[\(i)].sendmail: \(m.sendmail) is not an executable file; mail will be spooled until it is")
                case .command(let c) where access(c.argv[0], X_OK) != 0:
                    warnings.append("\(path)[\(i)].argv[0]: \(c.argv[0]) is not an executable file (yet)")
                default:
                    break
                }
            }
        }
        return warnings
    }

    static func actionsText(_ actions: [ActionSettings]) -> String {
        actions.isEmpty ? "; no actions" : "; then " + actions.enumerated().map { ActionFactory.make($1, index: $0).summary }.joined(separator: ", then ")
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) { writeAll(2, Array(string.utf8)) }
}

nonisolated(unsafe) var standardError = StandardError()
