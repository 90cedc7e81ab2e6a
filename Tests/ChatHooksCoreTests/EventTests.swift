import Testing
@testable import ChatHooksCore

/// The vendor documents' samples, made into valid JSON (keys quoted, missing
/// commas added, the broken `"らくす太郎` closed), shipped in examples/samples.
enum VendorSamples {
    static func load(_ name: String) -> String {
        let root = Files.directoryName(Files.directoryName(Files.directoryName(#filePath)))
        let bytes = (try? Files.read(root + "/examples/samples/\(name).json")) ?? []
        return String(decoding: bytes, as: UTF8.self)
    }

    static let chatStart = load("chat-start")
    static let chatMessage = load("chat-message")
    static let chatEnd = load("chat-end")
    static let scenario = load("scenario")
    static let form = load("form")
    static let spalo = load("dataset")

    static let all: [(ChatDealerEvent, String)] = [
        (.chatStart, chatStart), (.chatMessage, chatMessage), (.chatEnd, chatEnd), (.scenario, scenario), (.form, form),
    ]
}

func object(_ text: String) throws -> JSONObject {
    try #require(JSONParser.parse(text).objectValue)
}

@Suite struct EventTests {
    @Test(arguments: VendorSamples.all.map(\.0))
    func everyVendorSampleDecodes(event: ChatDealerEvent) throws {
        let text = VendorSamples.all.first { $0.0 == event }!.1
        try event.validate(try object(text))
    }

    @Test func samplesDecodeIntoTheirFields() throws {
        var r = FieldReader(try object(VendorSamples.chatEnd))
        let end = try ChatEnd(&r)
        #expect(end.common.chatID == "21252")
        #expect(end.transcript.map(\.type) == [.system, .visitor])  // " system" trimmed
        #expect(end.transcript.map(\.message) == ["ようこそ", "こんにちは"])

        r = FieldReader(try object(VendorSamples.scenario))
        #expect(try ScenarioFired(&r).parameters.map { "\($0.key)=\($0.value)" } == ["prm1=val1", "prm2=val2"])

        r = FieldReader(try object(VendorSamples.form))
        let form = try FormAnswered(&r)
        #expect(form.agreeOptIn == true)
        #expect(form.items.map(\.name) == ["名前", "メールアドレス"])

        r = FieldReader(try object(VendorSamples.chatStart))
        #expect(try ChatStart(&r).visitCount == 181)

        r = FieldReader(try object(VendorSamples.spalo))
        let spalo = try SpaloDatasetRequest(&r)
        #expect(spalo.info?.userID == "123")
        #expect(spalo.data.map(\.id) == ["C5", "C10"])
    }

    @Test func leniencies() throws {
        let numericIDs = #"{"event_date":"2020/12/10 15:29:08","chat_id":21252,"visitor_id":30660,"visit_count":181}"#
        try ChatDealerEvent.chatStart.validate(try object(numericIDs))
        let stringBools = #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","agree_optin":"false","agree_privacy_policy":"true"}"#
        try ChatDealerEvent.form.validate(try object(stringBools))
        let nulls = #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","visitor_key":null,"page_url":null}"#
        try ChatDealerEvent.chatMessage.validate(try object(nulls))
        let unknown = #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","new_field":{"a":[1]}}"#
        try ChatDealerEvent.chatStart.validate(try object(unknown))
    }

    @Test(arguments: [
        (ChatDealerEvent.chatStart, #"{"chat_id":"1"}"#, "event_date: is required"),
        (.chatStart, #"{"event_date":"2020/12/10 15:29:08"}"#, "chat_id: is required"),
        (.chatStart, #"{"event_date":"2020/12/10 15:29:08","chat_id":""}"#, "chat_id: must not be empty"),
        (.chatStart, #"{"event_date":"2020/12/10 15:29:08","chat_id":{"a":1}}"#, "chat_id: must be a string or a whole number, not an object"),
        (.chatStart, #"{"event_date":"2020/12/10 15:29:08","chat_id":1.5}"#, "chat_id: must be a string or a whole number in digits, not a fraction"),
        (.chatStart, #"{"event_date":"2020/12/10 15:29:08","chat_id":1e2}"#,
         "chat_id: must be a string or a whole number in digits, not a number with an exponent"),
        (.chatStart, #"{"event_date":"2020-12-10 15:29:08","chat_id":"1"}"#, "event_date: must be a date as yyyy/MM/dd HH:mm:ss"),
        (.chatStart, #"{"event_date":"2021/02/29 15:29:08","chat_id":"1"}"#, "event_date: must be a date"),
        (.chatStart, #"{"event_date":"2020/12/10 24:00:00","chat_id":"1"}"#, "event_date: must be a date"),
        (.chatStart, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","visit_count":"abc"}"#, "visit_count: must be a whole number"),
        (.chatStart, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","page_url":5}"#, "page_url: must be a string, not a number"),
        (.chatMessage, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","msg_type":"robot"}"#, "msg_type: must be staff, visitor or system"),
        (.chatEnd, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","chat_detail":{}}"#, "chat_detail: must be an array, not an object"),
        (.chatEnd, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","chat_detail":[{},"x"]}"#, "chat_detail[1]: must be an object, not a string"),
        (.chatEnd, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","chat_detail":[{},{"post_date":"yesterday"}]}"#, "chat_detail[1].post_date: must be a date"),
        (.scenario, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","parameter":[{"k":["v"]}]}"#, "parameter[0].k: must be a string"),
        (.form, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","agree_optin":"maybe"}"#, "agree_optin: must be true or false"),
        (.form, #"{"event_date":"2020/12/10 15:29:08","chat_id":"1","item":[{"item_value":"x"}]}"#, "item[0].item_name: is required"),
    ])
    func invalidFieldsAreNamed(event: ChatDealerEvent, body: String, message: String) throws {
        let payload = try object(body)
        do {
            try event.validate(payload)
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.status == 400)
            #expect(error.code == "invalid_field")
            #expect(error.message.hasPrefix(message), "\(error.message)")
        }
    }

    @Test func spaloFieldChecks() throws {
        for (body, message) in [
            (#"{"event":"search"}"#, "event: must be dataset"),
            (#"{"event":"dataset","eventTime":"2023/01/18 09:40:30"}"#, "eventTime: must be a date as yyyy-MM-dd HH:mm:ss"),
            (#"{"event":"dataset","info":{"userId":[1]}}"#, "info.userId: must be a string or a whole number"),
            (#"{"event":"dataset","data":[{"value":{}}]}"#, "data[0].value: must be a string"),
            (#"{"event":"dataset","data":[{"latitude":"north"}]}"#, "data[0].latitude: must be a number"),
            (#"{"event":"dataset","data":[{"longitude":true}]}"#, "data[0].longitude: must be a number"),
        ] {
            var r = FieldReader(try object(body))
            do {
                _ = try SpaloDatasetRequest(&r)
                Issue.record("accepted \(body)")
            } catch {
                #expect(error.message.hasPrefix(message), "\(error.message)")
            }
        }
        var r = FieldReader(try object(#"{"event":"dataset","data":[{"latitude":35.6,"longitude":"139.7"}]}"#))
        _ = try SpaloDatasetRequest(&r)
    }

    @Test func formFieldsDecode() throws {
        let o = try FormURLDecoder.decode(Array("chat_id=21252&event_date=2020%2F12%2F10+15%3A29%3A08&msg=%E3%81%82+b&empty=&flag".utf8))
        #expect(o.keys == ["chat_id", "event_date", "msg", "empty", "flag"])
        #expect(o["event_date"] == .string("2020/12/10 15:29:08"))
        #expect(o["msg"] == .string("あ b"))
        #expect(o["flag"] == .string(""))
        #expect(throws: HTTPError.self) { try FormURLDecoder.decode(Array("a=1&a=2".utf8)) }
        #expect(throws: HTTPError.self) { try FormURLDecoder.decode(Array("a=%FF".utf8)) }
    }
}
