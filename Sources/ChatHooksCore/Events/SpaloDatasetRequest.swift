/// SPALO's "外部データ設定" call: who is asking (`webhookKey`, `secretHash`), and
/// what the bot has collected so far.
public struct SpaloDatasetRequest: Sendable {
    public struct Info: Sendable {
        public var userID: String?
        public var userName: String?
        public var email: String?
    }

    public struct Datum: Sendable {
        public var id: String?
        public var type: String?
        public var value: String?
        public var title: String?
    }

    public var event: String
    public var eventTime: String?
    public var botName: String?
    public var itemName: String?
    public var info: Info?
    public var data: [Datum]

    /// The keys that are secrets and never reach the journal.
    public static let secretKeys = ["webhookKey", "secretHash"]

    init(_ r: inout FieldReader) throws(HTTPError) {
        event = try r.required("event") { (k) throws(HTTPError) in try r.string(k) }
        // The document says `dataset` and its sample sends `DATASET`.
        guard event.equalsIgnoringASCIICase("dataset") else {
            throw HTTPError.invalidField("event", "must be dataset for this endpoint")
        }
        eventTime = try r.date("eventTime", .spalo)
        botName = try r.string("botName")
        itemName = try r.string("item_name")
        if let i = try r.object("info") {
            info = Info(userID: try i.id("userId"), userName: try i.string("userName"), email: try i.string("email"))
        }
        data = try r.objects("data") { (d) throws(HTTPError) in
            var value: String? = nil
            if let v = d.value("value") {
                guard let text = v.scalarText else {
                    throw HTTPError.invalidField(d.at("value"), "must be a string, not \(v.typeName)")
                }
                value = text
            }
            // GPS data, when present, is a number or a numeric string.
            for key in ["latitude", "longitude"] {
                if let v = d.value(key), !DatasetNumber.isNumber(v) {
                    throw HTTPError.invalidField(d.at(key), "must be a number")
                }
            }
            return Datum(id: try d.string("id"), type: try d.string("type"), value: value, title: try d.string("title"))
        } ?? []
    }
}

enum DatasetNumber {
    /// A JSON number, or a string holding a decimal number (GPS coordinates).
    static func isNumber(_ v: JSONValue) -> Bool {
        switch v {
        case .number: true
        case .string(let s): Double(s.trimmingASCIISpaces) != nil && !s.isEmpty
        default: false
        }
    }
}
