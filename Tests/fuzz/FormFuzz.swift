// Fuzz target: form decoding. The input is an
// application/x-www-form-urlencoded body: decoded as the pipeline decodes a
// body labelled as a form, checked against the form event (and the others),
// and re-encoded to check that decoding loses nothing.
@testable import ChatHooksCore

/// Percent-encodes every byte but the unreserved ones (the reference encoder).
func formEncode(_ s: String) -> [UInt8] {
    let hex = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.append(b)
        case 0x20:
            out.append(UInt8(ascii: "+"))
        default:
            out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xF)]]
        }
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzForm(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = fuzzInput(data, size)
    let request = Request(variables: Request.Variables([
        ("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", String(input.count)),
        ("CONTENT_TYPE", " Application/X-WWW-Form-URLEncoded ; charset=utf-8"),
    ]))
    do {
        invariant(try BodyDecoder.kind(request) == .form, "a form body not read as a form")
    } catch {
        invariant(false, "a form Content-Type was refused: \(error.message)")
    }

    // The decoder on its own: each field a string, in order, names unique.
    let direct: JSONObject
    do {
        direct = try FormURLDecoder.decode(input)
    } catch {
        checkErrorResponse(error, .form)
        _ = try? BodyDecoder.decode(input, as: .form)  // may still be JSON (a leading `{`)
        return 0
    }
    invariant(Set(direct.keys).count == direct.members.count, "a form field name appears twice")
    var reencoded: [UInt8] = []
    for member in direct.members {
        guard case .string(let value) = member.value else {
            invariant(false, "a form field decoded as \(member.value.typeName)"); return 0
        }
        if !reencoded.isEmpty { reencoded.append(UInt8(ascii: "&")) }
        reencoded += formEncode(member.key) + [UInt8(ascii: "=")] + formEncode(value)
    }
    do {
        invariant(try FormURLDecoder.decode(reencoded) == direct, "re-encoded form fields decode differently")
    } catch {
        invariant(false, "re-encoded form fields are refused: \(error.message)")
    }

    // What the pipeline does with a body labelled as a form.
    let object: JSONObject
    do {
        object = try BodyDecoder.decode(input, as: .form)
    } catch {
        checkErrorResponse(error, .form)
        return 0
    }
    for event in [ChatDealerEvent.form, .chatStart, .chatMessage] {
        do { try event.validate(object) } catch { checkErrorResponse(error, event.kind) }
    }
    var reader = FieldReader(object)
    do { _ = try SpaloDatasetRequest(&reader) } catch { checkErrorResponse(error, .spaloDataset) }
    return 0
}
