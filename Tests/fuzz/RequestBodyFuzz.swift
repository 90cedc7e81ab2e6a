// Fuzz target: the request decoder. The input is a request body, posted as
// JSON with its exact Content-Length: read (in pieces) and decoded as the
// pipeline does, then checked against every endpoint's payload rules, written
// back out (journal line, re-parse), and rendered into a mail.
@testable import ChatHooksCore

/// Hands a body over at most `chunk` bytes at a time, as a pipe or a FastCGI
/// stream may.
struct ChunkedBodyReader: BodyReader {
    var bytes: [UInt8]
    var chunk: Int
    var consumed = 0

    mutating func read(count: Int) -> [UInt8] {
        let n = min(count, chunk, bytes.count - consumed)
        defer { consumed += n }
        return Array(bytes[consumed..<(consumed + n)])
    }
}

let fuzzFrom = MailAddress("Chathooks <hooks@example.jp>")!
let fuzzTo = [MailAddress("staff@example.jp")!]
/// Every payload field that can reach a mail header, and a section.
let fuzzSubject = try! Template("{{subject}} {{chat_id}} {{visitor_key}} {{page_title}} {{msg}} {{botName}}{{#item}} {{item_name}}={{item_value}}{{/item}}")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRequestBody(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = fuzzInput(data, size)
    let request = Request(variables: Request.Variables([
        ("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", String(input.count)),
        ("CONTENT_TYPE", "application/json; charset=UTF-8"), ("REMOTE_ADDR", "192.0.2.1"),
    ]))
    let body: [UInt8]
    do {
        let length = try BodyDecoder.contentLength(request, limit: 1 << 20)
        invariant(length == input.count, "Content-Length \(input.count) read as \(length)")
        invariant(try BodyDecoder.kind(request) == .json, "a JSON body not read as JSON")
        var reader = ChunkedBodyReader(bytes: input, chunk: input.count % 2 == 0 ? max(input.count, 1) : 1 + input.count / 3)
        body = try BodyDecoder.read(&reader, length: length)
    } catch {
        invariant(false, "a well-formed request was refused: \(error.status) \(error.message)")
        return 0
    }
    invariant(body == input, "the body read back differs from the body sent")

    let object: JSONObject
    do {
        object = try BodyDecoder.decode(body, as: .json)
    } catch {
        checkErrorResponse(error, .chatStart)
        checkErrorResponse(error, .spaloDataset)
        return 0
    }

    // What the parser read, written and read again, is the same value.
    let written = JSONWriter.serialize(.object(object))
    do {
        let again = try JSONParser.parse(written, mode: .strict)
        invariant(again == .object(object), "JSONWriter's output reads back as a different value")
    } catch {
        invariant(false, "JSONWriter's output is not JSON: \(error)")
    }

    var valid: [ReceiverKind] = []
    for event in ChatDealerEvent.allCases {
        do {
            try event.validate(object)
            valid.append(event.kind)
        } catch {
            checkErrorResponse(error, event.kind)
        }
    }
    var reader = FieldReader(object)
    do {
        _ = try SpaloDatasetRequest(&reader)
        valid.append(.spaloDataset)
    } catch {
        checkErrorResponse(error, .spaloDataset)
    }

    // The journal line: one line of JSON, its payload the object as received.
    let payload = object.removing(SpaloDatasetRequest.secretKeys)
    for endpoint in valid.prefix(2) {
        let record = JournalRecord(receivedAt: Timestamp(seconds: 1_600_000_000, nanoseconds: 123_456_789),
                                   source: endpoint.source, event: endpoint.event, requestID: "fuzz-request",
                                   remoteAddress: request.remoteAddress, payload: payload)
        let event = AcceptedEvent(record: record)
        let line = event.line
        invariant(line.last == 0x0A && !line.dropLast().contains(0x0A) && !line.contains(0x0D), "the journal line is not one line")
        do {
            let parsed = try JSONParser.parse(Array(line.dropLast()), mode: .strict)
            invariant(parsed["payload"] == .object(payload), "the journal line's payload differs")
        } catch {
            invariant(false, "the journal line is not JSON: \(error)")
        }

        // A path placeholder never leads out of its folder.
        for name in ["chat_id", "visitor_id", "event_date", "botName"] {
            if let path = try? PathTemplate("/j/x-{\(name)}.jsonl").render(event.placeholder) {
                // By bytes: a value that starts with a combining mark joins
                // the literal's last Character, which String.hasPrefix sees.
                let bytes = Array(path.utf8)
                let middle = bytes.dropFirst(5).dropLast(6)
                invariant(bytes.starts(with: "/j/x-".utf8) && bytes.reversed().starts(with: "lnosj.".utf8)
                            && bytes.count >= 11 && !middle.contains(UInt8(ascii: "/")),
                          "placeholder {\(name)} made the path \(path)")
            }
        }

        // A mail: nothing from the payload starts a header.
        let settings = MailSettings(from: fuzzFrom, envelopeSender: fuzzFrom.address, to: fuzzTo, subject: fuzzSubject,
                                    body: try! Template(DefaultTemplates.body(for: endpoint.event)),
                                    replyToItem: "メールアドレス", sendmail: "/nonexistent/sendmail", timeout: 5, spool: "/nonexistent/spool")
        checkMail(MailAction(settings: settings, index: 0).compose(event).bytes)
    }
    return 0
}

/// A message's header section: CRLF lines, each a known header or a folded
/// continuation, no bare CR or LF, none longer than RFC 5322's 998 bytes.
func checkMail(_ bytes: [UInt8]) {
    var names: [String] = []
    var i = 0
    var lineStart = 0
    while i < bytes.count {
        let b = bytes[i]
        if b == 0x0D || b == 0x0A {
            invariant(b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A, "a bare CR or LF in a mail header at \(i)")
            invariant(i - lineStart <= 998, "a mail header line of \(i - lineStart) bytes")
            if i == lineStart { break }
            let first = bytes[lineStart]
            if first != 0x20 && first != 0x09 {
                guard let colon = bytes[lineStart..<i].firstIndex(of: UInt8(ascii: ":")) else {
                    invariant(false, "a mail header line without a colon"); return
                }
                names.append(String(decoding: bytes[lineStart..<colon], as: UTF8.self))
            }
            i += 2
            lineStart = i
            continue
        }
        i += 1
    }
    let expected = ["Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"]
    invariant(names.filter { $0 != "Reply-To" } == expected && names.filter { $0 == "Reply-To" }.count <= 1,
              "mail headers \(names)")
}
