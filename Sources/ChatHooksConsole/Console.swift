import ChatHooksCore
import Glibc

/// The web console under `admin/`: what arrived, what became of it, what was
/// refused, and the two repairs (retry a spooled mail, replay an event's
/// actions). Off (404, as if it did not exist) unless the configuration has
/// `admin: { passwordHash }`. Served by `chathooks` only (`Console.install`).
public enum Console {
    /// Makes `chathooks` serve the console on its routed paths.
    public static func install() {
        Router.console = { request, body, config in Console.respond(request, body, config) }
    }

    static let cookieName = "chathooks_session"

    static func respond(_ request: Request, _ body: [UInt8]?, _ outcome: ConfigOutcome) -> Response {
        guard let (_, page) = Router.consolePath(request) else { return notFound(request, nil) }
        let config: Config
        switch outcome {
        case .loaded(let c): config = c
        case .failed(let error):
            if error.kind == .missing { return notFound(request, nil) }
            logError("admin: \(error.logLine)")
            return errorPage(503, "設定ファイルを読めません", "設定ファイル (chathooks.json5) に問題があるため、管理画面を開けません。`chathooks check` で内容を確かめてください。/ The configuration file cannot be used: run chathooks check.")
        }
        let admin: AdminSettings
        do throws(ConfigError) {
            guard let a = try AdminConfigDecoder.admin(configPath: config.path, environment: { request.variables[$0] }) else {
                return notFound(request, config)
            }
            admin = a
        } catch {
            for p in error.problems { logError("admin: \(config.path): \(p)") }
            return errorPage(503, "管理画面の設定に問題があります", "設定ファイルの admin の項目に問題があります。`chathooks check` で内容を確かめてください。/ The admin block of the configuration has a problem: run chathooks check.")
        }
        // `admin` without its slash: the pages' relative links need it.
        let name = String(page.dropFirst())
        var context = Context(request: request, config: config, admin: admin, body: body ?? [], page: name)
        if let refusal = context.refuseHost() { return refusal }
        if page.isEmpty { return redirect("admin/") }
        let method = request.method
        switch (name, method) {
        case ("style.css", "GET"), ("style.css", "HEAD"):
            return Response(status: 200, contentType: "text/css; charset=utf-8",
                            headers: securityHeaders, body: Array(Style.css.utf8))
        case ("login", "GET"), ("login", "HEAD"):
            if context.session() != nil { return redirect("./") }
            return Pages.login(context, status: 200, message: nil)
        case ("login", "POST"):
            return Login.post(&context, bodyTooLong: body == nil)
        default:
            break
        }
        guard ["", "events", "event", "problems", "rejections", "export.csv", "logout", "replay", "retry"].contains(name) else {
            return errorPage(404, "ページがありません", "このページはありません。/ No such page.")
        }
        guard let session = context.session() else {
            if method == "GET" || method == "HEAD" { return redirect("login") }
            return refuse(context, 403, "session", "ログインしていないか、セッションの期限が切れました。もう一度ログインしてください。/ Not logged in, or the session has expired.")
        }
        context.csrf = session.csrf
        context.token = session.token
        if method == "GET" && (name == "event" || name == "problems") { context.notice = context.sessions.takeNotice(token: session.token) }
        switch method {
        case "GET", "HEAD":
            switch name {
            case "": return Pages.overview(context)
            case "events": return Pages.events(context)
            case "event": return Pages.event(context)
            case "problems": return Pages.problems(context)
            case "rejections": return Pages.rejections(context)
            case "export.csv": return Pages.export(context)
            default: return errorPage(405, "POST のみ", "この操作はボタンからのみ行えます。/ This action takes a POST.", headers: [("Allow", "POST")])
            }
        case "POST":
            guard body != nil else { return refuse(context, 413, "too_large", "送信された内容が大きすぎます。/ The form is too large.") }
            if let refusal = context.refusePost(session: session) { return refusal }
            switch name {
            case "logout":
                context.sessions.remove(token: session.token)
                return redirect("login", headers: [("Set-Cookie", context.cookie(value: "", maxAge: 0))])
            case "replay": return Actions.replay(context)
            case "retry": return Actions.retry(context)
            default: return errorPage(405, "GET のみ", "このページは表示のみです。/ This page takes a GET.", headers: [("Allow", "GET")])
            }
        default:
            return errorPage(405, "この方法は使えません", "GET か POST でアクセスしてください。/ Use GET or POST.", headers: [("Allow", "GET, POST")])
        }
    }

