import Glibc

/// `chathooks passwd`: the console's password hash. The password is read
/// without echo on a terminal (twice), or as one line of standard input, and
/// never taken from the command line (where `ps` and the shell's history
/// would keep it).
enum Passwd {
    static let minimumLength = 10

    static func run(cost: Int) -> Int32 {
        let password: String
        if isatty(0) == 1 {
            guard let first = prompt("Password (パスワード): "), let second = prompt("Again (もう一度): ") else { return 1 }
            guard first == second else {
                writeAll(2, Array("chathooks passwd: the two passwords differ; nothing was made\n".utf8))
                return 1
            }
            password = first
        } else {
            guard let line = readLine(strippingNewline: true) else {
                writeAll(2, Array("chathooks passwd: no password on standard input\n".utf8))
                return 1
            }
            password = line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        guard password.count >= minimumLength else {
            writeAll(2, Array("chathooks passwd: the password must be at least \(minimumLength) characters (パスワードは \(minimumLength) 文字以上にしてください)\n".utf8))
            return 1
        }
        guard password.utf8.count <= 72 else {
            writeAll(2, Array("chathooks passwd: bcrypt reads only the first 72 bytes of a password: use a shorter one (72 バイト以内)\n".utf8))
            return 1
        }
        guard let hash = Bcrypt.hash(secret: password, cost: cost) else {
            writeAll(2, Array("chathooks passwd: libxcrypt could not make a bcrypt hash\n".utf8))
            return 1
        }
        print(hash)
        if isatty(1) == 1 {
            writeAll(2, Array("Put it in chathooks.json5 (設定ファイルに書いてください):\n  admin: { passwordHash: \"\(hash)\" }\n".utf8))
        }
        return 0
    }

    /// One line typed without echo.
    static func prompt(_ text: String) -> String? {
        writeAll(2, Array(text.utf8))
        var old = termios()
        tcgetattr(0, &old)
        var quiet = old
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(0, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(0, TCSAFLUSH, &old)
            writeAll(2, [0x0A])
        }
        return readLine(strippingNewline: true)
    }
}
