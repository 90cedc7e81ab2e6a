import ChatHooksCore
import Glibc

/// The console's pages, rendered on the server: no script, no outside asset.
enum Pages {
    // MARK: login

    static func login(_ context: Context, status: Int, message: String?) -> Response {
        var h = HTML()
        Layout.head(&h, title: "ログイン")
        h.raw("<main><div class=\"login\"><h1>chathooks 管理画面</h1>")
        if let message {
            h.raw("<p id=\"error\" class=\"error\">")
            h.text(message)
            h.raw("</p>")
        }
        h.raw("<form id=\"login\" method=\"post\" action=\"login\"><label>パスワード / Password<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required autofocus></label><input type=\"hidden\" name=\"next\" value=\"\"><button type=\"submit\" id=\"login-button\">ログイン</button></form></div></main>")
        Layout.foot(&h)
        return Console.html(status, h)
    }

    // MARK: overview

    static func overview(_ context: Context) -> Response {
        let config = context.config
        let now = CLI.now(config)
        let today = now.localDate
        let counts = DailyCounts.load(config.journal.files, cacheFolder: context.folder + "/cache")
        let records = Records(config: config)
        let problems = records.problems(now: now)
        let spool = records.spool()
        let rejections = records.rejections(limit: 0, today: today)
        var h = HTML()
        Layout.head(&h, title: "概要")
        Layout.nav(&h, context, current: "overview")
        h.raw("<main><h1>概要</h1><div class=\"cards\">")
        h.raw("<a class=\"card\" href=\"problems\"><span class=\"n\" id=\"problems-count\">")
        h.number(problems.count)
        h.raw("</span>失敗・保留の処理 (30 日)</a><a class=\"card\" href=\"problems\"><span class=\"n\" id=\"spool-count\">")
        h.number(spool.count)
        h.raw("</span>再送待ちのメール</a><a class=\"card\" href=\"rejections\"><span class=\"n\" id=\"rejections-today\">")
        h.number(rejections.today)
        h.raw("</span>今日拒否した呼び出し</a></div>")

        // The last 14 days, one row of bars per route.
        var days: [String] = []
        for k in stride(from: 13, through: 0, by: -1) { days.append(Timestamp(seconds: now.seconds - k * 86400, nanoseconds: 0).localDate) }
        h.raw("<h2>日別の受信数 (14 日間)</h2>")
        chart(&h, days: days, counts: counts)

        h.raw("<h2>最後に受け付けたイベント</h2><table id=\"last-events\"><thead><tr><th>エンドポイント</th><th>受信日時</th><th>リクエストID</th></tr></thead><tbody>")
        for kind in ReceiverKind.allCases {
            h.raw("<tr><th>")
            h.text(Layout.routeName(kind.source, kind.event))
            h.raw(" <span class=\"muted\">/")
            h.text(kind.route)
            h.raw("</span></th>")
            if let last = counts.last[kind.source + "/" + kind.event] {
                h.raw("<td>")
                h.text(Layout.time(last.receivedAt))
                h.raw("</td><td><a")
                h.link("event", [("id", last.requestID), ("at", "\(last.file):\(last.offset)")])
                h.raw(">")
                h.text(last.requestID)
                h.raw("</a></td>")
            } else {
                h.raw("<td colspan=\"2\" class=\"empty\">まだありません</td>")
            }
            h.raw("</tr>")
        }
        h.raw("</tbody></table>")

        h.raw("<h2>失敗・保留の処理</h2>")
        problemTable(&h, Array(problems.prefix(10)), id: "problems-summary")
        if problems.count > 10 { h.raw("<p><a href=\"problems\">すべて見る</a></p>") }

        h.raw("<h2>設定の確認 (chathooks check)</h2><pre id=\"check\">")
        h.text(CLI.checkReport(path: config.path).text)
        h.raw("</pre></main>")
        Layout.foot(&h)
        return Console.html(200, h)
    }

