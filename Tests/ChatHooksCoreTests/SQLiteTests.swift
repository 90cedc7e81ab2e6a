import CSQLite
import Foundation
import Testing
@testable import ChatHooksCore

/// Real database files, written by Python's sqlite3 module (a separate program, as the
/// files SPALO's lookups read are), in the default rollback-journal mode.
@Suite struct SQLiteTests {
    static let schema = """
        PRAGMA journal_mode=DELETE;
        CREATE TABLE customers (email TEXT PRIMARY KEY, name TEXT, age INTEGER, score REAL, note TEXT, photo BLOB);
        INSERT INTO customers VALUES ('a@example.com', 'Alice', 34, 1.5, NULL, x'00ff');
        INSERT INTO customers VALUES ('山田@例え.jp', '山田 太郎', 51, 100.0, '東京都渋谷区', NULL);
        INSERT INTO customers VALUES ('o''brien@example.com', 'O''Brien "Pat"', -7, 1e20, '', NULL);
        """
    static let byEmail = "SELECT name, age, score, note, photo FROM customers WHERE email = :email"

    /// This test's own folder: the suite is made anew for each test, and lives as long as it runs.
    let dir: TemporaryDirectory

    init() throws { dir = try TemporaryDirectory() }

    func database(_ sql: String = SQLiteTests.schema) throws -> String {
        let path = dir.path + "/lookup.db"
        try python("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript(sys.argv[2])
            c.commit()
            c.close()
            """, path, sql)
        return path
    }

    func python(_ script: String, _ arguments: String...) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script] + arguments
        try p.run()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "python3 failed")
    }

    func lookup(_ path: String, _ query: String = SQLiteTests.byEmail, email: String,
                busy: Int = 1000) throws(LookupError) -> [LookupRow] {
        try SQLiteSource(path: path, query: query, busyTimeoutMilliseconds: busy)
            .rows(binding: [LookupField(name: "email", value: email)], limit: 10)
    }

    func error(_ body: () throws(LookupError) -> some Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch {
            return error.message
        }
    }

    func row(_ pairs: KeyValuePairs<String, String>) -> LookupRow {
        LookupRow(pairs.map { LookupField(name: $0.key, value: $0.value) })
    }

    @Test func aMatchGivesItsColumnsAndLeavesOutNullAndBlob() throws {
        let path = try database()
        #expect(try lookup(path, email: "a@example.com") == [row(["name": "Alice", "age": "34", "score": "1.5"])])
    }

    @Test func noMatchIsNoRows() throws {
        let path = try database()
        #expect(try lookup(path, email: "nobody@example.com") == [])
        #expect(try lookup(path, email: "") == [])
    }

    @Test func japaneseKeysAndValues() throws {
        let path = try database()
        #expect(try lookup(path, email: "山田@例え.jp")
                == [row(["name": "山田 太郎", "age": "51", "score": "100.0", "note": "東京都渋谷区"])])
    }

    @Test func quotesInParametersAreDataNotSQL() throws {
        let path = try database()
        for hostile in ["'", "\"", "'; DROP TABLE customers; --", "' OR '1'='1", "a@example.com' --"] {
            #expect(try lookup(path, email: hostile) == [], "\(hostile)")
        }
        // The table is still there, and a key with a quote in it matches exactly.
        #expect(try lookup(path, email: "o'brien@example.com")
                == [row(["name": "O'Brien \"Pat\"", "age": "-7", "score": "1.0e+20", "note": ""])])
        #expect(try lookup(path, email: "a@example.com").count == 1)
    }

    @Test func integersAndRealsAreRenderedPlainly() throws {
        let path = try database("""
            CREATE TABLE n (k TEXT, v);
            INSERT INTO n VALUES ('a', 0), ('b', -42), ('c', 9223372036854775807), ('d', 1.5), ('e', 100.0),
                ('f', 1e20), ('g', 0.1), ('h', 1e-7), ('i', 123456789012345678.0), ('j', 9e999), ('k', -0.0);
            """)
        let values = try SQLiteSource(path: path, query: "SELECT v FROM n WHERE k > :after ORDER BY k")
            .rows(binding: [LookupField(name: "after", value: "")], limit: 100)
            .map { $0.fields.map(\.value).joined() }
        #expect(values == ["0", "-42", "9223372036854775807", "1.5", "100.0", "1.0e+20", "0.1", "1.0e-07",
                           "1.23456789012346e+17", "Inf", "0.0"])
    }

    @Test func anEmptyValueBindsEmptyTextAndANulIsKept() throws {
        let path = try database()
        let rows = try SQLiteSource(path: path, query: "SELECT typeof(:v) AS t, length(:v) AS n")
            .rows(binding: [LookupField(name: "v", value: "")], limit: 1)
        #expect(rows == [row(["t": "text", "n": "0"])])
        let nul = try SQLiteSource(path: path, query: "SELECT length(CAST(:v AS BLOB)) AS bytes, :v = 'a' AS same")
            .rows(binding: [LookupField(name: "v", value: "a\u{0}b")], limit: 1)
        #expect(nul == [row(["bytes": "3", "same": "0"])])
    }

    @Test func textThatIsNotUTF8FailsTheLookup() throws {
        let path = try database("CREATE TABLE t (k TEXT, v TEXT); INSERT INTO t VALUES ('x', CAST(x'41ff42' AS TEXT));")
        let message = error { () throws(LookupError) in try lookup(path, "SELECT v FROM t WHERE k = :email", email: "x") }
        #expect(message.contains("column v of row 1 is not UTF-8"), "\(message)")
    }

    @Test func atMostLimitRows() throws {
        let path = try database()
        let source = SQLiteSource(path: path, query: "SELECT email FROM customers WHERE name <> :n ORDER BY email")
        #expect(try source.rows(binding: [LookupField(name: "n", value: "-")], limit: 2).count == 2)
        #expect(try source.rows(binding: [LookupField(name: "n", value: "-")], limit: 0) == [])
    }

    @Test func aMissingFileFailsAndIsNotCreated() throws {
        let path = dir.path + "/missing.db"
        let message = error { () throws(LookupError) in try lookup(path, email: "a@example.com") }
        #expect(message.contains("cannot open") && message.contains("No such file or directory"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test func aFileThatIsNotADatabaseFails() throws {
        try dir.write("notes.db", String(repeating: "This is a text file, not SQLite.\n", count: 64))
        let message = error { () throws(LookupError) in try lookup(dir.path + "/notes.db", email: "a@example.com") }
        #expect(message.contains("file is not a database"), "\(message)")
    }

    @Test func sqlThatDoesNotPrepareFails() throws {
        let path = try database()
        for (sql, detail) in [("SELEC name FROM customers WHERE email = :email", "syntax error"),
                              ("SELECT nope FROM customers WHERE email = :email", "no such column: nope"),
                              ("SELECT name FROM clients WHERE email = :email", "no such table: clients")] {
            let message = error { () throws(LookupError) in try SQLiteSource(path: path, query: sql).parameterNames() }
            #expect(message.contains("does not prepare") && message.contains(detail), "\(message)")
        }
        for sql in ["", "  -- nothing\n"] {
            #expect(error { () throws(LookupError) in try SQLiteSource(path: path, query: sql).parameterNames() }
                    .contains("the query is empty"))
        }
    }

    @Test func oneStatementOnly() throws {
        let path = try database()
        let two = error { () throws(LookupError) in
            try SQLiteSource(path: path, query: "SELECT 1 WHERE :a = '1'; SELECT 2").parameterNames()
        }
        #expect(two.contains("more than one statement"), "\(two)")
        #expect(try SQLiteSource(path: path, query: "SELECT :a; -- the end\n").parameterNames() == [":a"])
    }

    @Test func namedParametersAsWrittenAndPositionalOnesRefused() throws {
        let path = try database()
        let query = "SELECT name FROM customers WHERE email = :email OR name = @name OR age = $age OR email = :email"
        #expect(try SQLiteSource(path: path, query: query).parameterNames() == [":email", "@name", "$age"])
        for sql in ["SELECT name FROM customers WHERE email = ?",
                    "SELECT name FROM customers WHERE email = ?1",
                    "SELECT name FROM customers WHERE email = :email AND name = ?",
                    "SELECT name FROM customers WHERE email = ?3"] {
            let message = error { () throws(LookupError) in try SQLiteSource(path: path, query: sql).parameterNames() }
            #expect(message.contains("positional parameter"), "\(sql): \(message)")
        }
        let twice = error { () throws(LookupError) in
            try SQLiteSource(path: path, query: "SELECT 1 WHERE :a = @a").parameterNames()
        }
        #expect(twice.contains("parameter a with two prefixes (:a, @a)"), "\(twice)")
    }

    @Test func theBoundNamesMustBeExactlyTheQuerysParameters() throws {
        let path = try database()
        let source = SQLiteSource(path: path, query: "SELECT name FROM customers WHERE email = :email AND age > @age")
        func bind(_ names: [String]) -> String {
            error { () throws(LookupError) in try source.rows(binding: names.map { LookupField(name: $0, value: "1") }, limit: 1) }
        }
        #expect(bind(["email", "age", "extra"]).contains("binds extra, which the query does not use"))
        #expect(bind(["email"]).contains("the query needs @age, which the config does not bind"))
        #expect(bind([":email", "age"]).contains("binds :email, which the query does not use (name it without its prefix)"))
        #expect(bind(["email", "age", "age"]).contains("parameter age is bound twice"))
        #expect(bind(["age", "email"]) == "no error")
        #expect(try source.rows(binding: [LookupField(name: "age", value: "30"), LookupField(name: "email", value: "a@example.com")],
                                limit: 1) == [row(["name": "Alice"])])
    }

    @Test func checkSummarisesOrNamesTheProblem() throws {
        let path = try database()
        let source = SQLiteSource(path: path, query: Self.byEmail)
        #expect(try source.check(expected: ["email"]).get()
                == "SQLite \(path): opens read-only; the query binds :email and returns name, age, score, note, photo")
        guard case .failure(let mismatch) = source.check(expected: ["mail"]) else {
            Issue.record("a mismatch passed the check")
            return
        }
        #expect(mismatch.message.contains("binds mail, which the query does not use"))
        guard case .failure(let missing) = SQLiteSource(path: path + ".gone", query: Self.byEmail).check(expected: ["email"]) else {
            Issue.record("a missing file passed the check")
            return
        }
        #expect(missing.message.contains("cannot open"))
    }

    @Test func aWritingQueryIsRefusedAndWritesNothing() throws {
        let path = try database()
        for sql in ["DELETE FROM customers WHERE email = :email",
                    "UPDATE customers SET name = 'x' WHERE email = :email",
                    "INSERT INTO customers (email) VALUES (:email)",
                    "DELETE FROM customers WHERE email = :email RETURNING name"] {
            let message = error { () throws(LookupError) in try lookup(path, sql, email: "a@example.com") }
            #expect(message.contains("would write"), "\(sql): \(message)")
        }
        #expect(try lookup(path, email: "a@example.com").count == 1)

        // Belt and braces: the read-only connection itself refuses the write too.
        var db: OpaquePointer?
        defer { sqlite3_close_v2(db) }
        #expect(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK)
        #expect(sqlite3_exec(db, "DELETE FROM customers", nil, nil, nil) == SQLITE_READONLY)
        #expect(try lookup(path, email: "a@example.com").count == 1)
    }

    @Test func extensionsCannotBeLoaded() throws {
        let path = try database()
        let message = error { () throws(LookupError) in try lookup(path, "SELECT load_extension(:email)", email: "/tmp/x.so") }
        #expect(message.contains("the query failed: not authorized"), "\(message)")
    }

    @Test func aDatabaseLockedByAWriterFailsAfterTheBusyTimeout() throws {
        let path = try database()
        // Another program holds an exclusive write transaction (rollback journal: readers are locked out).
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(30)
            """, path]
        let out = Pipe()
        locker.standardOutput = out
        try locker.run()
        defer {
            kill(locker.processIdentifier, SIGKILL)
            locker.waitUntilExit()
        }
        let said = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        try #require(said.hasPrefix("locked"), "the locking python3 did not start: \(said)")

        let started = Date()
        let message = error { () throws(LookupError) in try lookup(path, email: "a@example.com", busy: 100) }
        let waited = Date().timeIntervalSince(started)
        #expect(message.contains("locked") || message.contains("busy"), "\(message)")
        #expect(waited >= 0.09 && waited < 5, "waited \(waited) s")

        kill(locker.processIdentifier, SIGKILL)
        locker.waitUntilExit()
        #expect(try lookup(path, email: "a@example.com", busy: 100).count == 1)
    }

