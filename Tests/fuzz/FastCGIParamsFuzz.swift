// Fuzz target: FastCGI parameter handling. The input, split at NUL bytes, is
// a request's `NAME=value` block (what libfcgi hands over as envp, or the CGI
// environment): copied by Request.variables(fromBlock:), checked against a
// plain model of it, then read through every accessor the pipeline uses.
import Glibc
@testable import ChatHooksCore

let fuzzAuthenticator = TokenAuthenticator(header: "X-Chathooks-Token", tokens: ["0123456789abcdef0123456789abcdef"])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFastCGIParams(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = fuzzInput(data, size)
    // The entries as C strings, as libfcgi lays them out: one allocation each.
    let entries = input.split(separator: 0, omittingEmptySubsequences: false).map { Array($0) }
    let copies: [UnsafeMutablePointer<CChar>] = entries.map { entry in
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: entry.count + 1)
        entry.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { p.initialize(from: $0.baseAddress!, count: entry.count) }
        }
        p[entry.count] = 0
        return p
    }
    defer { copies.forEach { $0.deallocate() } }
    var block: [UnsafeMutablePointer<CChar>?] = copies + [nil]
    var variables = block.withUnsafeMutableBufferPointer { Request.variables(fromBlock: $0.baseAddress!) }

    // The model: entries with a `=`, split at the first; a name's first entry wins.
    var model: [(name: [UInt8], value: [UInt8])] = []
    for entry in entries {
        guard let eq = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
        model.append((Array(entry[..<eq]), Array(entry[(eq + 1)...])))
    }
    invariant(variables.count == model.count, "\(variables.count) variables for \(model.count) entries")
    for (k, m) in model.enumerated() {
        let name = String(decoding: m.name, as: UTF8.self)
        // Names that are not UTF-8 do not survive as a String key; skip them.
        guard Array(name.utf8) == m.name else { continue }
        let first = model.firstIndex { $0.name == m.name }!
        invariant(variables[name] == String(decoding: model[first].value, as: UTF8.self),
                  "variables[\(name)] is not the value of its first entry (entry \(k))")
    }

    // What the pipeline asks of a request.
    var request = Request(variables: variables)
    _ = request.method
    _ = request.remoteAddress
    _ = request.pathInfo
    _ = Router.byPath.kind(for: request)
    if let p = request.variables["PATH_INFO"] { _ = ReceiverKind(path: p) }
    do {
        let length = try BodyDecoder.contentLength(request, limit: 1 << 20)
        invariant(length >= 0 && length <= 1 << 20, "Content-Length read as \(length)")
        invariant(String(length) == request.contentLength!.drop { $0 == "0" }.description || length == 0,
                  "Content-Length \(request.contentLength!) read as \(length)")
    } catch {
        checkErrorResponse(error, .form)
    }
    invariant(BodyDrain.limit(announced: request.contentLength) <= BodyDrain.maxDrain, "drain past its limit")
    do { _ = try BodyDecoder.kind(request) } catch { checkErrorResponse(error, .chatStart) }
    do { try fuzzAuthenticator.authenticate(request) } catch { checkErrorResponse(error, .chatEnd) }
    for header in ["X-Chathooks-Token", "Content-Encoding", "x-forwarded-for"] {
        _ = request.variables[Request.metaVariableName(forHeader: header)]
    }
    _ = ConfigLoader.locate(environment: { request.variables[$0] })

    // Setting and removing entries keeps every other lookup as it was. (Only
    // for a name the block holds once: `append` replaces the first entry of a
    // name, so a second one would show through. Nothing sets a variable of a
    // block today.)
    if let victim = model.first.map({ String(decoding: $0.name, as: UTF8.self) }), Array(victim.utf8) == model[0].name,
       model.filter({ $0.name == model[0].name }).count == 1 {
        let before = model.map { String(decoding: $0.name, as: UTF8.self) }.filter { $0 != victim }.map { ($0, variables[$0]) }
        variables[victim] = "replaced"
        invariant(variables[victim] == "replaced", "a set variable reads back differently")
        variables[victim] = nil
        invariant(variables[victim] == nil, "a removed variable is still there")
        for (name, value) in before { invariant(variables[name] == value, "removing \(victim) changed \(name)") }
        request.variables = variables
        _ = request.contentLength
    }
    return 0
}