    /// An inline SVG: for each route a row of 14 bars, scaled to the busiest day of all.
    static func chart(_ h: inout HTML, days: [String], counts: DailyCounts) {
        let kinds = ReceiverKind.allCases
        var peak = 1
        for d in days { for k in kinds { peak = max(peak, counts.days[d]?[k.source + "/" + k.event] ?? 0) } }
        let labelWidth = 150, barWidth = 26, rowHeight = 46, top = 8
        let width = labelWidth + days.count * barWidth + 10
        let height = top + kinds.count * rowHeight + 22
        h.raw("<svg id=\"chart\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"日別の受信数\"")
        h.attribute("viewBox", "0 0 \(width) \(height)")
        h.attribute("width", String(width))
        h.attribute("height", String(height))
        h.raw(">")
        for (row, kind) in kinds.enumerated() {
            let base = top + row * rowHeight + rowHeight - 8
            h.raw("<text class=\"label\" x=\"4\"")
            h.attribute("y", String(base - 12))
            h.raw(">")
            h.text(Layout.routeName(kind.source, kind.event))
            h.raw("</text>")
            for (i, day) in days.enumerated() {
                let n = counts.days[day]?[kind.source + "/" + kind.event] ?? 0
                let barHeight = n == 0 ? 0 : max(2, n * (rowHeight - 14) / peak)
                let x = labelWidth + i * barWidth
                h.raw("<rect class=\"bar\"")
                h.attribute("x", String(x))
                h.attribute("y", String(base - barHeight))
                h.attribute("width", String(barWidth - 6))
                h.attribute("height", String(barHeight))
                h.raw("><title>")
                h.text("\(day) \(Layout.routeName(kind.source, kind.event)): \(n) 件")
                h.raw("</title></rect>")
                if n > 0 {
                    h.raw("<text")
                    h.attribute("x", String(x))
                    h.attribute("y", String(base - barHeight - 2))
                    h.raw(">")
                    h.number(n)
                    h.raw("</text>")
                }
            }
        }
        for (i, day) in days.enumerated() where i % 2 == 1 || i == days.count - 1 {
            h.raw("<text")
            h.attribute("x", String(labelWidth + i * barWidth - 4))
            h.attribute("y", String(height - 6))
            h.raw(">")
            h.text(String(day.dropFirst(5)))
            h.raw("</text>")
        }
        h.raw("</svg>")
    }

    // MARK: events

    static func events(_ context: Context) -> Response {
        let filter = EventFilter(context.query)
        let store = EventStore(context.config.journal.files)
        let (found, next) = store.page(filter)
        let since = found.last.flatMap { Timestamp(rfc3339: $0.head.receivedAt) } ?? Timestamp(seconds: 0, nanoseconds: 0)
        let outcomes = Records(config: context.config).outcomes(for: Set(found.map(\.head.requestID)), since: since)
        var h = HTML()
        Layout.head(&h, title: "イベント")
        Layout.nav(&h, context, current: "events")
        h.raw("<main><h1>イベント</h1>")
        filterForm(&h, filter)
        h.raw("<p><a id=\"download\"")
        h.link("export.csv", filter.pairs)
        h.raw(">この条件で CSV をダウンロード (Excel 用)</a></p>")
        if found.isEmpty {
            h.raw("<p class=\"empty\" id=\"no-events\">条件に合うイベントはありません。</p>")
        } else {
            h.raw("<table id=\"events\"><thead><tr><th>受信日時</th><th>イベント</th><th>チャット / 訪問者</th><th>処理結果</th><th></th></tr></thead><tbody>")
            for e in found {
                h.raw("<tr class=\"event\"><td class=\"time\">")
                h.text(Layout.time(e.head.receivedAt))
                h.raw("</td><td class=\"route\">")
                h.text(Layout.routeName(e.head.source, e.head.event))
                h.raw(" <span class=\"muted\">")
                h.text(e.head.source + "/" + e.head.event)
                h.raw("</span>")
                if !e.head.webhook.isEmpty {
                    h.raw(" <span class=\"muted\">")
                    h.text(e.head.webhook)
                    h.raw("</span>")
                }
                h.raw("</td><td class=\"who\">")
                for (i, part) in who(e.record).enumerated() {
                    if i > 0 { h.raw(" / ") }
                    h.raw(part.label)
                    h.value(part.value, limit: 60)
                }
                h.raw("</td><td class=\"outcome\">")
                if let s = Records.summary(outcomes[e.head.requestID]) {
                    h.raw(s.ok ? "<span class=\"ok\">" : "<span class=\"bad\">")
                    h.text(s.text)
                    h.raw("</span>")
                } else {
                    h.raw("<span class=\"muted\">処理なし</span>")
                }
                h.raw("</td><td><a class=\"open\"")
                h.link("event", [("id", e.head.requestID), ("at", "\(e.file):\(e.offset)")])
                h.raw(">詳細</a></td></tr>")
            }
            h.raw("</tbody></table>")
        }
        if !next.isEmpty {
            h.raw("<p class=\"pager\"><a id=\"next-page\"")
            h.link("events", filter.pairs + [("before", next)])
            h.raw(">さらに古いイベント →</a></p>")
        }
        h.raw("</main>")
        Layout.foot(&h)
        return Console.html(200, h)
    }

