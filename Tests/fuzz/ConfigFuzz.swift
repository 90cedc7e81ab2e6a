// Fuzz target: the config reader. The input is a chathooks.json5 file:
// parsed as JSON5 and decoded into a Config the way ConfigLoader.load does,
// in a folder that does not exist (relative secret and template files are
// then missing) and with an environment of two variables. A config that
// decodes has its templates rendered and its paths checked.
@testable import ChatHooksCore

let fuzzConfigPath = "/nonexistent-chathooks-fuzz/chathooks.json5"

func fuzzEnvironment(_ name: String) -> String? {
    switch name {
    case "CHATDEALER_TOKEN": "0123456789abcdef0123456789abcdef"
    case "SPALO_SECRET": "a-client-secret"
    default: nil
    }
}

let fuzzContext: JSONValue = {
    let text = #"{"event":"form","source":"chatdealer","request_id":"r","chat_id":"1","subject":"s","item":[{"item_name":"a","item_value":"b"}],"payload":{"chat_id":"1"}}"#
    return try! JSONParser.parse(text)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = fuzzInput(data, size)
    let config: Config
    do {
        config = try ConfigLoader.decode(input, path: fuzzConfigPath, environment: fuzzEnvironment)
    } catch {
        invariant(!error.problems.isEmpty, "a config refused without a problem")
        _ = error.description
        return 0
    }
    // A problem inside one sender's block stops only that sender (its
    // receivers answer 503); a strict read (`chathooks check`) refuses it.
    if !(config.chatdealerProblems.isEmpty && config.spaloProblems.isEmpty) {
        do {
            _ = try ConfigLoader.decode(input, path: fuzzConfigPath, strict: true, environment: fuzzEnvironment)
            invariant(false, "a strict read accepted a config with problems")
        } catch {
            invariant(!error.problems.isEmpty, "a strict read refused a config without a problem")
        }
    }
    invariant(config.path == fuzzConfigPath && config.journal.path.hasPrefix("/"), "the journal path \(config.journal.path) is not absolute")
    invariant(config.maxBodyBytes >= 1 && config.maxBodyBytes <= 256 << 20, "maxBodyBytes \(config.maxBodyBytes)")
    var actions: [ActionSettings] = []
    if let cd = config.chatdealer, config.chatdealerProblems.isEmpty {
        invariant(!cd.tokens.isEmpty && ConfigDecoder.isValidHeaderName(cd.header), "chatdealer auth accepted without a header or tokens")
        invariant(!cd.tokens.contains(where: { $0.isEmpty }), "an empty token was accepted")
        for settings in cd.events.all { actions += settings.actions }
    }
    if let sp = config.spalo, config.spaloProblems.isEmpty {
        invariant(!sp.webhooks.isEmpty, "a spalo block without a webhook was accepted")
        var names = Set<String>(), keys = Set<String>()
        for w in sp.webhooks {
            invariant(names.insert(w.name).inserted && !w.name.isEmpty, "webhook name \(w.name) accepted twice or empty")
            invariant(w.webhookKey.isEmpty || keys.insert(w.webhookKey).inserted, "one webhookKey accepted for two webhooks")
            actions += w.actions
            switch w.lookup.source {
            case .fixed(let rows):
                _ = DatasetReply.response(rows.first?.fields ?? [], emptyMessage: w.emptyMessage).cgiBytes
                _ = DatasetReply.candidates(rows.compactMap { $0.fields.first?.value }, emptyMessage: w.emptyMessage).cgiBytes
            case .csv(let path, _, _), .sqlite(let path, _, _):
                invariant(path.hasPrefix("/"), "a lookup path is not absolute: \(path)")
            case .command(let argv, let timeout, _):
                invariant(argv.first?.hasPrefix("/") == true, "a lookup command that is not an absolute path: \(argv)")
                invariant((1...LookupSettings.maxCommandTimeout).contains(timeout), "a lookup command timeout of \(timeout)")
            case .none:
                invariant(w.kind == .send, "a \(w.kind) webhook without a source")
            }
        }
    }
    for action in actions {
        switch action {
        case .append(let a):
            invariant(a.path.description.hasPrefix("/"), "an append path is not absolute: \(a.path)")
            _ = try? a.path.render { _ in "../x" }
        case .mail(let m):
            invariant(!m.to.isEmpty, "a mail action without recipients")
            _ = m.subject.render(fuzzContext)
            _ = m.body.render(fuzzContext)
        case .command(let c):
            invariant(c.argv.first?.hasPrefix("/") == true, "a command that is not an absolute path: \(c.argv)")
            invariant((1...300).contains(c.timeout), "a command timeout of \(c.timeout)")
        }
    }
    return 0
}
