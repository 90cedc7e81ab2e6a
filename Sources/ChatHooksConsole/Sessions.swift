import CSodium
import ChatHooksCore
import Glibc

/// Server-side sessions: one file each in `<journal folder>/console/sessions/`,
/// named by a BLAKE2b hash of the cookie's token (a copy of the folder gives
/// no usable cookie), holding the session's CSRF token. The file's mtime is
/// when the session was last used: a session idle longer than the configured
/// time is gone. Logging out removes the file.
struct SessionStore {
    let directory: String
    let idleSeconds: Int

    init(folder: String, idleSeconds: Int) {
        self.directory = folder + "/sessions"
        self.idleSeconds = idleSeconds
    }

    struct Session {
        var token: String
        var csrf: String
    }

    /// A new session; nil when its file cannot be written (the reason logged).
    func create() -> Session? {
        sweep()
        let session = Session(token: Secure.randomHex(32), csrf: Secure.randomHex(32))
        do {
            try Files.makeDirectories(directory, mode: 0o700)
            try Files.replace(path(session.token), with: Array((session.csrf + "\n").utf8), mode: 0o600, durable: false)
        } catch {
            logError("console: \(error); no session could be started")
            return nil
        }
        return session
    }

    /// The session the cookie names, if it exists and has not been idle too
    /// long; its last use becomes now.
    func find(token: String) -> Session? {
        guard Secure.isToken(token) else { return nil }
        let file = path(token)
        var st = stat()
        guard stat(file, &st) == 0 else { return nil }
        let now = Timestamp.now().seconds
        guard now - Int(st.st_mtim.tv_sec) <= idleSeconds else {
            unlink(file)
            return nil
        }
        guard let bytes = try? Files.read(file, limit: 256) else { return nil }
        let csrf = String(decoding: bytes.prefix { $0 != 0x0A }, as: UTF8.self)
        guard Secure.isToken(csrf) else { return nil }
        utimensat(AT_FDCWD, file, nil, 0)
        return Session(token: token, csrf: csrf)
    }

    func remove(token: String) {
        guard Secure.isToken(token) else { return }
        unlink(path(token))
        unlink(path(token) + ".notice")
    }

    /// What the next page shows once (the result of a button): kept beside
    /// the session, never put in a URL (where anyone could write one).
    func setNotice(token: String, _ text: String) {
        guard Secure.isToken(token) else { return }
        try? Files.replace(path(token) + ".notice", with: Array(text.utf8.prefix(2000)), mode: 0o600)
    }

    func takeNotice(token: String) -> String? {
        guard Secure.isToken(token), let bytes = try? Files.read(path(token) + ".notice", limit: 4096) else { return nil }
        unlink(path(token) + ".notice")
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Removes the sessions idle too long (at each login: the folder stays small).
    func sweep() {
        let now = Timestamp.now().seconds
        for name in Files.names(in: directory) where !name.hasPrefix(".") {
            var st = stat()
            let file = directory + "/" + name
            if stat(file, &st) == 0, now - Int(st.st_mtim.tv_sec) > idleSeconds { unlink(file) }
        }
    }

    func path(_ token: String) -> String { directory + "/" + Secure.hashHex(token) }
}

/// libsodium's random bytes, hash and comparison.
enum Secure {
    static let ready: Bool = sodium_init() >= 0

    /// `count` random bytes as lowercase hex.
    static func randomHex(_ count: Int) -> String {
        precondition(ready, "libsodium could not start")
        var bytes = [UInt8](repeating: 0, count: count)
        randombytes_buf(&bytes, count)
        return hex(bytes)
    }

    /// BLAKE2b-128 of the text, as hex.
    static func hashHex(_ text: String) -> String {
        precondition(ready, "libsodium could not start")
        var out = [UInt8](repeating: 0, count: 16)
        let input = Array(text.utf8)
        crypto_generichash(&out, 16, input, UInt64(input.count), nil, 0)
        return hex(out)
    }

    /// Equal, in time that does not depend on where they differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        return sodium_memcmp(x, y, x.count) == 0
    }