    static func filterForm(_ h: inout HTML, _ filter: EventFilter) {
        h.raw("<form id=\"filter\" class=\"filter\" method=\"get\" action=\"events\"><label>送信元<select name=\"source\"><option value=\"\">すべて</option>")
        for source in ["chatdealer", "spalo"] {
            h.raw("<option")
            h.attribute("value", source)
            if filter.source == source { h.raw(" selected") }
            h.raw(">")
            h.text(source == "chatdealer" ? "Chat Dealer" : "SPALO")
            h.raw("</option>")
        }
        h.raw("</select></label><label>イベント<select name=\"event\"><option value=\"\">すべて</option>")
        var seen: [String] = []
        for kind in ReceiverKind.allCases where !seen.contains(kind.event) {
            seen.append(kind.event)
            h.raw("<option")
            h.attribute("value", kind.event)
            if filter.event == kind.event { h.raw(" selected") }
            h.raw(">")
            h.text(Layout.routeName(kind.source, kind.event))
            h.raw("</option>")
        }
        h.raw("</select></label><label>開始日<input type=\"date\" name=\"from\"")
        h.attribute("value", filter.from)
        h.raw("></label><label>終了日<input type=\"date\" name=\"to\"")
        h.attribute("value", filter.to)
        h.raw("></label><label>検索 (チャットID・訪問者・内容)<input type=\"search\" name=\"q\" maxlength=\"200\"")
        h.attribute("value", filter.q)
        h.raw("></label><button type=\"submit\" id=\"filter-button\">絞り込む</button></form>")
    }

    /// Who an event is about: the chat and visitor, or SPALO's user; each
    /// value shown apart from our label (isolated).
    static func who(_ record: JournalRecord) -> [(label: StaticString, value: String)] {
        var parts: [(label: StaticString, value: String)] = []
        if let chat = record.payload["chat_id"]?.scalarText { parts.append(("チャット ", chat)) }
        if let visitor = record.payload["visitor_id"]?.scalarText { parts.append(("訪問者 ", visitor)) }
        if let name = record.payload["info"]?["userName"]?.scalarText { parts.append(("", name)) }
        if let sender = record.payload["senderName"]?.scalarText { parts.append(("", sender)) }
        return parts
    }

    // MARK: one event

