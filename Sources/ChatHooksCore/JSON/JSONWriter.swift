/// Writes compact JSON on one line (so one value is one JSON Lines record):
/// non-ASCII as UTF-8, control characters and U+2028/U+2029 escaped.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public static func serialize(_ value: JSONValue) -> [UInt8] {
        var writer = JSONWriter()
        writer.write(value)
        return writer.bytes
    }

    public static func string(_ value: JSONValue) -> String {
        String(decoding: serialize(value), as: UTF8.self)
    }

    public mutating func write(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let b): raw(b ? "true" : "false")
        case .number(let n): raw(n)
        case .string(let s): writeString(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                write(element)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let object):
            bytes.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                writeString(member.key)
                bytes.append(UInt8(ascii: ":"))
                write(member.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    public mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func writeString(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            bytes.reserveCapacity(bytes.count + utf8.count + 2)
            bytes.append(0x22)
            defer { bytes.append(0x22) }
            // Most strings need no escape at all: copy them in one go.
            if !JSONWriter.mayNeedEscape(utf8) {
                bytes.append(contentsOf: utf8)
                return
            }
            var i = 0
            while i < utf8.count {
                let b = utf8[i]
                switch b {
                case 0x22: bytes.append(0x5C); bytes.append(0x22)
                case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
                case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
                case 0x00..<0x20, 0x7F:
                    appendUnicodeEscape(UInt32(b))
                case 0xE2 where i + 2 < utf8.count && utf8[i + 1] == 0x80 && (utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9):
                    // U+2028 / U+2029: valid JSON, but they end lines in JavaScript and some log tools.
                    appendUnicodeEscape(utf8[i + 2] == 0xA8 ? 0x2028 : 0x2029)
                    i += 2
                default:
                    bytes.append(b)
                }
                i += 1
            }
        }
    }

    /// Whether `utf8` holds a byte the writer may escape: `"`, `\`, a control
    /// character, DEL, or 0xE2 (which starts U+2028 and U+2029). Eight bytes
    /// at a time, then byte by byte for the rest.
    static func mayNeedEscape(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        if let base = utf8.baseAddress {
            while i + 8 <= utf8.count {
                let w = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if hasByte(w ^ 0x2222_2222_2222_2222) || hasByte(w ^ 0x5C5C_5C5C_5C5C_5C5C) || hasByteBelow0x20(w)
                    || hasByte(w ^ 0x7F7F_7F7F_7F7F_7F7F) || hasByte(w ^ 0xE2E2_E2E2_E2E2_E2E2) { return true }
                i += 8
            }
        }
        while i < utf8.count {
            let b = utf8[i]
            if b < 0x20 || b == 0x22 || b == 0x5C || b == 0x7F || b == 0xE2 { return true }
            i += 1
        }
        return false
    }

    private mutating func appendUnicodeEscape(_ v: UInt32) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"),
                                  hex[Int(v >> 12 & 0xF)], hex[Int(v >> 8 & 0xF)],
                                  hex[Int(v >> 4 & 0xF)], hex[Int(v & 0xF)]])
    }
}
