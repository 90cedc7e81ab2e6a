/// The tables and views, by version: `--init` brings a database to the
/// newest, each step once, under an advisory lock (two nodes may run it at
/// the same moment).
enum Schema {
    static let steps: [String] = [
        // 1: events, outcomes, a view per event kind.
        """
        CREATE TABLE IF NOT EXISTS events (
            request_id   text PRIMARY KEY,
            node         text NOT NULL,
            received_at  timestamptz NOT NULL,
            source       text NOT NULL,
            event        text NOT NULL,
            webhook      text,
            chat_id      text,
            remote_addr  text,
            payload      jsonb NOT NULL,
            forwarded_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS events_received_at ON events (received_at);
        CREATE INDEX IF NOT EXISTS events_chat_id ON events (chat_id);
        CREATE TABLE IF NOT EXISTS outcomes (
            request_id text NOT NULL,
            node       text NOT NULL,
            at         timestamptz NOT NULL,
            run        text NOT NULL,
            source     text,
            event      text,
            actions    jsonb NOT NULL,
            line       jsonb NOT NULL,
            PRIMARY KEY (request_id, node, run, at)
        );
        CREATE OR REPLACE VIEW chat_end_messages AS
            SELECT e.request_id, e.node, e.received_at, e.chat_id, m.ordinality AS position,
                   m.value->>'post_date' AS post_date, m.value->>'post_user' AS post_user,
                   btrim(m.value->>'msg_type') AS msg_type, m.value->>'msg' AS msg
            FROM events e, jsonb_array_elements(CASE WHEN jsonb_typeof(e.payload->'chat_detail') = 'array'
                                                     THEN e.payload->'chat_detail' ELSE '[]'::jsonb END) WITH ORDINALITY m
            WHERE e.source = 'chatdealer' AND e.event = 'chat-end';
        CREATE OR REPLACE VIEW form_items AS
            SELECT e.request_id, e.node, e.received_at, e.chat_id, i.ordinality AS position,
                   i.value->>'item_name' AS item_name, i.value->>'item_value' AS item_value
            FROM events e, jsonb_array_elements(CASE WHEN jsonb_typeof(e.payload->'item') = 'array'
                                                     THEN e.payload->'item' ELSE '[]'::jsonb END) WITH ORDINALITY i
            WHERE e.source = 'chatdealer' AND e.event = 'form';
        CREATE OR REPLACE VIEW spalo_items AS
            SELECT e.request_id, e.node, e.received_at, e.event, e.webhook, d.ordinality AS position,
                   d.value->>'title' AS title, d.value->>'value' AS value, d.value->>'id' AS cell
            FROM events e, jsonb_array_elements(CASE WHEN jsonb_typeof(e.payload->'data') = 'array' THEN e.payload->'data'
                                                     WHEN jsonb_typeof(e.payload->'dataDetail') = 'array' THEN e.payload->'dataDetail'
                                                     ELSE '[]'::jsonb END) WITH ORDINALITY d
            WHERE e.source = 'spalo';
        """,
    ]

    /// Brings the database to the newest version; returns (from, to).
    static func migrate(_ db: Connection) throws(SinkError) -> (Int, Int) {
        try db.exec("BEGIN")
        do {
            try db.exec("SELECT pg_advisory_xact_lock(4242001)")
            try db.exec("CREATE TABLE IF NOT EXISTS chathooks_schema (version integer NOT NULL)")
            let from = scalar(try db.exec("SELECT coalesce(max(version), 0) FROM chathooks_schema")).flatMap { Int($0) } ?? 0
            for (i, step) in steps.enumerated() where i + 1 > from {
                try db.exec(step)
                try db.exec("INSERT INTO chathooks_schema (version) VALUES ($1)", [String(i + 1)])
            }
            try db.exec("COMMIT")
            return (from, steps.count)
        } catch {
            _ = try? db.exec("ROLLBACK")
            throw error
        }
    }

    /// The database's version (0: not initialised).
    static func version(_ db: Connection) throws(SinkError) -> Int {
        guard scalar(try db.exec("SELECT to_regclass('chathooks_schema') IS NOT NULL")) == "t" else { return 0 }
        return scalar(try db.exec("SELECT coalesce(max(version), 0) FROM chathooks_schema")).flatMap { Int($0) } ?? 0
    }
}

/// The first column of the first row.
func scalar(_ rows: [[String?]]) -> String? {
    guard let first = rows.first, let value = first.first else { return nil }
    return value
}
