import Glibc
import Testing
@testable import ChatHooksCore

/// Which file a line goes to, and the order every reader reads them in.
@Suite struct JournalFilesTests {
    func line(_ at: String) -> String { #"{"received_at":""# + at + #"","source":"chatdealer","event":"form","request_id":"X","remote_addr":"","payload":{}}"# + "\n" }

    @Test func namesFollowTheRotation() {
        // Noon UTC: the same local date in every zone from UTC-11 to UTC+11
        // (the tests run together: none sets TZ).
        let t = Timestamp(rfc3339: "2026-12-15T12:00:00.100Z")!
        #expect(JournalFiles(journal: "/d/journal.jsonl", rotate: .none).path(.journal, at: t) == "/d/journal.jsonl")
        #expect(JournalFiles(journal: "/d/journal.jsonl", rotate: .monthly).path(.journal, at: t) == "/d/journal-2026-12.jsonl")
        #expect(JournalFiles(journal: "/d/journal.jsonl", rotate: .daily).path(.outcomes, at: t) == "/d/outcomes-2026-12-15.jsonl")
        #expect(JournalFiles(journal: "/d/events", rotate: .monthly).path(.journal, at: t) == "/d/events-2026-12")
        #expect(JournalFiles(journal: "/d/journal.jsonl", rotate: .monthly).path(.rejections, at: t) == "/d/rejections-2026-12.jsonl")
    }

    /// The plain file first, then the periods by the time of their first
    /// line: a month's file and the days of that month (the rotation changed
    /// in the middle of it) in the order they were written, either way round.
    @Test(arguments: [true, false])
    func readersReadEveryFileInTheOrderItWasWritten(daysFirst: Bool) throws {
        let dir = try TemporaryDirectory()
        try dir.write("journal.jsonl", line("2026-10-05T10:00:00.000+09:00"))
        try dir.write("journal-2026-11.jsonl", line("2026-11-03T10:00:00.000+09:00"))
        try dir.write("journal-2026-12-01.jsonl", line(daysFirst ? "2026-12-01T10:00:00.000+09:00" : "2026-12-20T10:00:00.000+09:00"))
        try dir.write("journal-2026-12.jsonl", line(daysFirst ? "2026-12-16T10:00:00.000+09:00" : "2026-12-01T09:00:00.000+09:00"))
        try dir.write("journal-notes.jsonl", line("2026-12-01T00:00:00.000+09:00"))  // not a period: not read
        try dir.write("outcomes.jsonl", "")
        let files = JournalFiles(journal: dir.path + "/journal.jsonl", rotate: .monthly)
        let names = files.all(.journal).map { String($0.dropFirst(dir.path.count + 1)) }
        #expect(names == ["journal.jsonl", "journal-2026-11.jsonl"]
                + (daysFirst ? ["journal-2026-12-01.jsonl", "journal-2026-12.jsonl"] : ["journal-2026-12.jsonl", "journal-2026-12-01.jsonl"]))
    }

    /// A capped file's older parts, oldest first, before it.
    @Test func partsOfACappedFileComeBeforeIt() throws {
        let dir = try TemporaryDirectory()
        for name in ["rejections.jsonl", "rejections.1.jsonl", "rejections.3.jsonl", "rejections.2.jsonl"] { try dir.write(name, "") }
        let files = JournalFiles(journal: dir.path + "/journal.jsonl", rotate: .none)
        #expect(files.all(.rejections).map { String($0.dropFirst(dir.path.count + 1)) }
                == ["rejections.3.jsonl", "rejections.2.jsonl", "rejections.1.jsonl", "rejections.jsonl"])
    }

    /// At the cap the file moves aside, the parts shift and the oldest goes:
    /// never more than cap × (keep + 1) bytes.
    @Test func aCappedFileStaysWithinItsBound() throws {
        let dir = try TemporaryDirectory()
        let appender = CappedAppender(path: dir.path + "/rejections.jsonl", cap: 100, keep: 2)
        let line = Array(String(repeating: "x", count: 29).utf8) + [0x0A]  // 30 bytes: 3 a file
        for _ in 0..<20 { try appender.append(line) }
        var total = 0
        for name in ["rejections.jsonl", "rejections.1.jsonl", "rejections.2.jsonl"] {
            let size = try Files.read(dir.path + "/" + name).count
            #expect(size <= 100 && size % 30 == 0)
            total += size
        }
        #expect(total <= 300)
        #expect((try? Files.read(dir.path + "/rejections.3.jsonl")) == nil)
    }
}
