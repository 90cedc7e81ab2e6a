import CStartup
import Glibc

/// The `chathooks` admin command.
public enum CLI {
    /// One executable, many names: copied or linked as `chatdealer-form.cgi` it
    /// is that receiver; started by a web server (CGI or FastCGI) it routes by
    /// path; from a shell it is the admin command.
    public static func main(_ arguments: [String]) -> Never {
        if let kind = ReceiverKind(executableName: arguments.first ?? "") {
            Server.main(.fixed(kind))
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
        guard let name = args.first else { usageError(nil, "no command given") }
        let rest = Array(args.dropFirst())
        switch name {
        case "check":
            let a = parse(rest, for: .check)
            exit(check(path: a.config))
        case "retry":
            let a = parse(rest, for: .retry)
            exit(withConfig(a.config) { Maintenance.retry(config: $0) })
        case "replay":
            let a = parse(rest, for: .replay)
            exit(withConfig(a.config) { Maintenance.replay(config: $0, ids: a.positionals, only: a.only) })
        case "export":
            let a = parse(rest, for: .export)
            exit(withConfig(a.config) { Export.export(config: $0, filter: a.filter, jsonl: a.jsonl, output: a.output) })
        case "events":
            let a = parse(rest, for: .events)
            exit(withConfig(a.config) { Export.events(config: $0, filter: a.filter, follow: a.follow) })
        case "passwd":
            let a = parse(rest, for: .passwd)
            exit(Passwd.run(cost: a.cost))
        case "sink":
            execSink(rest)
        case "--version", "-V", "version":
            guard rest.isEmpty else { usageError(nil, "--version takes no arguments") }
            writeAll(1, Array((versionText + "\n").utf8))
            exit(0)
        case "help", "--help", "-h":
            if let topic = rest.first, let command = Command(rawValue: topic) {
                writeAll(1, Array(command.help.utf8))
            } else {
                writeAll(1, Array(overview.utf8))
            }
            exit(0)
        default:
            usageError(nil, "unknown command '\(name)'")
        }
    }

    /// `chathooks sink …` is `chathooks-sink …`, the executable beside this
    /// one: only it links libpq, so that no receiver does.
    static func execSink(_ args: [String]) -> Never {
        let exe = Files.executablePath() ?? CommandLine.arguments.first ?? "chathooks"
        let sink = Files.directoryName(exe) + "/chathooks-sink"
        guard access(sink, X_OK) == 0 else {
            writeAll(2, Array("chathooks sink: \(sink) is not there: the PostgreSQL sink is its own executable (make build makes it; the shared-hosting bundle has none)\n".utf8))
            exit(2)
        }
        let argv = ([sink, "sink"] + args).map { strdup($0) } + [nil]
        execv(sink, argv)
        writeAll(2, Array("chathooks sink: \(SystemError("exec", path: sink))\n".utf8))
        exit(2)
    }

    /// `chathooks 0.1.0 (libfcgi 2.4.2, libxcrypt 4.4.33, SQLite 3.40.1)`:
    /// the C libraries are linked in, so their versions are this build's.
    public static var versionText: String {
        "chathooks \(String(cString: chathooks_version())) (libfcgi \(String(cString: chathooks_libfcgi_version())), "
            + "libxcrypt \(String(cString: chathooks_libxcrypt_version())), SQLite \(String(cString: chathooks_sqlite_version())))"
    }

    /// Now, or the test suite's fixed time (`CHATHOOKS_TEST_CLOCK`, RFC 3339),
    /// as the receivers take it: for a journal that rotates only.
    package static func now(_ config: Config) -> Timestamp {
        if config.journal.rotate != .none, let fixed = getenv("CHATHOOKS_TEST_CLOCK"),
           let t = Timestamp(rfc3339: String(cString: fixed)) { return t }
        return Timestamp.now()
    }

    /// Runs `body` on the configuration, which must be valid as a whole: the
    /// admin commands do not work around a broken block, they name it.
    static func withConfig(_ path: String, _ body: (Config) -> Int32) -> Int32 {
        do {
            return body(try ConfigLoader.load(path: path, strict: true))
        } catch {
            writeAll(2, Array("\(error)\n(run: chathooks check \(path))\n".utf8))
            return 2
        }
    }

    /// Prints what each endpoint will do, or every problem; returns the exit status.
    public static func check(path: String) -> Int32 {
        let report = checkReport(path: path)
        if report.valid {
            print(report.text, terminator: "")
        } else {
            writeAll(2, Array(report.text.utf8))
        }
        return report.valid ? 0 : 1
    }

    /// What `chathooks check` prints (the console shows it too): what each
    /// endpoint will do, or every problem. Never a secret's value.
    package static func checkReport(path: String) -> (valid: Bool, text: String) {
        // A file that may be downloadable is a problem however valid it is.
        var problems = ConfigExposure.checkForCLI(configPath: path).map { "may be downloadable: \($0)" }
        var config: Config?
        do throws(ConfigError) {
            config = try ConfigLoader.load(path: path, strict: true)
        } catch {
            problems = error.problems + problems
        }
        var notes: [String] = []
        if let config {
            do throws(ConfigError) {
                if let sink = try SinkConfigDecoder.postgres(configPath: path, journal: config.journal) {
                    notes.append("sink: postgres as node \(sink.node), \(sink.batch) records a transaction (chathooks sink postgres)")
                }
            } catch {
                problems += error.problems
            }
            do throws(ConfigError) {
                if let admin = try AdminConfigDecoder.admin(configPath: path) {
                    notes.append("admin: the web console is on (admin/; a session ends after \(admin.idleSeconds / 3600) h idle)")
                } else {
                    notes.append("admin: no web console (add admin: { passwordHash } to have one: chathooks passwd)")
                }
            } catch {
                problems += error.problems
            }
            // What a source quotes from its files is printed without the config's secrets.
            let lookups = LookupCheck.run(config)
            problems += lookups.problems.map { config.redacting($0) }
            notes += lookups.notes.map { "source: " + config.redacting($0) }
        }
        guard let config, problems.isEmpty else {
            var out = "\(path): invalid configuration (\(problems.count) problem\(problems.count == 1 ? "" : "s")):\n"
            for p in problems { out += "  - \(p)\n" }
            return (false, out)
        }
        var out = describe(config)
        for note in notes { out += note + "\n" }
        return (true, out)
    }

    public static func describe(_ config: Config) -> String {
        var out = "\(config.path): valid\n"
        out += "journal: \(config.journal.path) (fsync \(config.journal.fsync ? "on" : "off"))\n"
        out += "body limit: \(config.maxBodyBytes) bytes\n"
        for kind in ReceiverKind.allCases {
            var describer = Describer(config: config)
            out += "\(kind.route) (\(kind.executableName)): " + kind.visit(&describer)
        }
        for w in config.warnings + executableWarnings(config) { out += "warning: \(w)\n" }
        return out
    }

    struct Describer: ReceiverVisitor {
        let config: Config
        func visit<R: Receiver>(_: R.Type) -> String { R.describe(config) }
    }

    /// Programs the actions would run that are not executable (yet). Checked
    /// here, for `check`, not while decoding: decoding runs on every CGI
    /// request, and these are only advice.
    static func executableWarnings(_ config: Config) -> [String] {
        var lists: [(String, [ActionSettings])] = []
        for event in ChatDealerEvent.allCases {
            if let settings = config.chatdealer?.events[event] { lists.append(("chatdealer.events.\(event.rawValue).actions", settings.actions)) }
        }
        for w in config.spalo?.webhooks ?? [] { lists.append(("spalo webhook \(w.name) actions", w.actions)) }
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

}
