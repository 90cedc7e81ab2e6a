import ChatHooksCore

/// The frame of every page: head, navigation, the logout button.
enum Layout {
    static func head(_ h: inout HTML, title: String) {
        h.raw("<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>")
        h.text(title)
        h.raw(" — chathooks</title><link rel=\"stylesheet\" href=\"style.css\"></head><body>")
    }

    static func nav(_ h: inout HTML, _ context: Context, current: String) {
        h.raw("<header><nav id=\"nav\"><span class=\"brand\">chathooks 管理画面</span>")
        let pages: [(StaticString, String, StaticString)] = [
            ("./", "overview", "概要"), ("events", "events", "イベント"), ("problems", "problems", "問題"),
            ("rejections", "rejections", "拒否した呼び出し"),
        ]
        for (href, key, label) in pages {
            h.raw("<a")
            h.link(href)
            if key == current { h.raw(" class=\"current\" aria-current=\"page\"") }
            h.raw(">")
            h.raw(label)
            h.raw("</a>")
        }
        h.raw("<form method=\"post\" action=\"logout\" class=\"logout\">")
        csrf(&h, context)
        h.raw("<button type=\"submit\" id=\"logout-button\">ログアウト</button></form></nav></header>")
    }

    static func csrf(_ h: inout HTML, _ context: Context) {
        h.raw("<input type=\"hidden\" name=\"csrf\"")
        h.attribute("value", context.csrf)
        h.raw(">")
    }

    static func foot(_ h: inout HTML) {
        h.raw("</body></html>\n")
    }

    /// `2026-12-01 09:00:00` of `2026-12-01T09:00:00.123+09:00`, as the CSV writes it.
    static func time(_ rfc3339: String) -> String { Export.localTime(rfc3339) }

    /// The Japanese name of a route.
    static func routeName(_ source: String, _ event: String) -> String {
        switch (source, event) {
        case ("chatdealer", "chat_start"), ("chatdealer", "chat-start"): return "チャット開始"
        case ("chatdealer", "chat_message"), ("chatdealer", "chat-message"): return "メッセージ"
        case ("chatdealer", "chat_end"), ("chatdealer", "chat-end"): return "チャット終了"
        case ("chatdealer", "scenario"): return "シナリオ"
        case ("chatdealer", "form"): return "フォーム"
        case ("spalo", "dataset"): return "SPALO 外部データ設定"
        case ("spalo", "search"): return "SPALO データ参照"
        case ("spalo", "send"): return "SPALO データ送信"
        default: return source + "/" + event
        }
    }

    static func outcomeName(_ outcome: String) -> String {
        switch outcome {
        case "done": "成功"
        case "failed": "失敗"
        case "deferred": "保留 (再送待ち)"
        default: outcome
        }
    }

    static func runName(_ run: String) -> String {
        switch run {
        case "request": "受信時"
        case "retry": "再送"
        case "replay": "再実行"
        default: run
        }
    }
}

enum Style {
    static let css = """
    :root { --fg: #1d2330; --muted: #5b6474; --line: #d7dbe3; --bg: #f6f7f9; --ok: #1f7a3d; --bad: #b3261e; --wait: #8a5a00; --accent: #2457c5; }
    * { box-sizing: border-box; }
    body { margin: 0; font-family: system-ui, "Hiragino Sans", "Noto Sans JP", "Yu Gothic", Meiryo, sans-serif; color: var(--fg); background: var(--bg); line-height: 1.5; }
    header { background: #1d2330; }
    nav { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1rem; padding: .5rem 1rem; }
    nav a { color: #dfe6f5; text-decoration: none; padding: .25rem .5rem; border-radius: 4px; }
    nav a.current, nav a:hover { background: #34405a; color: #fff; }
    nav .brand { color: #fff; font-weight: bold; margin-right: 1rem; }
    nav .logout { margin-left: auto; }
    main { padding: 1rem; max-width: 80rem; margin: 0 auto; }
    h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
    h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
    table { border-collapse: collapse; width: 100%; background: #fff; margin-bottom: 1rem; table-layout: auto; }
    th, td { border: 1px solid var(--line); padding: .35rem .5rem; text-align: left; vertical-align: top; }
    th { background: #eef1f6; font-weight: 600; white-space: nowrap; }
    td { overflow-wrap: anywhere; word-break: break-word; }
    .v { unicode-bidi: isolate; white-space: pre-wrap; overflow-wrap: anywhere; }
    .cut { color: var(--muted); }
    .warn { color: var(--wait); font-size: .8rem; margin-left: .3rem; }
    .ok { color: var(--ok); } .bad { color: var(--bad); font-weight: 600; } .wait { color: var(--wait); font-weight: 600; }
    .muted, .empty { color: var(--muted); }
    .error { color: var(--bad); background: #fdecea; border: 1px solid #f5c2bd; padding: .5rem .75rem; border-radius: 4px; }
    .notice { background: #e8f3ec; border: 1px solid #b7dcc3; padding: .5rem .75rem; border-radius: 4px; }
    .cards { display: flex; flex-wrap: wrap; gap: 1rem; margin-bottom: 1rem; }
    .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; min-width: 12rem; }
    .card .n { font-size: 1.6rem; font-weight: bold; display: block; }
    form.filter { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; background: #fff; border: 1px solid var(--line); padding: .75rem; margin-bottom: 1rem; }
    form.filter label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
    input, select, button { font: inherit; padding: .3rem .5rem; }
    button { cursor: pointer; background: var(--accent); color: #fff; border: 0; border-radius: 4px; }
    nav button { background: #34405a; }
    pre { background: #fff; border: 1px solid var(--line); padding: .75rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 40rem; }
    ol.transcript { list-style: none; padding: 0; }
    ol.transcript li { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .5rem .75rem; margin: .5rem 0; max-width: 48rem; }
    ol.transcript li.visitor { margin-left: 0; border-color: #b9c8ea; }
    ol.transcript li.staff { margin-left: auto; background: #f0f6ee; }
    ol.transcript .time { color: var(--muted); font-size: .8rem; margin-right: .5rem; }
    ol.transcript .who { font-weight: 600; margin-right: .5rem; }
    ol.transcript .role { font-weight: normal; font-size: .75rem; color: #fff; background: var(--muted); border-radius: 3px; padding: 0 .35rem; }
    ol.transcript li.staff .role { background: var(--ok); }
    ol.transcript .text { display: block; white-space: pre-wrap; overflow-wrap: anywhere; unicode-bidi: isolate; }
    svg.chart { background: #fff; border: 1px solid var(--line); max-width: 100%; height: auto; }
    svg.chart .bar { fill: var(--accent); }
    svg.chart text { font-size: 11px; fill: var(--muted); }
    svg.chart .label { fill: var(--fg); font-size: 12px; }
    .replays form { display: inline-block; margin-right: .5rem; }
    .login { max-width: 24rem; margin: 4rem auto; background: #fff; border: 1px solid var(--line); padding: 1.5rem; border-radius: 6px; }
    .login label { display: block; margin-bottom: 1rem; }
    .login input { width: 100%; }
    .pager { margin: 1rem 0; }
    """
}