    static func event(_ context: Context) -> Response {
        let query = context.query
        let id = query["id"] ?? ""
        let store = EventStore(context.config.journal.files)
        guard !id.isEmpty, let found = store.find(id: id, hint: query["at"] ?? "") else {
            return Console.errorPage(404, "イベントが見つかりません", "このリクエストIDのイベントはジャーナルにありません。/ No event with this request id is in the journal.")
        }
        let record = found.record
        let outcomes = Records(config: context.config).outcomes(for: [record.requestID], since: record.receivedAt)[record.requestID] ?? []
        var h = HTML()
        Layout.head(&h, title: "イベントの詳細")
        Layout.nav(&h, context, current: "events")
        h.raw("<main><h1>")
        h.text(Layout.routeName(record.source, record.event))
        h.raw(" <span class=\"muted\">")
        h.text(Layout.time(found.head.receivedAt))
        h.raw("</span></h1>")
        notice(&h, context)
        h.raw("<table id=\"meta\"><tbody><tr><th>リクエストID</th><td>")
        h.text(record.requestID)
        h.raw("</td></tr><tr><th>送信元</th><td>")
        h.text(record.source + "/" + record.event)
        if !record.webhook.isEmpty {
            h.raw(" (Webhook ")
            h.text(record.webhook)
            h.raw(")")
        }
        h.raw("</td></tr><tr><th>送信元アドレス</th><td>")
        h.value(record.remoteAddress)
        h.raw("</td></tr></tbody></table>")

        let event = AcceptedEvent(record: record).event
        content(&h, event)

        h.raw("<h2>処理の結果</h2>")
        if outcomes.isEmpty {
            h.raw("<p class=\"empty\" id=\"no-outcomes\">このイベントの処理結果の記録はありません。</p>")
        } else {
            h.raw("<table id=\"outcomes\"><thead><tr><th>日時</th><th>契機</th><th>#</th><th>処理</th><th>結果</th><th>理由</th><th>時間 (ms)</th></tr></thead><tbody>")
            for line in outcomes {
                for a in line.actions {
                    h.raw("<tr class=\"outcome\"><td>")
                    h.text(Layout.time(line.at))
                    h.raw("</td><td class=\"run\">")
                    h.text(Layout.runName(line.run))
                    h.raw("</td><td>")
                    h.number(a.index)
                    h.raw("</td><td class=\"type\">")
                    h.text(a.type)
                    h.raw(a.outcome == "done" ? "</td><td class=\"result ok\">" : a.outcome == "failed" ? "</td><td class=\"result bad\">" : "</td><td class=\"result wait\">")
                    h.text(Layout.outcomeName(a.outcome))
                    h.raw("</td><td>")
                    h.value(a.why)
                    h.raw("</td><td>")
                    h.text(a.ms)
                    h.raw("</td></tr>")
                }
            }
            h.raw("</tbody></table>")
        }

        h.raw("<h2>処理の再実行</h2>")
        switch Maintenance.actionsFor(record, config: context.config) {
        case .success(let actions) where !actions.isEmpty:
            h.raw("<p>いまの設定の処理を、このイベントについてもう一度実行します (ジャーナルには追加しません)。</p><div class=\"replays\">")
            replayButton(&h, context, id: record.requestID, only: nil, label: "すべての処理を再実行 (\(actions.count) 件)")
            var types: [String] = []
            for a in actions where !types.contains(a.typeName) { types.append(a.typeName) }
            if types.count > 1 || actions.count > 1 {
                for t in types { replayButton(&h, context, id: record.requestID, only: t, label: "\(t) だけ再実行") }
            } else if let t = types.first {
                replayButton(&h, context, id: record.requestID, only: t, label: "\(t) だけ再実行")
            }
            h.raw("</div>")
        case .success:
            h.raw("<p class=\"empty\">このイベントには、いまの設定で実行する処理がありません。</p>")
        case .failure(let refusal):
            h.raw("<p class=\"empty\">再実行できません: ")
            h.text(refusal.message)
            h.raw("</p>")
        }

        h.raw("<h2>ジャーナルの記録 (そのまま)</h2><pre id=\"raw\">")
        h.text(Pretty.json(.object(JSONObject([
            .init(key: "received_at", value: .string(found.head.receivedAt)), .init(key: "source", value: .string(record.source)),
            .init(key: "event", value: .string(record.event)), .init(key: "webhook", value: .string(record.webhook)),
            .init(key: "request_id", value: .string(record.requestID)), .init(key: "remote_addr", value: .string(record.remoteAddress)),
            .init(key: "payload", value: .object(record.payload)),
        ].filter { !($0.key == "webhook" && record.webhook.isEmpty) }))))
        h.raw("</pre></main>")
        Layout.foot(&h)
        return Console.html(200, h)
    }

    /// The result of the button pressed just before, once.
    static func notice(_ h: inout HTML, _ context: Context) {
        guard let text = context.notice, !text.isEmpty else { return }
        h.raw("<p id=\"notice\" class=\"notice\" role=\"status\">")
        h.text(text)
        h.raw("</p>")
    }

    static func replayButton(_ h: inout HTML, _ context: Context, id: String, only: String?, label: String) {
        h.raw("<form class=\"replay\" method=\"post\" action=\"replay\">")
        Layout.csrf(&h, context)
        h.raw("<input type=\"hidden\" name=\"id\"")
        h.attribute("value", id)
        h.raw(">")
        if let only {
            h.raw("<button type=\"submit\" name=\"only\"")
            h.attribute("value", only)
            h.attribute("id", "replay-" + only)
            h.raw(">")
        } else {
            h.raw("<button type=\"submit\" id=\"replay-all\">")
        }
        h.text(label)
        h.raw("</button></form>")
    }

