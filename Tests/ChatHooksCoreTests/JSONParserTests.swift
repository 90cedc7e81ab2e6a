import Foundation
import Testing
@testable import ChatHooksCore

@Suite struct JSONParserTests {
    @Test func parsesAndKeepsOrderAndNumberText() throws {
        let v = try JSONParser.parse(#"{"b":1.10,"a":[true,false,null,"x"],"big":12345678901234567890,"e":-0.5E+3}"#)
        #expect(v.objectValue?.keys == ["b", "a", "big", "e"])
        #expect(v["b"] == .number("1.10"))
        #expect(v["big"] == .number("12345678901234567890"))
        #expect(v["e"] == .number("-0.5E+3"))
        #expect(v["a"] == .array([.bool(true), .bool(false), .null, .string("x")]))
    }

    @Test func decodesEscapesAndSurrogatePairs() throws {
        let v = try JSONParser.parse(#""a\"b\\c\/d\b\f\n\r\t\u3042\ud83d\ude00""#)
        #expect(v == .string("a\"b\\c/d\u{8}\u{c}\n\r\tあ😀"))
    }

    @Test(arguments: [
        ("", "empty document"),
        ("{", "unexpected end of input"),
        (#"{"a":1,}"#, "a key in double quotes was expected"),
        ("[1,]", "a value was expected"),
        (#"{"a":1 "b":2}"#, "',' or '}' was expected"),
        (#"{"a":1,"a":2}"#, "duplicate key \"a\""),
        ("01", "invalid number"),
        ("1.", "a digit was expected after '.'"),
        ("+1", "a value was expected"),
        ("-", "a digit was expected"),
        (#""\ud800""#, "unpaired surrogate"),
        (#""\udc00x""#, "unpaired surrogate"),
        ("\"a\u{1}b\"", "control character"),
        (#""\x41""#, "invalid escape"),
        ("// c\n{}", "unexpected '/'"),
        ("{a:1}", "a key in double quotes was expected"),
        ("'x'", "a value was expected"),
        ("tru", "a value was expected"),
        ("truex", "after true"),
        ("{} {}", "after the end of the document"),
        ("NaN", "a value was expected"),
    ])
    func strictModeRejects(input: String, expected: String) {
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(input) }
        do {
            _ = try JSONParser.parse(input)
        } catch {
            #expect(error.message.contains(expected), "\(error.message)")
        }
    }

    @Test func reportsLineAndColumnInCharacters() {
        do {
            _ = try JSONParser.parse("{\n  \"名前\": 1,\n  \"x\": ?\n}")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 3)
            #expect(error.column == 8)
        }
        do {
            _ = try JSONParser.parse("{\"あいう\": x}")
            Issue.record("parsed")
        } catch {
            #expect(error.line == 1)
            #expect(error.column == 9)  // characters, not bytes
        }
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        do {
            _ = try JSONParser.parse([0x22, 0x61, 0xC3, 0x28, 0x22])
            Issue.record("parsed")
        } catch {
            #expect(error.message == "invalid UTF-8")
            #expect(error.offset == 2)
        }
        // Overlong, surrogate and out-of-range forms are invalid too.
        for bad: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE3, 0x81]] {
            #expect(firstInvalidUTF8Offset(bad) == 0)
        }
        #expect(firstInvalidUTF8Offset(Array("あ😀é".utf8)) == nil)
    }

    @Test func limitsNestingDepth() throws {
        let ok = String(repeating: "[", count: JSONParser.maxDepth) + String(repeating: "]", count: JSONParser.maxDepth)
        _ = try JSONParser.parse(ok)
        let deep = String(repeating: "[", count: 100_000)
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(deep) }
    }

    @Test func duplicateKeysAreFoundInLargeObjectsToo() {
        var text = "{"
        for i in 0..<100 { text += "\"k\(i)\":\(i)," }
        text += "\"k57\":0}"
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(text) }
    }

    @Test func json5Extensions() throws {
        let text = """
        // a comment
        {
          unquoted: 'single',  /* block */
          $id_1: 0x1F, plus: +5, half: .5, whole: 5., neg: -0x10,
          "trailing": [1, 2,],
          esc: 'it\\'s \\x41\\
        ok',
          名前: "ok",
        }
        """
        let v = try JSONParser.parse(text, mode: .json5)
        #expect(v["unquoted"] == .string("single"))
        #expect(v["$id_1"] == .number("31"))
        #expect(v["plus"] == .number("5"))
        #expect(v["half"] == .number("0.5"))
        #expect(v["whole"] == .number("5"))
        #expect(v["neg"] == .number("-16"))
        #expect(v["trailing"] == .array([.number("1"), .number("2")]))
        #expect(v["esc"] == .string("it's Aok"))
        #expect(v["名前"] == .string("ok"))
        // Every JSON5 number must still be written as valid JSON.
        for key in ["$id_1", "plus", "half", "whole", "neg"] {
            let written = JSONWriter.string(v[key]!)
            #expect(try JSONParser.parse(written) == v[key]!)
        }
    }

    @Test func json5WhiteSpaceAndStringsFollowTheSpec() throws {
        // A tab inside a string and an ideographic space (U+3000) between tokens: fine in JSON5.
        let v = try JSONParser.parse("{\u{3000}a:\u{2028}'x\ty',\u{FEFF}b: 1\u{00A0}}", mode: .json5)
        #expect(v["a"] == .string("x\ty"))
        #expect(v["b"] == .number("1"))
        // …but not in strict JSON.
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\"a\":\"x\ty\"}") }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\u{3000}\"a\":1}") }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{\u{00A0}\"a\":1}") }
        // A line end inside a string, and \1 to \9, are errors even in JSON5; \0 alone is NUL.
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse("{a:'x\ny'}", mode: .json5) }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(#"{a:'\1'}"#, mode: .json5) }
        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse(#"{a:'\01'}"#, mode: .json5) }
        #expect(try JSONParser.parse(#"{a:'\0'}"#, mode: .json5)["a"] == .string("\u{0}"))
    }

    @Test func duplicateKeyMessagesDoNotEchoHugeKeys() {
        let key = String(repeating: "k", count: 10_000)
        do {
            _ = try JSONParser.parse("{\"\(key)\":1,\"\(key)\":2}")
            Issue.record("parsed")
        } catch {
            #expect(error.message.count < 100)
        }
    }

    @Test func json5StillRejectsMistakes() {
        for bad in ["{a:1,,}", "{a:}", "/* open", "{a:Infinity}", "{'a':1, a:2}", "{1a: 2}"] {
            #expect(throws: JSONSyntaxError.self, "\(bad)") { try JSONParser.parse(bad, mode: .json5) }
        }
    }

    @Test func writerEscapesAndRoundTrips() throws {
        let value = JSONValue.object(JSONObject([
            .init(key: "s", value: .string("q\"b\\\n\r\t\u{0}\u{1F}\u{7F}\u{2028}あ😀")),
            .init(key: "n", value: .number("1.10")),
            .init(key: "a", value: .array([.null, .bool(true)])),
        ]))
        let text = JSONWriter.string(value)
        #expect(!text.contains("\n"))
        #expect(text.contains(#"\u2028"#))
        #expect(try JSONParser.parse(text) == value)
    }

    /// Differential check against Foundation's JSONSerialization on generated
    /// documents, valid and mutated: both must agree on accept/reject, and on
    /// the value when both accept. (Only tests link Foundation.)
    @Test func agreesWithFoundationOnGeneratedInput() throws {
        var rng = SeededGenerator(seed: 0x5EED)
        var compared = 0
        for _ in 0..<3000 {
            var text = randomJSON(&rng, depth: 0)
            if rng.next() % 3 == 0 { text = mutate(text, &rng) }
            let bytes = Array(text.utf8)
            var ours: JSONValue? = nil
            var ourError: JSONSyntaxError? = nil
            do { ours = try JSONParser.parse(bytes) } catch { ourError = error }
            let theirs = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            // Foundation accepts duplicate keys, lone surrogate escapes and a trailing
            // comma; RFC 8259 does not, and neither do we.
            let trailingComma = text.filter { !$0.isWhitespace }.contains(",]") || text.filter { !$0.isWhitespace }.contains(",}")
            if let ourError, theirs != nil,
               ourError.message.hasPrefix("duplicate key") || ourError.message.hasPrefix("unpaired surrogate") || trailingComma { continue }
            #expect((ours == nil) == (theirs == nil), "disagree on \(text)")
            if let ours, let theirs {
                #expect(equivalent(ours, theirs), "different values for \(text)")
                compared += 1
            }
        }
        #expect(compared > 1000)
    }
}

