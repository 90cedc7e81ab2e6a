import Testing
@testable import ChatHooksCore

@Suite struct AuthTests {
    // Made with Python's bcrypt (cost 4) from "change-me-too"; the $2y$ one is the
    // $2b$ hash with PHP's prefix, which is the same algorithm.
    static let hash2a = "$2a$04$9pDvTNEnb87bKH5u3OiU0uhu6hvgGaJzLh7RlW.2k5rVbTLNPv5jO"
    static let hash2b = "$2b$04$19M4X9F0Txy1FyiyYvOjsee6xDTqYMbIaarYDHZPYbgjrV1rxhfle"
    static let hash2y = "$2y$04$19M4X9F0Txy1FyiyYvOjsee6xDTqYMbIaarYDHZPYbgjrV1rxhfle"

    @Test(arguments: [hash2a, hash2b, hash2y])
    func bcryptAcceptsEveryVariant(hash: String) throws {
        try Bcrypt.verify(secret: "change-me-too", hash: hash)
        #expect(throws: Bcrypt.Failure.mismatch) { try Bcrypt.verify(secret: "change-me-too!", hash: hash) }
    }

    @Test func bcryptKnownVector() throws {
        // OpenBSD's test vector for "U*U".
        try Bcrypt.verify(secret: "U*U", hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
    }

    @Test func bcryptRefusesWithoutHashing() {
        // Cost 31 would take hours: refused by its shape alone.
        let cost31 = "$2b$31$" + Self.hash2b.dropFirst(7)
        #expect(throws: Bcrypt.Failure.costOutOfRange(31)) { try Bcrypt.verify(secret: "x", hash: cost31) }
        #expect(throws: Bcrypt.Failure.costOutOfRange(13)) { try Bcrypt.parse("$2b$13$" + Self.hash2b.dropFirst(7)) }
        #expect(throws: Bcrypt.Failure.costOutOfRange(3)) { try Bcrypt.parse("$2b$03$" + Self.hash2b.dropFirst(7)) }
        #expect(throws: Bcrypt.Failure.unsupportedVariant) { try Bcrypt.parse("$2x$04$" + Self.hash2b.dropFirst(7)) }
        for garbage in ["", "hash", "$1$abc$def", String(Self.hash2b.dropLast()), Self.hash2b + "x",
                        "$2b$04$" + String(repeating: "!", count: 53), "$2b$4a$" + Self.hash2b.dropFirst(7)] {
            #expect(throws: Bcrypt.Failure.malformed, "\(garbage)") { try Bcrypt.parse(garbage) }
        }
    }

    @Test func constantTimeEqualsOverEveryKindOfCollection() {
        // Contiguous (a String's UTF-8, an array) and not (a lazy map): the same answers.
        let words = ["", "a", "abc", "abd", "abcd", "日本語トークン", String(repeating: "x", count: 40)]
        for x in words {
            for y in words {
                #expect(constantTimeEquals(x.utf8, y.utf8) == (x == y))
                #expect(constantTimeEquals(Array(x.utf8), y.utf8.lazy.map { $0 }) == (x == y))
            }
        }
    }

    @Test func constantTimeEqualsIsEquality() {
        #expect(constantTimeEquals("abc".utf8, "abc".utf8))
        #expect(!constantTimeEquals("abc".utf8, "abd".utf8))
        #expect(!constantTimeEquals("abc".utf8, "abcd".utf8))
        #expect(!constantTimeEquals("".utf8, "a".utf8))
        #expect(constantTimeEquals("".utf8, "".utf8))
        // Trailing NUL bytes differ only in length: the length must count too.
        #expect(!constantTimeEquals("abc".utf8, "abc\0".utf8))
        #expect(!constantTimeEquals("".utf8, "\0".utf8))
    }

    func request(_ headers: [String: String]) -> Request {
        var v = ["REQUEST_METHOD": "POST"]
        for (k, value) in headers { v[Request.metaVariableName(forHeader: k)] = value }
        return Request(variables: v)
    }

    @Test func tokensAreCheckedAgainstEveryConfiguredOne() throws {
        let auth = TokenAuthenticator(header: "X-Chathooks-Token", tokens: ["first-token-aaaa", "second-token-bbb"])
        try auth.authenticate(request(["X-Chathooks-Token": "first-token-aaaa"]))
        try auth.authenticate(request(["x-chathooks-token": "second-token-bbb"]))
        for (headers, message) in [
            ([:], "the X-Chathooks-Token header is missing"),
            (["X-Chathooks-Token": "first-token-aaa"], "does not hold an accepted token"),
            (["X-Other": "first-token-aaaa"], "is missing"),
        ] as [([String: String], String)] {
            do {
                try auth.authenticate(request(headers))
                Issue.record("accepted \(headers)")
            } catch {
                #expect(error.status == 401)
                #expect(error.message.contains(message))
                #expect(!error.message.contains("first-token") && !error.message.contains("second-token"))
            }
        }
        // No tokens at all: closed, never open.
        #expect(throws: HTTPError.self) { try TokenAuthenticator(header: "X", tokens: []).authenticate(request(["X": ""])) }
    }

    @Test func spaloAuthentication() throws {
        let auth = SpaloAuthenticator(webhookKey: "KEY-1234", clientSecret: "change-me-too")
        func payload(_ members: [String: JSONValue]) -> JSONObject {
            JSONObject(members.sorted { $0.key < $1.key }.map { .init(key: $0.key, value: $0.value) })
        }
        #expect(try auth.authenticate(payload([:])) == .urlCheck)
        #expect(try auth.authenticate(payload(["webhookKey": .string("KEY-1234"), "secretHash": .string(Self.hash2y)])) == .authenticated)
        for (p, message) in [
            (["webhookKey": .string("KEY-1235"), "secretHash": .string(Self.hash2a)], "webhookKey does not match"),
            (["webhookKey": .number("1")], "webhookKey must be a string"),
            (["webhookKey": .string("KEY-1234")], "secretHash is missing"),
            (["webhookKey": .string("KEY-1234"), "secretHash": .string("nope")], "secretHash is not a bcrypt hash"),
            (["webhookKey": .string("KEY-1234"), "secretHash": .string("$2b$31$" + Self.hash2b.dropFirst(7))], "secretHash has cost 31"),
            (["webhookKey": .string("KEY-1234"), "secretHash": .string(Self.hash2a.replacingOccurrences(of: "9pD", with: "9pE"))], "secretHash does not match the client secret"),
        ] as [([String: JSONValue], String)] {
            do {
                _ = try auth.authenticate(payload(p))
                Issue.record("accepted \(p)")
            } catch {
                #expect(error.status == 401)
                #expect(error.message.hasPrefix(message), "\(error.message)")
                #expect(!error.message.contains("KEY-1234") && !error.message.contains("change-me-too"))
            }
        }
    }
}

extension String {
    func replacingOccurrences(of a: String, with b: String) -> String {
        split(separator: a, omittingEmptySubsequences: false).joined(separator: b)
    }
}