    /// What the event holds, shown as what it is.
    static func content(_ h: inout HTML, _ event: ValidatedEvent) {
        switch event {
        case .form(let f):
            h.raw("<h2>フォームの回答</h2><table id=\"form-items\"><tbody>")
            if let s = f.subject { row(&h, "件名", s) }
            for item in f.items { row(&h, item.name, item.value) }
            if let c = f.content { row(&h, "内容", c) }
            if let a = f.agreeOptIn { row(&h, "オプトインの同意", a ? "はい" : "いいえ") }
            if let a = f.agreePrivacyPolicy { row(&h, "個人情報保護方針への同意", a ? "はい" : "いいえ") }
            h.raw("</tbody></table>")
        case .chatEnd(let e):
            h.raw("<h2>会話</h2>")
            transcript(&h, e.transcript)
        case .chatMessage(let e):
            h.raw("<h2>メッセージ</h2>")
            transcript(&h, [e.message])
        case .spaloDataset(let r), .spaloSearch(let r):
            h.raw("<h2>SPALO のデータ</h2><table id=\"spalo-data\"><thead><tr><th>項目</th><th>ID</th><th>種類</th><th>値</th></tr></thead><tbody>")
            for d in r.data {
                h.raw("<tr><th>")
                h.value(d.title ?? "")
                h.raw("</th><td>")
                h.value(d.id ?? "")
                h.raw("</td><td>")
                h.value(d.type ?? "")
                h.raw("</td><td>")
                h.value(d.value ?? "")
                h.raw("</td></tr>")
            }
            h.raw("</tbody></table>")
        case .spaloSend(let s):
            h.raw("<h2>SPALO のデータ</h2><table id=\"spalo-data\"><thead><tr><th>項目</th><th>値</th></tr></thead><tbody>")
            for d in s.data { row(&h, d.title, d.value) }
            h.raw("</tbody></table>")
        default:
            break
        }
        // Every field, as `chathooks export` flattens it.
        let fields = Export.fields(event)
        if !fields.isEmpty {
            h.raw("<h2>項目</h2><table id=\"fields\"><tbody>")
            for (name, value) in fields { row(&h, name, value) }
            h.raw("</tbody></table>")
        }
    }

    static func row(_ h: inout HTML, _ name: String, _ value: String) {
        h.raw("<tr><th>")
        h.value(name)
        h.raw("</th><td>")
        h.value(value)
        h.raw("</td></tr>")
    }

    static func transcript(_ h: inout HTML, _ messages: [ChatMessage]) {
        guard !messages.isEmpty else {
            h.raw("<p class=\"empty\">メッセージはありません。</p>")
            return
        }
        h.raw("<ol id=\"transcript\" class=\"transcript\">")
        for m in messages {
            switch m.type {
            case .staff?: h.raw("<li class=\"msg staff\">")
            case .visitor?: h.raw("<li class=\"msg visitor\">")
            default: h.raw("<li class=\"msg system\">")
            }
            h.raw("<span class=\"time\">")
            h.value(m.postDate ?? "")
            h.raw("</span><span class=\"who\">")
            let role: StaticString
            switch m.type {
            case .staff?: role = "オペレーター"
            case .visitor?: role = "訪問者"
            case .system?: role = "システム"
            case nil: role = ""
            }
            // The name on its own (isolated: a direction override in it
            // must not turn our words around), then its role as a badge of
            // ours, which a name typed to look like one cannot be.
            if let user = m.postUser { h.value(user) }
            if role.utf8CodeUnitCount > 0 {
                h.raw(" <span class=\"role\">")
                h.raw(role)
                h.raw("</span>")
            }
            h.raw("</span><span class=\"text\">")
            h.value(m.message ?? "")
            h.raw("</span></li>")
        }
        h.raw("</ol>")
    }

    // MARK: problems

