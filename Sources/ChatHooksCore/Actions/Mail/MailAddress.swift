/// An e-mail address (RFC 5322 `addr-spec` in its dot-atom form, which is what
/// real addresses use), with an optional display name. Anything else — quoted
/// local parts, comments, several addresses, control characters — is refused,
/// so an address from a request can never carry a second recipient or a header.
public struct MailAddress: Sendable, Equatable, CustomStringConvertible {
    public var displayName: String?
    public var address: String

    public var description: String { displayName.map { "\($0) <\(address)>" } ?? address }

    /// `user@example.jp` or `Name <user@example.jp>`.
    public init?(_ text: String) {
        let t = text.trimmingASCIISpaces
        if t.hasSuffix(">"), let open = t.lastIndex(of: "<") {
            var name = String(t[..<open]).trimmingASCIISpaces
            let quoted = name.hasPrefix("\"") && name.hasSuffix("\"") && name.count >= 2
            if quoted { name = String(name.dropFirst().dropLast()) }
            // No controls, quotes or backslashes; unquoted, none of RFC 5322's specials either.
            let specials: Set<Unicode.Scalar> = ["<", ">", "@", ",", ";", ":", "[", "]", "(", ")"]
            guard name.unicodeScalars.allSatisfy({
                $0.value >= 0x20 && $0.value != 0x7F && $0 != "\"" && $0 != "\\" && (quoted || !specials.contains($0))
            }) else { return nil }
            let inner = String(t[t.index(after: open)..<t.index(before: t.endIndex)])
            guard MailAddress.isAddrSpec(inner) else { return nil }
            self.displayName = name.isEmpty ? nil : name
            self.address = inner
        } else {
            guard MailAddress.isAddrSpec(t) else { return nil }
            self.displayName = nil
            self.address = t
        }
    }

    static let atext = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".utf8)

    /// dot-atom `@` domain, at most 254 bytes; the domain's labels are letters,
    /// digits and hyphens.
    public static func isAddrSpec(_ s: String) -> Bool {
        let bytes = Array(s.utf8)
        guard bytes.count <= 254, let at = bytes.lastIndex(of: UInt8(ascii: "@")) else { return false }
        let local = bytes[..<at], domain = bytes[(at + 1)...]
        guard !local.isEmpty, local.count <= 64, !domain.isEmpty else { return false }
        for atom in local.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !atom.isEmpty, atom.allSatisfy({ atext.contains($0) }) else { return false }
        }
        let labels = domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        for label in labels {
            guard !label.isEmpty, label.count <= 63, label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-"),
                  label.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == UInt8(ascii: "-") })
            else { return false }
        }
        return true
    }
}
