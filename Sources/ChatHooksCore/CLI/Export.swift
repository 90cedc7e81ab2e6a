import Glibc

/// `chathooks export` and `chathooks events`: the journal, across every
/// rotated file, with each event's action outcomes, for Excel and for a
/// terminal.
package enum Export {
    /// Which events: `from`/`to` are local dates of receipt (`2026-12-01`,
    /// both included), `source` and `event` as the journal names them.
    package struct Filter {
        package var from: String?
        package var to: String?
        package var source: String?
        package var event: String?

        package init(from: String? = nil, to: String? = nil, source: String? = nil, event: String? = nil) {
            self.from = from
            self.to = to
            self.source = source
            self.event = event
        }

        package func accepts(_ record: JournalRecord) -> Bool {
            let date = record.receivedAt.localDate
            if let from, date < from { return false }
            if let to, date > to { return false }
            if let source, record.source != source { return false }
            if let event, record.event != event { return false }
            return true
        }
    }

    // MARK: what became of each event's actions

    /// Each request's actions, by their index: the latest outcome of each
    /// (a later retry or replay replaces what the request itself did).
    package static func outcomes(_ files: JournalFiles) -> [String: [Int: (type: String, outcome: String, why: String)]] {
        var out: [String: [Int: (type: String, outcome: String, why: String)]] = [:]
        for line in JournalReader.lines(files: files, .outcomes) {
            guard let id = line["request_id"]?.stringValue, case .array(let actions)? = line["actions"] else { continue }
            for a in actions {
                guard let index = a["index"]?.scalarText.flatMap({ Int($0) }), let outcome = a["outcome"]?.stringValue else { continue }
                out[id, default: [:]][index] = (a["type"]?.stringValue ?? "", outcome, a["why"]?.stringValue ?? "")
            }
        }
        return out
    }

    /// `成功` when every action was done, else what failed or waits; empty
    /// for an event that ran no action (or from before outcomes were kept).
    package static func summary(_ actions: [Int: (type: String, outcome: String, why: String)]?) -> String {
        guard let actions, !actions.isEmpty else { return "" }
        let ordered = actions.sorted { $0.key < $1.key }.map(\.value)
        let failed = ordered.filter { $0.outcome == "failed" }
        let deferred = ordered.filter { $0.outcome == "deferred" }
        if failed.isEmpty && deferred.isEmpty { return "成功" }
        var parts: [String] = []
        for a in failed { parts.append("失敗: \(a.type): \(a.why)") }
        for a in deferred { parts.append("保留: \(a.type): \(a.why)") }
        return parts.joined(separator: "\n")
    }

    // MARK: the CSV

    package static let fixedColumns = ["受信日時", "送信元", "イベント", "Webhook", "リクエストID", "チャットID", "訪問者ID", "処理結果"]

    /// Excel's CSV: UTF-8 with a BOM (so that Excel reads it as UTF-8 on a
    /// double-click), CRLF between rows, RFC 4180 quoting; one row per
    /// event; fixed columns, then what each kind of event holds, flattened (a
    /// form's items one column each, a transcript one cell).
    package static func csv(_ records: [JournalRecord], outcomes: [String: [Int: (type: String, outcome: String, why: String)]]) -> [UInt8] {
        var columns = fixedColumns
        var rows: [[String: String]] = []
        for record in records { rows.append(row(record, outcome: summary(outcomes[record.requestID]), columns: &columns)) }
        var out: [UInt8] = [0xEF, 0xBB, 0xBF]
        out += line(columns)
        for row in rows { out += line(columns.map { row[$0] ?? "" }) }
        return out
    }

    /// One event's cells by column, adding to `columns` the ones it brings.
    package static func row(_ record: JournalRecord, outcome: String, columns: inout [String]) -> [String: String] {
        var row: [String: String] = [:]
        row["受信日時"] = localTime(record.receivedAt)
        row["送信元"] = record.source
        row["イベント"] = record.event
        row["Webhook"] = record.webhook
        row["リクエストID"] = record.requestID
        row["処理結果"] = outcome
        for (name, value) in fields(AcceptedEvent(record: record).event) {
            if name == "チャットID" || name == "訪問者ID" {
                row[name] = value
                continue
            }
            // An item named like one of our columns (or twice) keeps its own column.
            var column = name
            while fixedColumns.contains(column) || row[column] != nil { column += " (項目)" }
            if !columns.contains(column) { columns.append(column) }
            row[column] = value
        }
        return row
    }

    /// One CSV row, CRLF-ended.
    package static func line(_ cells: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, cell) in cells.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += quoted(cell)
        }
        out += [0x0D, 0x0A]
        return out
    }

    /// RFC 4180: quoted when it holds a quote, comma or line break, quotes
    /// doubled. A cell that Excel would take for a formula (`=`, `+`, `-`,
    /// `@`, a tab or CR first: what a visitor may type) gets a `'` first, so
    /// that opening the file never runs what someone typed into a chat.
    static func quoted(_ cell: String) -> [UInt8] {
        // Excel keeps at most 32,767 characters in a cell: a longer one (a
        // very long transcript) is cut, and says so, rather than spilling.
        var text = cell
        if text.count > 32_000 { text = String(text.prefix(32_000)) + "…(以下省略)" }
        var bytes = Array(text.utf8)
        let formula: Set<UInt32> = [0x3D, 0x2B, 0x2D, 0x40, 0x09, 0x0D, 0xFF1D, 0xFF0B, 0xFF0D, 0xFF20]  // = + - @ tab CR, and full-width
        if let first = text.unicodeScalars.first, formula.contains(first.value) {
            bytes.insert(UInt8(ascii: "'"), at: 0)
        }
        guard bytes.contains(where: { $0 == 0x22 || $0 == 0x2C || $0 == 0x0A || $0 == 0x0D }) else { return bytes }
        var out: [UInt8] = [0x22]
        for b in bytes {
            if b == 0x22 { out.append(0x22) }
            out.append(b)
        }
        out.append(0x22)
        return out
    }

    /// `2026-12-01 09:00:00`, in this machine's local time (TZ).
    static func localTime(_ t: Timestamp) -> String { localTime(t.rfc3339) }

    /// The same of a time as a line holds it (`2026-12-01T09:00:00.123+09:00`: local already).
    package static func localTime(_ rfc3339: String) -> String {
        let b = Array(rfc3339.utf8)
        guard b.count >= 19 else { return rfc3339 }
        return String(decoding: b[0..<10], as: UTF8.self) + " " + String(decoding: b[11..<19], as: UTF8.self)
    }

    /// What each kind of event holds, as column → value, in a fixed order.
    package static func fields(_ event: ValidatedEvent) -> [(String, String)] {
        var out: [(String, String)] = []
        func add(_ name: String, _ value: String?) { if let value { out.append((name, value)) } }
        func page(_ p: VisitorPage) {
            add("ページURL", p.pageURL)
            add("ページタイトル", p.pageTitle)
        }
        func common(_ c: ChatDealerCommon) {
            add("チャットID", c.chatID)
            add("訪問者ID", c.visitorID)
            add("日時", c.eventDate)
        }
        func spalo(_ r: SpaloDatasetRequest) {
            add("訪問者ID", r.info?.userID)
            add("ボット", r.botName)
            add("項目", r.itemName)
            add("ユーザー名", r.info?.userName)
            add("メール", r.info?.email)
            for d in r.data { add(d.title ?? d.id ?? "?", d.value ?? "") }
        }
        switch event {
        case .chatStart(let e):
            common(e.common)
            page(e.page)
            add("IPアドレス", e.ip)
            add("訪問回数", e.visitCount.map(String.init))
        case .chatMessage(let e):
            common(e.common)
            add("投稿日時", e.message.postDate)
            add("投稿者", e.message.postUser)
            add("種別", e.message.type?.rawValue)
            add("メッセージ", e.message.message)
            page(e.page)
        case .chatEnd(let e):
            common(e.common)
            add("開始日時", e.startDate)
            add("終了日時", e.endDate)
            add("会話", e.transcript.map { m in
                "[\(m.postDate ?? "")] \(m.postUser ?? m.type?.rawValue ?? ""): \(m.message ?? "")"
            }.joined(separator: "\n"))
            page(e.page)
        case .scenario(let e):
            common(e.common)
            page(e.page)
            for p in e.parameters { add(p.key, p.value) }
        case .form(let e):
            common(e.common)
            add("件名", e.subject)
            add("内容", e.content)
            for item in e.items { add(item.name, item.value) }
            add("オプトインの同意", e.agreeOptIn.map { $0 ? "はい" : "いいえ" })
            add("個人情報保護方針への同意", e.agreePrivacyPolicy.map { $0 ? "はい" : "いいえ" })
        case .spaloDataset(let r), .spaloSearch(let r):
            spalo(r)
        case .spaloSend(let s):
            add("訪問者ID", s.senderID)
            add("ボット", s.botName)
            add("ワークスペース", s.workspaceName)
            add("グループ", s.groupName)
            add("送信者", s.senderName)
            add("履歴ID", s.historyID)
            for d in s.data { add(d.title, d.value) }
        case .undecoded:
            break
        }
        return out
    }

    // MARK: the commands

    static func export(config: Config, filter: Filter, jsonl: Bool, output: String?) -> Int32 {
        let records = JournalReader.records(files: config.journal.files) { _ in true }.filter(filter.accepts)
        let bytes: [UInt8]
        if jsonl {
            bytes = records.flatMap(\.line)
        } else {
            bytes = csv(records, outcomes: outcomes(config.journal.files))
        }
        if let output {
            let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
            guard fd >= 0, writeAll(fd, bytes) else {
                writeAll(2, Array("chathooks export: \(SystemError("write", path: output))\n".utf8))
                if fd >= 0 { close(fd) }
                return 1
            }
            close(fd)
            writeAll(2, Array("chathooks export: \(records.count) event\(records.count == 1 ? "" : "s") written to \(output)\n".utf8))
        } else {
            guard writeAll(1, bytes) else { return 1 }
        }
        return 0
    }

    /// One readable line per event: time, route, request id, chat or
    /// visitor, and the outcome.
    static func listing(_ record: JournalRecord, _ outcome: String) -> String {
        var who: [String] = []
        if let chat = record.payload["chat_id"]?.scalarText { who.append("chat \(chat)") }
        if let visitor = record.payload["visitor_id"]?.scalarText { who.append("visitor \(visitor)") }
        if let user = record.payload["info"]?["userName"]?.stringValue { who.append(user) }
        let route = record.webhook.isEmpty ? "\(record.source)/\(record.event)" : "\(record.source)/\(record.event) \(record.webhook)"
        let result = outcome.isEmpty ? "" : "  " + outcome.replacingBytes("\n", with: "; ")
        return "\(localTime(record.receivedAt))  \(route)  \(record.requestID)  \(who.joined(separator: " "))\(result)"
    }

    static func events(config: Config, filter: Filter, follow: Bool) -> Int32 {
        let files = config.journal.files
        let results = outcomes(files)
        for record in JournalReader.records(files: files, select: { _ in true }) where filter.accepts(record) {
            print(listing(record, summary(results[record.requestID])))
        }
        guard follow else { return 0 }
        // From the end of every file as it is now: new lines as they come,
        // new files (a new month) as they appear. Until interrupted.
        var offsets: [String: Int] = [:]
        for path in files.all(.journal) { offsets[path] = JournalReader.size(path) }
        while true {
            fflush(nil)
            sleep(1)
            for path in files.all(.journal) {
                let start = offsets[path] ?? 0
                let (records, end) = JournalReader.records(path: path, from: start)
                offsets[path] = end
                for record in records where filter.accepts(record) { print(listing(record, "")) }
            }
        }
    }
}
