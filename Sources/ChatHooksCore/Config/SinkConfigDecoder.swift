import Glibc

/// The `sink.postgres` block: where `chathooks sink postgres` forwards the
/// journal. The receivers never read it (they allow the key and skip it);
/// the sink and `chathooks check` decode it from the file.
///
///     sink: {
///       postgres: {
///         conninfo: { file: "secrets/postgres" },  // libpq's "host=… dbname=… user=… password=…"
///         node: "web1",                            // this server's name in the table (default: its host name)
///         batch: 1000,                             // records per transaction
///       },
///     }
public struct PostgresSinkSettings: Sendable {
    /// libpq's connection string (a secret: it may hold the password); empty
    /// for libpq's own defaults and `PG*` environment variables.
    public var conninfo: String
    public var node: String
    public var batch: Int
    /// Where the sink keeps its read position (beside the journal).
    public var state: String
    /// Records PostgreSQL refused, kept aside as JSON lines (beside the journal).
    public var rejected: String
}

public enum SinkConfigDecoder {
    /// The block, or nil when the file has none; problems throw, as for `check`.
    public static func postgres(configPath path: String, journal: JournalSettings,
                                environment: @escaping (String) -> String? = ConfigLoader.processEnvironment) throws(ConfigError) -> PostgresSinkSettings? {
        try ConfigReader.block("sink", configPath: path, environment: environment) { value, r in
            decode(value, journal: journal, reader: &r)
        } ?? nil
    }

    static func decode(_ value: JSONValue, journal: JournalSettings, reader r: inout ConfigReader) -> PostgresSinkSettings? {
        guard let sink = r.object(value, "sink", allowed: ["postgres"]) else { return nil }
        guard let postgres = sink["postgres"] else {
            r.problem("sink.postgres", "is required (the one sink there is)")
            return nil
        }
        guard let pg = r.object(postgres, "sink.postgres", allowed: ["conninfo", "node", "batch"]) else { return nil }
        let conninfo = pg["conninfo"] == nil ? "" : (r.secret(pg["conninfo"], "sink.postgres.conninfo") ?? "")
        var node = r.string(pg, "node", "sink.postgres") ?? hostName()
        if node.isEmpty || node.utf8.count > 64 {
            r.problem("sink.postgres.node", "must be 1 to 64 characters (it names this server in the events table)")
            node = "?"
        }
        // 1,000 rows of 9 parameters: well within PostgreSQL's 65,535 a statement.
        let batch = r.integer(pg, "batch", "sink.postgres", range: 1...5_000) ?? 1_000
        let folder = Files.directoryName(journal.path)
        return PostgresSinkSettings(conninfo: conninfo, node: node, batch: batch,
                                    state: folder + "/sink-postgres.state.json", rejected: folder + "/sink-postgres.rejected.jsonl")
    }

    /// This machine's name (`uname -n`).
    static func hostName() -> String {
        var u = utsname()
        guard uname(&u) == 0 else { return "node" }
        return withUnsafeBytes(of: u.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }
}