    @Test func aRunawayQueryIsStoppedAtTheTimeLimit() throws {
        let path = try database()
        let forever = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c WHERE x <> :a"
        let started = Date()
        let message = error { () throws(LookupError) in
            try SQLiteSource(path: path, query: forever, timeLimitMilliseconds: 200)
                .rows(binding: [LookupField(name: "a", value: "0")], limit: 1)
        }
        #expect(message.contains("stopped after 200 ms"), "\(message)")
        #expect(Date().timeIntervalSince(started) < 5)
    }

    @Test func everyPathClosesTheDatabase() throws {
        let path = try database()
        try dir.write("notes.db", String(repeating: "not a database\n", count: 100))
        func openFiles() throws -> Int { try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count }
        let before = try openFiles()
        for _ in 0..<300 {
            _ = try? lookup(path, email: "a@example.com")
            _ = try? lookup(path, "SELEC", email: "a@example.com")
            _ = try? lookup(path, email: "a@example.com", busy: 0) as [LookupRow]
            _ = try? lookup(path, "SELECT 1 WHERE :x", email: "a@example.com")
            _ = try? lookup(dir.path + "/notes.db", email: "a@example.com")
            _ = try? lookup(dir.path + "/gone.db", email: "a@example.com")
        }
        // Other tests run alongside and open files of their own; a leak here would be hundreds.
        #expect(try openFiles() - before < 50)
    }
}