    static func problems(_ context: Context) -> Response {
        let records = Records(config: context.config)
        let now = CLI.now(context.config)
        let problems = records.problems(now: now)
        let spool = records.spool()
        var reasons: [String: String] = [:]
        for p in problems { reasons["\(p.line.requestID)-\(p.action.index)"] = p.action.why }
        var h = HTML()
        Layout.head(&h, title: "問題")
        Layout.nav(&h, context, current: "problems")
        h.raw("<main><h1>問題</h1>")
        notice(&h, context)
        h.raw("<h2>再送待ちのメール</h2>")
        if spool.isEmpty {
            h.raw("<p class=\"empty\" id=\"spool-empty\">再送待ちのメールはありません。</p>")
        } else {
            h.raw("<table id=\"spool\"><thead><tr><th>保存日時</th><th>イベント</th><th>理由 (最後の試み)</th><th>ファイル</th></tr></thead><tbody>")
            for s in spool {
                h.raw("<tr class=\"spooled\"><td>")
                h.text(Layout.time(Timestamp(seconds: s.since, nanoseconds: 0).rfc3339))
                h.raw("</td><td><a")
                h.link("event", [("id", s.requestID)])
                h.raw(">")
                h.text(s.requestID)
                h.raw("</a></td><td class=\"reason\">")
                h.value(reasons["\(s.requestID)-\(s.index)"] ?? "")
                h.raw("</td><td>")
                h.text(s.name)
                h.raw("</td></tr>")
            }
            h.raw("</tbody></table>")
        }
        h.raw("<form id=\"retry\" method=\"post\" action=\"retry\">")
        Layout.csrf(&h, context)
        h.raw("<button type=\"submit\" id=\"retry-button\">再送待ちのメールをいま送る</button></form>")
        h.raw("<h2>失敗・保留の処理 (30 日以内、最新の結果)</h2>")
        problemTable(&h, problems, id: "failed")
        h.raw("</main>")
        Layout.foot(&h)
        return Console.html(200, h)
    }

    static func problemTable(_ h: inout HTML, _ problems: [Records.Problem], id: StaticString) {
        guard !problems.isEmpty else {
            h.raw("<p class=\"empty\">失敗・保留の処理はありません。</p>")
            return
        }
        h.raw("<table id=\"")
        h.raw(id)
        h.raw("\"><thead><tr><th>日時</th><th>イベント</th><th>処理</th><th>結果</th><th>理由</th></tr></thead><tbody>")
        for p in problems {
            h.raw("<tr class=\"problem\"><td>")
            h.text(Layout.time(p.line.at))
            h.raw("</td><td><a")
            h.link("event", [("id", p.line.requestID)])
            h.raw(">")
            h.text(Layout.routeName(p.line.source, p.line.event))
            h.raw(" ")
            h.text(p.line.requestID)
            h.raw("</a></td><td>")
            h.text("#\(p.action.index) \(p.action.type)")
            h.raw(p.action.outcome == "failed" ? "</td><td class=\"bad\">" : "</td><td class=\"wait\">")
            h.text(Layout.outcomeName(p.action.outcome))
            h.raw("</td><td class=\"reason\">")
            h.value(p.action.why)
            h.raw("</td></tr>")
        }
        h.raw("</tbody></table>")
    }

    // MARK: rejections

    static func rejections(_ context: Context) -> Response {
        let now = CLI.now(context.config)
        let (list, today) = Records(config: context.config).rejections(limit: 200, today: now.localDate)
        var h = HTML()
        Layout.head(&h, title: "拒否した呼び出し")
        Layout.nav(&h, context, current: "rejections")
        h.raw("<main><h1>拒否した呼び出し</h1><p>Chat Dealer の「API連携」が「失敗」と表示するときは、まずここを見てください。今日: <strong id=\"rejections-today\">")
        h.number(today)
        h.raw("</strong> 件 (新しい順に最大 200 件)。</p>")
        if list.isEmpty {
            h.raw("<p class=\"empty\" id=\"no-rejections\">拒否した呼び出しはありません。</p>")
        } else {
            h.raw("<table id=\"rejections\"><thead><tr><th>日時</th><th>経路</th><th>状態</th><th>理由</th><th>送信元アドレス</th></tr></thead><tbody>")
            for r in list {
                h.raw("<tr class=\"rejection\"><td class=\"time\">")
                h.text(Layout.time(r.at))
                h.raw("</td><td class=\"route\">")
                h.value(r.route)
                h.raw("</td><td class=\"status\">")
                h.text(r.status)
                h.raw("</td><td class=\"reason\">")
                h.value(r.message.isEmpty ? r.error : "\(r.error): \(r.message)")
                h.raw("</td><td class=\"remote\">")
                h.value(r.remote)
                h.raw("</td></tr>")
            }
            h.raw("</tbody></table>")
        }
        h.raw("</main>")
        Layout.foot(&h)
        return Console.html(200, h)
    }

