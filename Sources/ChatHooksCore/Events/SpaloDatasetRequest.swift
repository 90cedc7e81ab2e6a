/// SPALO's "外部データ設定" (`dataset`) and "データ参照" (`search`) calls, which
/// share one shape: who is asking (`webhookKey`, `secretHash`), and what the
/// bot has collected so far.
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

    public enum Kind: Sendable { case dataset, search }

    public var event: String
    public var eventTime: String?
    public var botName: String?
    public var itemName: String?
    public var info: Info?
    public var data: [Datum]

    /// The keys that are secrets and never reach the journal.
    public static let secretKeys = ["webhookKey", "secretHash"]

    init(_ r: inout FieldReader, kind: Kind = .dataset) throws(HTTPError) {
        event = try r.required("event") { (k) throws(HTTPError) in try r.string(k) }
        // The document says `dataset` and its sample sends `DATASET`.
        switch kind {
        case .dataset:
            guard event.equalsIgnoringASCIICase("dataset") else {
                throw HTTPError.invalidField("event", "must be dataset for this endpoint")
            }
        case .search:
            guard event.equalsIgnoringASCIICase("search") else {
                throw HTTPError.invalidField("event", "must be search for this endpoint")
            }
        }
        eventTime = try r.date("eventTime", .spalo)
        botName = try r.string("botName")
        itemName = try r.string("item_name")
        info = try Info.read(r)
        data = try Datum.list(r, "data")
    }
}

extension SpaloDatasetRequest.Info {
    static func read(_ r: FieldReader) throws(HTTPError) -> Self? {
        guard let i = try r.object("info") else { return nil }
        return Self(userID: try i.id("userId"), userName: try i.string("userName"), email: try i.string("email"))
    }
}

extension SpaloDatasetRequest.Datum {
    /// `data[]` (and the send call's `dataDetail[]`): what each answered item holds.
    static func list(_ r: FieldReader, _ key: String) throws(HTTPError) -> [Self] {
        try r.objects(key) { (d) throws(HTTPError) in
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
            return Self(id: try d.string("id"), type: try d.string("type"), value: value, title: try d.string("title"))
        } ?? []
    }
}

/// SPALO's "データ送信" (`SEND`) call: everything one person answered, sent
/// once the bot is done; `historyId` once SPALO has sent its Excel file.
public struct SpaloSendRequest: Sendable {
    public var event: String
    public var historyID: String?
    public var workspaceName: String?
    public var groupName: String?
    public var botID: String?
    public var botName: String?
    public var senderID: String?
    public var senderName: String?
    public var info: SpaloDatasetRequest.Info?
    public var dataDetail: [SpaloDatasetRequest.Datum]
    /// `data`: item title → value, in the order sent.
    public var data: [(title: String, value: String)]

    init(_ r: inout FieldReader) throws(HTTPError) {
        event = try r.required("event") { (k) throws(HTTPError) in try r.string(k) }
        guard event.equalsIgnoringASCIICase("send") else {
            throw HTTPError.invalidField("event", "must be SEND for this endpoint")
        }
        historyID = try r.id("historyId")
        workspaceName = try r.string("workspaceName")
        groupName = try r.string("groupName")
        botID = try r.id("botId")
        botName = try r.string("botName")
        senderID = try r.id("senderId")
        senderName = try r.string("senderName")
        info = try SpaloDatasetRequest.Info.read(r)
        dataDetail = try SpaloDatasetRequest.Datum.list(r, "dataDetail")
        data = []
        if let d = try r.object("data") {
            for member in d.object.members {
                // A checkbox may hold several answers: a list of scalars, kept as one line each.
                switch member.value {
                case .null: data.append((member.key, ""))
                case .array(let list):
                    var parts: [String] = []
                    for (i, v) in list.enumerated() {
                        guard let text = v.scalarText else {
                            throw HTTPError.invalidField(d.atChosen(member.key) + "[\(i)]", "must be a string, not \(v.typeName)")
                        }
                        parts.append(text)
                    }
                    data.append((member.key, parts.joined(separator: "\n")))
                case let v:
                    guard let text = v.scalarText else {
                        throw HTTPError.invalidField(d.atChosen(member.key), "must be a string, not \(v.typeName)")
                    }
                    data.append((member.key, text))
                }
            }
        }
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
