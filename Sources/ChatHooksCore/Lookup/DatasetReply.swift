/// SPALO's reply: `{"type":"dataset","actions":[{"key":…,"value":…}]}`, at most
/// 200 actions, key and value at most 50 characters each.
public enum DatasetReply {
    public static let maxActions = 200
    public static let maxLength = 50

    public static func response(_ entries: [LookupField], emptyMessage: String) -> Response {
        guard !entries.isEmpty else { return textResponse(400, emptyMessage) }
        if entries.count > maxActions {
            logError("spalo dataset: \(entries.count) values found; SPALO takes \(maxActions), the other \(entries.count - maxActions) are not sent")
        }
        var actions: [JSONValue] = []
        for entry in entries.prefix(maxActions) {
            var action = JSONObject()
            action.append("key", .string(cut(entry.name)))
            action.append("value", .string(cut(entry.value)))
            actions.append(.object(action))
        }
        var body = JSONObject()
        body.append("type", .string("dataset"))
        body.append("actions", .array(actions))
        return .json(200, .object(body))
    }

    /// A search's candidates: a JSON array of at most 200 strings of at most
    /// 50 characters (what SPALO's public sample receivers answer).
    public static func candidates(_ list: [String], emptyMessage: String) -> Response {
        guard !list.isEmpty else { return textResponse(400, emptyMessage) }
        if list.count > maxActions {
            logError("spalo search: \(list.count) candidates found; SPALO takes \(maxActions), the other \(list.count - maxActions) are not sent")
        }
        return .json(200, .array(list.prefix(maxActions).map { .string(cut($0)) }))
    }

    /// SPALO's error form, shown in the chat with "back" and "skip" buttons.
    public static func textResponse(_ status: Int, _ text: String, headers: [(name: String, value: String)] = []) -> Response {
        var body = JSONObject()
        body.append("type", .string("text"))
        body.append("text", .string(text))
        return .json(status, .object(body), headers: headers)
    }

    /// At most 50 characters, cut between characters, never inside one. It is
    /// not documented whether SPALO counts characters or UTF-16 units (as
    /// JavaScript does), so the result fits both: an emoji counts as two.
    public static func cut(_ s: String) -> String {
        var units = 0
        var end = s.startIndex
        var count = 0
        for (i, c) in zip(s.indices, s) {
            let w = c.utf16.count
            if count + 1 > maxLength || units + w > maxLength { return String(s[..<i]) }
            count += 1
            units += w
            end = s.index(after: i)
        }
        return String(s[..<end])
    }
}