    /// What an unknown path answers: the console does not exist unless configured.
    static func notFound(_ request: Request, _ config: Config?) -> Response {
        let error = Router.notFound
        if let config { Pipeline.recordRejection(route: "admin", error, request, .loaded(config)) }
        return OwnErrorForm.response(error)
    }

    /// Every console response's headers: no script at all, no framing, no
    /// sniffing, no referrer, no caching.
    static let securityHeaders: [(name: String, value: String)] = [
        ("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-store"),
    ]

    static func html(_ status: Int, _ page: HTML, headers: [(name: String, value: String)] = []) -> Response {
        Response(status: status, contentType: "text/html; charset=utf-8", headers: securityHeaders + headers, body: page.bytes)
    }

    /// 303 to one of the console's own pages, given relative (a literal of ours and our own query).
    static func redirect(_ location: String, headers: [(name: String, value: String)] = []) -> Response {
        Response(status: 303, contentType: "text/plain; charset=utf-8", headers: securityHeaders + [("Location", location)] + headers,
                 body: Array("See \(location)\n".utf8))
    }

    static func errorPage(_ status: Int, _ title: String, _ message: String, headers: [(name: String, value: String)] = []) -> Response {
        var h = HTML()
        Layout.head(&h, title: title)
        h.raw("<main><h1>")
        h.text(title)
        h.raw("</h1><p id=\"error\" class=\"error\">")
        h.text(message)
        h.raw("</p><p><a href=\"./\">管理画面のトップへ</a></p></main>")
        Layout.foot(&h)
        return html(status, h, headers: headers)
    }

    /// A refused console request: its page, and a line in the rejections file.
    static func refuse(_ context: Context, _ status: Int, _ code: String, _ message: String,
                       headers: [(name: String, value: String)] = []) -> Response {
        Pipeline.recordRejection(route: "admin/" + context.pageName, HTTPError(status, code, message), context.request, .loaded(context.config))
        return errorPage(status, status == 429 ? "しばらく待ってください" : "受け付けられません", message, headers: headers)
    }
}

/// One console request: its variables, its form, its session.
struct Context {
    let request: Request
    let config: Config
    let admin: AdminSettings
    var csrf = ""
    var token = ""
    var notice: String?
    let folder: String
    let sessions: SessionStore

    init(request: Request, config: Config, admin: AdminSettings, body: [UInt8], page: String) {
        self.request = request
        self.config = config
        self.admin = admin
        self.pageName = String(page.prefix(40))
        self.query = Context.pairs(Array((request.variables["QUERY_STRING"] ?? "").utf8))
        self.form = Context.pairs(body)
        self.folder = config.journal.files.folder + "/console"
        self.sessions = SessionStore(folder: folder, idleSeconds: admin.idleSeconds, passwordHash: admin.passwordHash)
    }

    /// The page asked for (`events`), for the rejections file.
    let pageName: String

    /// The query string's values (the last of a repeated name).
    let query: [String: String]

    /// The form's values (application/x-www-form-urlencoded).
    let form: [String: String]

    static func pairs(_ bytes: [UInt8]) -> [String: String] {
        var out: [String: String] = [:]
        guard let object = try? FormURLDecoder.decode(bytes) else { return out }
        for m in object.members { if let s = m.value.stringValue { out[m.key] = s } }
        return out
    }

    var isHTTPS: Bool {
        let on = (request.variables["HTTPS"] ?? "").lowercased()
        return on == "on" || on == "1" || (request.variables["REQUEST_SCHEME"] ?? "").lowercased() == "https"
    }

    var isLoopback: Bool {
        let a = request.remoteAddress
        return a.hasPrefix("127.") || a == "::1" || a.hasPrefix("::ffff:127.")
    }

    /// The session the cookie names.
    func session() -> SessionStore.Session? {
        guard let token = cookie(Console.cookieName) else { return nil }
        return sessions.find(token: token)
    }

    func cookie(_ name: String) -> String? {
        guard let header = request.variables["HTTP_COOKIE"] else { return nil }
        for part in header.split(separator: ";") {
            let kv = String(part).trimmingASCIISpaces
            guard let eq = kv.firstIndex(of: "=") else { continue }
            if kv[..<eq] == name { return String(kv[kv.index(after: eq)...]) }
        }
        return nil
    }