    // MARK: the CSV

    static func export(_ context: Context) -> Response {
        let filter = EventFilter(context.query)
        switch ConsoleExport.csv(EventStore(context.config.journal.files), filter) {
        case .success(let bytes):
            return Response(status: 200, contentType: "text/csv; charset=utf-8",
                            headers: Console.securityHeaders + [("Content-Disposition", "attachment; filename=\"chathooks-events.csv\"")],
                            body: bytes)
        case .failure(let tooMany):
            return Console.errorPage(413, "件数が多すぎます",
                                     "この条件に合うイベントは \(tooMany.count) 件あり、画面からダウンロードできるのは \(ConsoleExport.limit) 件までです。日付で絞り込むか、サーバーで chathooks export を使ってください。/ Too many events for a download: narrow the dates, or run chathooks export.")
        }
    }
}

/// The events page's filter as `chathooks export`'s CSV, the same file,
/// made in two passes over the journal so that no more than the CSV itself
/// is held: the columns and the matching requests first, then the rows. At
/// most `limit` events (a CGI process on shared hosting has little memory).
enum ConsoleExport {
    static let limit = 100_000

    struct TooMany: Error { var count: Int }

    static func csv(_ store: EventStore, _ filter: EventFilter) -> Result<[UInt8], TooMany> {
        let needle = filter.q.isEmpty ? nil : TextSearch(filter.q)
        var columns = Export.fixedColumns
        var ids = Set<String>()
        var count = 0
        forEach(store, filter, needle) { record in
            count += 1
            if count <= limit {
                ids.insert(record.requestID)
                _ = Export.row(record, outcome: "", columns: &columns)
            }
        }
        guard count <= limit else { return .failure(TooMany(count: count)) }
        let outcomes = latestOutcomes(store.files, ids)
        var out: [UInt8] = [0xEF, 0xBB, 0xBF]
        out += Export.line(columns)
        forEach(store, filter, needle) { record in
            var unused = columns
            let row = Export.row(record, outcome: Export.summary(outcomes[record.requestID]), columns: &unused)
            out += Export.line(columns.map { row[$0] ?? "" })
        }
        return .success(out)
    }

    /// Every record the filter accepts, oldest first, read a batch of lines at a time.
    static func forEach(_ store: EventStore, _ filter: EventFilter, _ needle: TextSearch?, _ body: (JournalRecord) -> Void) {
        let start = filter.from.isEmpty ? nil : Bisect.startOfDay(filter.from)
        var newerInARow = 0
        for path in store.paths {
            // From `from` on: where each file's lines reach it is found by time, not read to.
            var offset = start.map { Bisect.bounds(path: path, seconds: $0).low } ?? 0
            while true {
                let (lines, end, more) = JournalReader.lines(path: path, from: offset, limit: 10_000, maxLine: BackwardReader.maxLine)
                for line in lines {
                    let slice = line[...]
                    // Past `to` for good (a few lines out of order allowed for): nothing later is wanted.
                    if !filter.to.isEmpty, let raw = RawHead(slice) {
                        if filter.to.utf8.lexicographicallyPrecedes(raw.date) {
                            newerInARow += 1
                            if newerInARow > 1000 { return }
                            continue
                        }
                        newerInARow = 0
                    }
                    if let raw = RawHead(slice), !filter.acceptsRaw(raw) { continue }
                    if let needle, !needle.mayMatch(slice) { continue }
                    guard let value = try? JSONParser.parse(line), let record = JournalRecord(value),
                          filter.acceptsHead(JournalLineHead(slice) ?? JournalLineHead(record: record)) else { continue }
                    if let needle, !needle.matches(record) { continue }
                    body(record)
                }
                offset = end
                if !more || lines.isEmpty { break }
            }
        }
    }

