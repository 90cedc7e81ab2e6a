import ChatHooksCore
import Glibc

/// `chathooks sink postgres [--config CONFIG] [--init] [--follow]`.
public enum SinkCommand {
    nonisolated(unsafe) static var stopRequested: sig_atomic_t = 0

    static let usage = "usage: chathooks sink postgres [--config CONFIG] [--init] [--follow]"

    public static func main(_ arguments: [String]) -> Never {
        var args = Array(arguments.dropFirst())
        if args.first == "sink" { args.removeFirst() }
        guard args.first == "postgres" else { fail(2, "chathooks sink: name the sink: postgres (the one there is)\n\(usage)") }
        args.removeFirst()
        var configPath: String?
        var initialise = false, follow = false
        while let a = args.first {
            args.removeFirst()
            switch a {
            case "--config", "-c":
                guard let v = args.first, !v.isEmpty else { fail(2, "chathooks sink: --config needs a file name\n\(usage)") }
                args.removeFirst()
                configPath = v
            case "--init": initialise = true
            case "--follow", "-f": follow = true
            case "--help", "-h":
                writeAll(1, Array("""
                \(usage)

                Forwards this node's journal and action outcomes into PostgreSQL (the
                config's sink.postgres): each event once, however often it runs or is
                stopped. --init creates or migrates the tables and views first. Without
                --follow it sends what is there and exits (for cron); with --follow it
                then waits for new lines, reconnects when PostgreSQL is away, and stops
                after its batch on SIGTERM.

                """.utf8))
                exit(0)
            default:
                fail(2, "chathooks sink: unknown option '\(a)'\n\(usage)")
            }
        }
        let path = configPath ?? ConfigLoader.locate(environment: ConfigLoader.processEnvironment)
        let config: Config
        let settings: PostgresSinkSettings
        do throws(ConfigError) {
            config = try ConfigLoader.load(path: path, strict: true)
            guard let s = try SinkConfigDecoder.postgres(configPath: path, journal: config.journal) else {
                fail(2, "chathooks sink: \(path) has no sink.postgres block")
            }
            settings = s
        } catch {
            fail(2, "\(error)\n(run: chathooks check \(path))")
        }
        installSignals()
        do throws(SystemError) {
            try Files.makeDirectories(Files.directoryName(settings.state))
        } catch {
            fail(1, "chathooks sink: \(error)")
        }
        do throws(SinkError) {
            try SinkState.lock(settings.state)
        } catch {
            fail(1, "chathooks sink: \(error.message)")
        }
        let sink = PostgresSink(settings: settings, files: config.journal.files)
        exit(run(sink, initialise: initialise, follow: follow))
    }

    static func run(_ sink: PostgresSink, initialise: Bool, follow: Bool) -> Int32 {
        var backoff: UInt32 = 500_000
        var db: Connection?
        var initialised = !initialise
        while stopRequested == 0 {
            do throws(SinkError) {
                if db == nil || db!.isBroken {
                    db = nil
                    db = try Connection(sink.settings.conninfo)
                    if !initialised {
                        let (from, to) = try Schema.migrate(db!)
                        say(from == to ? "schema: version \(to), nothing to do" : "schema: version \(from) → \(to)")
                        initialised = true
                    } else if try Schema.version(db!) == 0 {
                        throw SinkError("the database has no chathooks tables: run chathooks sink postgres --init", dataError: false)
                    }
                    backoff = 500_000
                }
                let pass = try sink.pass(db!)
                if pass.events + pass.outcomes + pass.rejected > 0 {
                    say("sent \(pass.events) event\(pass.events == 1 ? "" : "s"), \(pass.outcomes) outcome line\(pass.outcomes == 1 ? "" : "s")"
                        + (pass.rejected > 0 ? "; \(pass.rejected) kept aside in \(sink.settings.rejected)" : ""))
                }
                if pass.more { continue }
                guard follow else { return 0 }
                usleep(200_000)  // a short poll: new lines show within a fifth of a second
            } catch {
                say("\(error.message)")
                guard follow else { return 1 }
                if error.message.hasPrefix("the database has no chathooks tables") { return 1 }
                db = nil
                // PostgreSQL away: try again, waiting longer each time (at most 10 s).
                var slept: UInt32 = 0
                while slept < backoff && stopRequested == 0 { usleep(100_000); slept += 100_000 }
                backoff = min(backoff * 2, 10_000_000)
            }
        }
        say("stopped (SIGTERM) after its batch")
        return 0
    }

    static func say(_ text: String) {
        writeAll(2, Array("chathooks sink: \(text)\n".utf8))
    }

    static func fail(_ status: Int32, _ text: String) -> Never {
        writeAll(2, Array((text + "\n").utf8))
        exit(status)
    }

    /// SIGTERM and SIGINT end the loop after the batch in flight (a batch is
    /// committed, or not, whole; the position is saved only after a commit).
    static func installSignals() {
        signal(SIGPIPE, SIG_IGN)
        var stop = sigaction()
        stop.__sigaction_handler.sa_handler = { _ in SinkCommand.stopRequested = 1 }
        stop.sa_flags = SA_RESTART
        sigaction(SIGTERM, &stop, nil)
        sigaction(SIGINT, &stop, nil)
    }
}