    /// `Set-Cookie` for the session: HttpOnly, SameSite=Strict, Secure under
    /// HTTPS, limited to the console's folder.
    func cookie(value: String, maxAge: Int?) -> String {
        var c = "\(Console.cookieName)=\(value); HttpOnly; SameSite=Strict"
        if let path = cookiePath { c += "; Path=\(path)" }
        // Under HTTPS; behind a TLS proxy (allowPlainHTTP), when the browser's page was https.
        if isHTTPS || (admin.allowPlainHTTP && (request.variables["HTTP_ORIGIN"] ?? "").lowercased().hasPrefix("https://")) { c += "; Secure" }
        if let maxAge { c += "; Max-Age=\(maxAge)" }
        return c
    }

    /// The folder of the page requested (`/hooks/admin/`): the console's, since
    /// all its pages are in one; nil when it holds a character a cookie's
    /// path cannot (the browser then takes the same folder by itself).
    var cookiePath: String? {
        let uri = request.variables["REQUEST_URI"] ?? ""
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard let slash = path.lastIndex(of: "/") else { return nil }
        let folder = String(path[...slash])
        let ok = folder.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || "-._~/%".utf8.contains(c)
        }
        return ok && folder.hasSuffix("/admin/") ? folder : nil
    }

    /// The `Host` this request names, lower case, without its port.
    var hostName: String? {
        guard let host = request.variables["HTTP_HOST"], let o = Origin(scheme: "http", authority: host) else { return nil }
        return o.host
    }

    static let loopbackNames: Set<String> = ["127.0.0.1", "localhost", "[::1]"]

    /// The refusal for a request to a host name that is not the console's:
    /// not in `admin.hosts`, or (with none listed) not a loopback name when
    /// the client is on this machine — a foreign page whose name was
    /// rebound to 127.0.0.1 would otherwise be the console's own origin.
    func refuseHost() -> Response? {
        let host = hostName ?? ""
        let allowed = admin.hosts.isEmpty ? (!isLoopback || Context.loopbackNames.contains(host)) : admin.hosts.contains(host)
        guard allowed else {
            logError("admin: a request for host \(Context.printable(host)) refused (\(admin.hosts.isEmpty ? "a client on this machine must name it 127.0.0.1, localhost or [::1]" : "not in admin.hosts"))")
            return Console.refuse(self, 403, "host", "この名前 (Host) では管理画面を開けません。設定の admin.hosts を確かめてください。/ Refused: this Host is not the console's (admin.hosts).")
        }
        return nil
    }

    /// This request's own origin (scheme, host, port): what `Origin` must
    /// be. The host from `Host`; its port from `Host`, else `SERVER_PORT`
    /// (Debian's nginx passes `Host` without its port), else the scheme's.
    var ownOrigin: Origin? {
        guard let host = request.variables["HTTP_HOST"], !host.isEmpty else { return nil }
        let scheme = isHTTPS ? "https" : "http"
        guard var own = Origin(scheme: scheme, authority: host) else { return nil }
        if !own.portGiven, let p = request.variables["SERVER_PORT"].flatMap({ Int($0) }) { own.port = p }
        return own
    }

    /// True when the request's `Origin` is this site. Behind a proxy that ends
    /// TLS (`allowPlainHTTP`), the scheme and port we see are the proxy's
    /// inside ones: the host must match then, and is what a foreign site cannot forge.
    func sameOrigin(_ header: String) -> Bool {
        guard let own = ownOrigin, let b = header.utf8.firstIndex(of: UInt8(ascii: ":")),
              let theirs = Origin(scheme: String(header[..<b]).lowercased(),
                                  authority: String(header[header.utf8.index(b, offsetBy: 1)...].drop { $0 == "/" }))
        else { return false }
        guard theirs.host == own.host else { return false }
        if admin.allowPlainHTTP { return true }
        return theirs.scheme == own.scheme && theirs.port == own.port
    }

    /// A request's value for a log line: printable ASCII, at most 100 characters.
    static func printable(_ s: String) -> String {
        String(decoding: s.utf8.prefix(100).map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    /// The refusal for a POST that is not from our own page: another origin, or no CSRF token of this session.
    func refusePost(session: SessionStore.Session?) -> Response? {
        // Under `Referrer-Policy: no-referrer` (ours) a browser sends
        // `Origin: null` for a form of our own page (the Fetch standard): it
        // is ours when the browser also says `Sec-Fetch-Site: same-origin`, a
        // header no page can set.
        let ownPage = request.variables["HTTP_ORIGIN"] == "null" && request.variables["HTTP_SEC_FETCH_SITE"] == "same-origin"
        guard ownPage || request.variables["HTTP_ORIGIN"].map(sameOrigin) == true else {
            logError("admin: a POST refused: its Origin (\(Context.printable(request.variables["HTTP_ORIGIN"] ?? "none"))) is not this site's (\(Context.printable(ownOrigin.map { "\($0.scheme)://\($0.host):\($0.port)" } ?? "no Host header")))")
            return Console.refuse(self, 403, "origin", "別のサイトから送られた操作は受け付けません (Origin が一致しません)。/ Refused: the request's Origin is not this site.")
        }
        if let session {
            guard let token = form["csrf"], Secure.equal(token, session.csrf) else {
                return Console.refuse(self, 403, "csrf", "フォームの確認用トークンがないか、一致しません。ページを開き直してから操作してください。/ Refused: the form's CSRF token is missing or wrong.")
            }
        }
        return nil
    }
}

/// Logging in: bcrypt, the throttle, a new session.
enum Login {
    static func post(_ context: inout Context, bodyTooLong: Bool) -> Response {
        if let refusal = context.refusePost(session: nil) { return refusal }
        guard context.isHTTPS || context.isLoopback || context.admin.allowPlainHTTP else {
            return Console.refuse(context, 403, "https_required", "パスワードを暗号化せずに送ることになるため、HTTPS でアクセスしてください (TLS を終端するプロキシの後ろなら admin.allowPlainHTTP: true)。/ Log in over HTTPS.")
        }
        let throttle = LoginThrottle(folder: context.folder)
        try? Files.makeDirectories(context.folder, mode: 0o700)
        let address = context.request.remoteAddress
        let now = Timestamp.now().seconds
        let wait = throttle.begin(address, now: now)
        if wait > 0 {
            return Console.refuse(context, 429, "locked", "ログインの失敗が続いたため、しばらくログインできません。\((wait + 59) / 60) 分後にもう一度お試しください。/ Too many failed logins: try again later.",
                                  headers: [("Retry-After", String(wait))])
        }
        let password = bodyTooLong ? "" : (context.form["password"] ?? "")
        do throws(Bcrypt.Failure) {
            try Bcrypt.verify(secret: password, hash: context.admin.passwordHash)
        } catch {
            Pipeline.recordRejection(route: "admin/login", HTTPError(401, "login_failed", "wrong password"), context.request, .loaded(context.config))
            return Pages.login(context, status: 401, message: "パスワードが違います。/ Wrong password.")
        }
        throttle.succeeded(address, now: now)
        guard let session = context.sessions.create() else {
            return Console.errorPage(500, "ログインできません", "セッションを保存できませんでした (journal のフォルダーに書き込めますか?)。/ The session could not be stored: can the journal's folder be written?")
        }
        return Console.redirect("./", headers: [("Set-Cookie", context.cookie(value: session.token, maxAge: nil))])
    }
}

/// An origin: scheme, host (lower case) and port.
struct Origin: Equatable {
    var scheme: String
    var host: String
    var port: Int
    var portGiven: Bool

    /// From `host[:port]` (`[v6]:port` too); anything else (a path, user
    /// information, a second port) is no origin.
    init?(scheme: String, authority: String) {
        guard scheme == "http" || scheme == "https" else { return nil }
        self.scheme = scheme
        let a = authority.lowercased()
        var host = a
        var portText: Substring?
        if a.hasPrefix("[") {
            guard let close = a.firstIndex(of: "]") else { return nil }
            host = String(a[...close])
            let rest = a[a.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty { return nil }
        } else if let colon = a.lastIndex(of: ":") {
            host = String(a[..<colon])
            portText = a[a.index(after: colon)...]
        }
        guard !host.isEmpty, host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != 0x2F && $0 != 0x40 && $0 != 0x3F && $0 != 0x23 }) else { return nil }
        self.host = host
        if let portText {
            guard let p = Int(portText), p > 0, p < 65536 else { return nil }
            self.port = p
            self.portGiven = true
        } else {
            self.port = scheme == "https" ? 443 : 80
            self.portGiven = false
        }
    }
}