    /// The latest outcome of each action of these requests (a retry or replay replaces the request's own).
    static func latestOutcomes(_ files: JournalFiles, _ ids: Set<String>) -> [String: [Int: (type: String, outcome: String, why: String)]] {
        var out: [String: [Int: (type: String, outcome: String, why: String)]] = [:]
        let wanted = IDSet(ids)
        for path in files.all(.outcomes) {
            var offset = 0
            while true {
                let (lines, end, more) = JournalReader.lines(path: path, from: offset, limit: 10_000, maxLine: BackwardReader.maxLine)
                for line in lines {
                    guard let head = OutcomeLine.rawHead(line[...]), wanted.contains(line[head.id]),
                          let value = try? JSONParser.parse(line), let o = OutcomeLine(value) else { continue }
                    for a in o.actions { out[o.requestID, default: [:]][a.index] = (a.type, a.outcome, a.why) }
                }
                offset = end
                if !more || lines.isEmpty { break }
            }
        }
        return out
    }
}

/// The journal line, indented for reading.
enum Pretty {
    static func json(_ value: JSONValue, indent: Int = 0) -> String {
        let pad = String(repeating: "  ", count: indent + 1), end = String(repeating: "  ", count: indent)
        switch value {
        case .object(let o):
            guard !o.members.isEmpty else { return "{}" }
            return "{\n" + o.members.map { m in pad + quoted(m.key) + ": " + json(m.value, indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "}"
        case .array(let a):
            guard !a.isEmpty else { return "[]" }
            return "[\n" + a.map { pad + json($0, indent: indent + 1) }.joined(separator: ",\n") + "\n" + end + "]"
        default:
            return visible(String(decoding: JSONWriter.serialize(value), as: UTF8.self))
        }
    }

    static func quoted(_ s: String) -> String { visible(String(decoding: JSONWriter.serialize(.string(s)), as: UTF8.self)) }

    /// The record as it is, but a direction control written as its JSON
    /// escape (`\u202E`): the same JSON, and nothing in it turns the text around.
    static func visible(_ json: String) -> String {
        guard HTML.hasBidiControl(json) else { return json }
        var out = ""
        for u in json.unicodeScalars {
            if HTML.isBidiControl(u) {
                let hex = String(u.value, radix: 16, uppercase: true)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

/// The two repairs: replay an event's actions, retry the spool.
enum Actions {
    static func replay(_ context: Context) -> Response {
        let form = context.form
        let id = form["id"] ?? ""
        let only = form["only"].flatMap { $0.isEmpty ? nil : $0 }
        guard let found = EventStore(context.config.journal.files).find(id: id, hint: "") else {
            return Console.errorPage(404, "イベントが見つかりません", "このリクエストIDのイベントはジャーナルにありません。/ No event with this request id is in the journal.")
        }
        let message: String
        switch Maintenance.replayOne(found.record, config: context.config, only: only) {
        case .failure(let refusal):
            message = "再実行できませんでした: \(refusal.message)"
        case .success(let r):
            if r.count == 0 {
                message = "実行する処理がありませんでした。"
            } else if r.failures.isEmpty && r.deferred.isEmpty {
                message = "\(r.count) 件の処理を再実行しました: すべて成功"
            } else {
                message = "\(r.count) 件の処理を再実行しました: " + (r.failures.map { "失敗: \($0)" } + r.deferred.map { "保留: \($0)" }).joined(separator: "; ")
            }
        }
        context.sessions.setNotice(token: context.token, context.config.redacting(message))
        return Console.redirect("event" + HTML.query([("id", found.record.requestID), ("at", "\(found.file):\(found.offset)")]))
    }

    static func retry(_ context: Context) -> Response {
        let r = Maintenance.retryAll(config: context.config)
        let message: String
        if r.directories == 0 {
            message = "メールの処理が設定されていないため、再送するものはありません。"
        } else if r.sent == 0 && r.failed == 0 {
            message = "再送待ちのメールはありません。"
        } else {
            message = "\(r.sent) 通を送りました。\(r.failed) 通はまだ送れていません。"
        }
        context.sessions.setNotice(token: context.token, context.config.redacting(message))
        return Console.redirect("problems")
    }
}