    /// 64 lowercase hex digits: the shape of our tokens, checked before a
    /// token names a file.
    static func isToken(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 15)]] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Failed logins, counted per address and in all, in
/// `<journal folder>/console/logins` (read and rewritten under a lock): five
/// failures from one address, or twenty from all, within 15 minutes of each
/// other lock the login for 15 minutes after the last one — the right
/// password included, so that guessing gains nothing.
struct LoginThrottle {
    let path: String
    static let perAddress = 5
    static let overall = 20
    static let window = 15 * 60
    static let everyone = "*"

    init(folder: String) { self.path = folder + "/logins" }

    struct Entry { var count: Int; var last: Int }

    /// Seconds until the address may try again; 0 when it may now.
    func lockedFor(_ address: String, now: Int) -> Int {
        withTable(write: false) { table in LoginThrottle.wait(table, address, now) }
    }

    static func wait(_ table: [String: Entry], _ address: String, _ now: Int) -> Int {
        var wait = 0
        for (key, limit) in [(LoginThrottle.key(address), LoginThrottle.perAddress), (LoginThrottle.everyone, LoginThrottle.overall)] {
            if let e = table[key], e.count >= limit, now - e.last < LoginThrottle.window {
                wait = max(wait, LoginThrottle.window - (now - e.last))
            }
        }
        return wait
    }

    /// One try begins: refused (the seconds to wait) while locked, else
    /// counted as a failure at once, under the lock, before the password is
    /// checked, so that tries sent side by side are counted too (at most
    /// five get past). `succeeded` takes it back.
    func begin(_ address: String, now: Int) -> Int {
        withTable(write: true) { table in
            let wait = LoginThrottle.wait(table, address, now)
            guard wait == 0 else { return wait }
            for key in [LoginThrottle.key(address), LoginThrottle.everyone] {
                var e = table[key] ?? Entry(count: 0, last: now)
                if now - e.last >= LoginThrottle.window { e.count = 0 }
                e.count += 1
                e.last = now
                table[key] = e
            }
            return 0
        }
    }

    /// The right password: the address starts again, and its try is not one of all's failures.
    func succeeded(_ address: String) {
        withTable(write: true) { table in
            table[LoginThrottle.key(address)] = nil
            if var e = table[LoginThrottle.everyone] {
                e.count -= 1
                table[LoginThrottle.everyone] = e.count > 0 ? e : nil
            }
        }
    }

    /// The address as a key of the table: one word, never `*`.
    static func key(_ address: String) -> String {
        let kept = address.utf8.prefix(64).filter { $0 > 0x20 && $0 < 0x7F && $0 != 0x2A }
        return kept.isEmpty ? "-" : String(decoding: kept, as: UTF8.self)
    }

    /// The table, under an exclusive lock, written back when `write`.
    private func withTable<T>(write: Bool, _ body: (inout [String: Entry]) -> T) -> T {
        var table: [String: Entry] = [:]
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            logError("console: \(SystemError("open", path: path)); failed logins are not counted")
            return body(&table)
        }
        defer { close(fd) }
        flock(fd, LOCK_EX)
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 || bytes.count > (1 << 20) { break }
            bytes += chunk[0..<n]
        }
        let now = Timestamp.now().seconds
        for line in bytes.split(separator: 0x0A) {
            let parts = line.split(separator: 0x20)
            guard parts.count == 3, let count = Int(String(decoding: parts[1], as: UTF8.self)),
                  let last = Int(String(decoding: parts[2], as: UTF8.self)) else { continue }
            // Entries older than the window are forgotten.
            if now - last < LoginThrottle.window { table[String(decoding: parts[0], as: UTF8.self)] = Entry(count: count, last: last) }
        }
        let result = body(&table)
        if write {
            var out = ""
            for (key, e) in table { out += "\(key) \(e.count) \(e.last)\n" }
            ftruncate(fd, 0)
            lseek(fd, 0, SEEK_SET)
            _ = writeAll(fd, Array(out.utf8))
        }
        return result
    }
}