// MARK: - Generators for the differential test

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func randomString(_ rng: inout SeededGenerator) -> String {
    let pieces = ["a", "Z", "あ", "😀", "\\n", "\\\"", "\\u00e9", "\\ud83d\\ude00", " ", "\\/", "é", "\\t", "x1"]
    return (0..<Int(rng.next() % 6)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
}

func randomJSON(_ rng: inout SeededGenerator, depth: Int) -> String {
    switch rng.next() % (depth > 3 ? 4 : 6) {
    case 0: return ["true", "false", "null"][Int(rng.next() % 3)]
    case 1: return ["0", "-1", "12.5", "1e3", "-0.25E-2", "123456789"][Int(rng.next() % 6)]
    case 2, 3: return "\"" + randomString(&rng) + "\""
    case 4: return "[" + (0..<Int(rng.next() % 4)).map { _ in randomJSON(&rng, depth: depth + 1) }.joined(separator: " , ") + "]"
    default:
        let n = Int(rng.next() % 4)
        return "{" + (0..<n).map { i in "\"k\(i)\(randomString(&rng))\" : " + randomJSON(&rng, depth: depth + 1) }.joined(separator: ",") + "}"
    }
}

func mutate(_ text: String, _ rng: inout SeededGenerator) -> String {
    var bytes = Array(text.utf8)
    guard !bytes.isEmpty else { return text }
    let i = Int(rng.next() % UInt64(bytes.count))
    let junk: [UInt8] = Array("{}[],:\"\\ 0-.eE+tfnx".utf8)
    switch rng.next() % 3 {
    case 0: bytes.remove(at: i)
    case 1: bytes.insert(junk[Int(rng.next() % UInt64(junk.count))], at: i)
    default: bytes[i] = junk[Int(rng.next() % UInt64(junk.count))]
    }
    return String(decoding: bytes, as: UTF8.self)
}

func equivalent(_ ours: JSONValue, _ theirs: Any) -> Bool {
    switch ours {
    case .null: return theirs is NSNull
    case .bool(let b): return (theirs as? Bool) == b
    case .number(let n): return (theirs as? NSNumber).map { abs($0.doubleValue - Double(n)!) <= 1e-9 * max(1, abs(Double(n)!)) } ?? false
    case .string(let s): return (theirs as? String) == s
    case .array(let a):
        guard let t = theirs as? [Any], t.count == a.count else { return false }
        return zip(a, t).allSatisfy { equivalent($0, $1) }
    case .object(let o):
        guard let t = theirs as? [String: Any], t.count == o.members.count else { return false }
        return o.members.allSatisfy { m in t[m.key].map { equivalent(m.value, $0) } ?? false }
    }
}

/// The word-at-a-time fast paths (string scanning, UTF-8 checking, the
/// writer's escape check) against byte-by-byte references, with the byte of
/// interest at every position around the 8-byte boundaries.
@Suite struct WordAtATimeTests {
    static let fillers: [[UInt8]] = [Array("abcdefgh".utf8), Array("あいう".utf8), Array("é~ 9".utf8)]

    /// A string of `length` bytes from `filler`, cut back to whole characters.
    func text(_ length: Int, _ filler: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        while out.count < length { out += filler }
        out = Array(out.prefix(length))
        while let last = out.last, last >= 0x80, String(validating: out, as: UTF8.self) == nil { out.removeLast() }
        return out
    }

    @Test func stringsWithEveryEscapeAtEveryPosition() throws {
        let escapes: [(raw: [UInt8], decoded: [UInt8])] = [
            (Array(#"\""#.utf8), [0x22]), (Array(#"\\"#.utf8), [0x5C]), (Array(#"\n"#.utf8), [0x0A]),
            (Array(#"\u3042"#.utf8), Array("あ".utf8)), (Array(#"\/"#.utf8), [0x2F]),
        ]
        for filler in Self.fillers {
            for before in 0...20 {
                for after in [0, 1, 7, 8, 9] {
                    let head = text(before, filler), tail = text(after, filler)
                    // No escape at all.
                    let plain = try JSONParser.parse([0x22] + head + tail + [0x22])
                    #expect(plain == .string(String(decoding: head + tail, as: UTF8.self)))
                    for (raw, decoded) in escapes {
                        let doc: [UInt8] = [0x22] + head + raw + tail + [0x22]
                        #expect(try JSONParser.parse(doc) == .string(String(decoding: head + decoded + tail, as: UTF8.self)))
                    }
                    // A raw control character is refused wherever it is.
                    for control: UInt8 in [0x00, 0x01, 0x09, 0x1F] {
                        #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22] + head + [control] + tail + [0x22]) }
                    }
                    // An unterminated string is refused.
                    #expect(throws: JSONSyntaxError.self) { try JSONParser.parse([0x22] + head + tail) }
                }
            }
        }
    }

    /// Byte-by-byte reference for the writer's escape check.
    func referenceNeedsEscape(_ bytes: [UInt8]) -> Bool {
        bytes.contains { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C || $0 == 0x7F || $0 == 0xE2 }
    }

    @Test func writerEscapeCheckAtEveryPosition() throws {
        for length in 0...26 {
            for position in 0..<max(length, 1) {
                for special: UInt8 in [0x22, 0x5C, 0x00, 0x1F, 0x7F, 0xE2, 0x21, 0x5B, 0x20, 0x80, 0xE3] {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    if length > 0 { bytes[position] = special }
                    let ours = bytes.withUnsafeBufferPointer { JSONWriter.mayNeedEscape($0) }
                    #expect(ours == referenceNeedsEscape(bytes), "length \(length), 0x\(String(special, radix: 16)) at \(position)")
                }
            }
        }
        // And what is written round-trips, U+2028 escaped, other 0xE2 sequences kept.
        for s in ["a\u{2028}b", "……→", "x\u{7F}", String(repeating: "y", count: 17) + "\"", "ok"] {
            let out = JSONWriter.string(.string(s))
            #expect(try JSONParser.parse(out) == .string(s))
            #expect(!out.utf8.contains(0x7F) && !out.contains("\u{2028}"))
        }
    }

    /// Byte-by-byte reference: RFC 3629 by the table of well-formed sequences.
    func referenceFirstInvalid(_ b: [UInt8]) -> Int? {
        var i = 0
        while i < b.count {
            let c = b[i]
            let (length, lo, hi): (Int, UInt8, UInt8) = switch c {
            case 0x00...0x7F: (1, 0, 0)
            case 0xC2...0xDF: (2, 0x80, 0xBF)
            case 0xE0: (3, 0xA0, 0xBF)
            case 0xE1...0xEC, 0xEE, 0xEF: (3, 0x80, 0xBF)
            case 0xED: (3, 0x80, 0x9F)
            case 0xF0: (4, 0x90, 0xBF)
            case 0xF1...0xF3: (4, 0x80, 0xBF)
            case 0xF4: (4, 0x80, 0x8F)
            default: (0, 0, 0)
            }
            if length == 0 || i + length > b.count { return i }
            if length > 1 {
                if b[i + 1] < lo || b[i + 1] > hi { return i }
                for k in 2..<length where b[i + k] & 0xC0 != 0x80 { return i }
            }
            i += length
        }
        return nil
    }

    @Test func utf8CheckAgreesWithAReferenceOnRandomInput() {
        var rng = SeededGenerator(seed: 0xC0FFEE)
        let alphabet: [[UInt8]] = [[0x41], [0x7B], Array("é".utf8), Array("あ".utf8), Array("😀".utf8),
                                   [0x80], [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE3, 0x81], [0xFF]]
        for _ in 0..<3000 {
            var bytes: [UInt8] = []
            let pieces = Int(rng.next() % 24)
            for _ in 0..<pieces {
                // Mostly ASCII runs of varying length, so that the 8-byte path is taken and left at every offset.
                if rng.next() % 3 == 0 {
                    bytes += alphabet[Int(rng.next() % UInt64(alphabet.count))]
                } else {
                    bytes += [UInt8](repeating: 0x61, count: Int(rng.next() % 12))
                }
            }
            let ours = bytes.withUnsafeBufferPointer { firstInvalidUTF8Offset($0) }
            #expect(ours == referenceFirstInvalid(bytes), "\(bytes)")
            #expect((ours == nil) == (String(validating: bytes, as: UTF8.self) != nil))
        }
    }
}

@Suite struct UTF8PrecedenceTests {
    func failure(_ bytes: [UInt8], _ mode: JSONParser.Mode = .strict) -> JSONSyntaxError? {
        do { _ = try JSONParser.parse(bytes, mode: mode); return nil } catch { return error }
    }

    /// An invalid byte is the error reported wherever it is, before any
    /// syntax error, in both modes, with the offset of the first bad byte.
    @Test func invalidUTF8IsReportedFirstWithItsOffset() {
        let cases: [[UInt8]] = [
            Array(#"{"a":""#.utf8) + [0xFF] + Array(#""}"#.utf8),                 // in a string
            Array(#"{"a":"x\n"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8),        // after an escape
            Array(#"{"#.utf8) + [0xFF] + Array(#""a":1}"#.utf8),                  // outside any string
            Array(#"{"a":1,}"#.utf8) + [0xE3, 0x81],                              // after a syntax error, truncated
            Array(#"{"a":""#.utf8) + [0xED, 0xA0, 0x80],                          // a surrogate, unterminated
            Array(#"["é", "#.utf8) + [0xF4, 0x90, 0x80, 0x80] + Array(#"]"#.utf8), // above U+10FFFF, in an array
        ]
        for bytes in cases {
            let expected = firstInvalidUTF8Offset(bytes)
            #expect(expected != nil)
            for mode in [JSONParser.Mode.strict, .json5] {
                let e = failure(bytes, mode)
                #expect(e?.message == "invalid UTF-8", "\(bytes) \(mode)")
                #expect(e?.offset == expected, "\(bytes) \(mode)")
            }
        }
        // Valid non-ASCII outside a string is a syntax error, not a UTF-8 one.
        #expect(failure(Array(#"{"a":1}あ"#.utf8))?.message.contains("after the end of the document") == true)
        // A JSON5 comment must be valid UTF-8 too.
        #expect(failure(Array("{a:1 // ".utf8) + [0xFF] + Array("\n}".utf8), .json5)?.message == "invalid UTF-8")
    }
}

@Suite struct JSON5NumberTests {
    @Test(arguments: ["{a:Infinity}", "{a:-Infinity}", "{a:+Infinity}", "{a:NaN}", "{a:-NaN}", "[NaN]"])
    func infinityAndNaNAreRefusedByName(_ text: String) {
        do {
            _ = try JSONParser.parse(text, mode: .json5)
            Issue.record("parsed \(text)")
        } catch {
            #expect(error.message.contains("is not a number this configuration can use"), "\(error)")
            #expect(error.offset == Array(text.utf8).firstIndex { $0 == 0x2D || $0 == 0x2B || $0 == 0x49 || $0 == 0x4E }!)
        }
    }

    @Test func theWordsAreFineAsKeys() throws {
        let v = try JSONParser.parse("{Infinity: 1, NaN: 2}", mode: .json5)
        #expect(v.objectValue?.keys == ["Infinity", "NaN"])
    }
}
