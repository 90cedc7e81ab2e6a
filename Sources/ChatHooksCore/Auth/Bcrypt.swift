import CCrypt
import Glibc

/// bcrypt verification through the system's libxcrypt (`crypt_r`).
public enum Bcrypt {
    /// Costs above this are refused before hashing: each step doubles the work,
    /// and a crafted `$2b$31$` hash would otherwise pin a CPU for hours.
    public static let maxCost = 12
    public static let minCost = 4

    public enum Failure: Error, Equatable, Sendable {
        case malformed
        case unsupportedVariant
        case costOutOfRange(Int)
        case mismatch
    }

    /// Checks the hash's shape: `$2a$`, `$2b$` or `$2y$`, two cost digits, then
    /// 53 characters of bcrypt's base 64. Returns the cost.
    public static func parse(_ hash: String) throws(Failure) -> Int {
        let b = Array(hash.utf8)
        guard b.count == 60, b[0] == UInt8(ascii: "$"), b[1] == UInt8(ascii: "2"), b[3] == UInt8(ascii: "$"),
              b[6] == UInt8(ascii: "$") else { throw .malformed }
        guard b[2] == UInt8(ascii: "a") || b[2] == UInt8(ascii: "b") || b[2] == UInt8(ascii: "y") else {
            throw .unsupportedVariant
        }
        guard (0x30...0x39).contains(b[4]), (0x30...0x39).contains(b[5]) else { throw .malformed }
        let alphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        for c in b[7...] where !alphabet.contains(c) { throw .malformed }
        let cost = Int(b[4] - 0x30) * 10 + Int(b[5] - 0x30)
        guard cost >= minCost && cost <= maxCost else { throw .costOutOfRange(cost) }
        return cost
    }

    /// True when `hash` is a bcrypt hash of `secret`.
    public static func verify(secret: String, hash: String) throws(Failure) {
        _ = try parse(hash)
        // struct crypt_data is ~32 KiB: keep it off the stack, zeroed as crypt_r asks.
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer { data.deallocate() }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_r(secret, hash, data) else { throw .malformed }
        let computed = String(cString: result)
        // libxcrypt reports failure as a string starting with '*'.
        guard !computed.hasPrefix("*") else { throw .malformed }
        guard constantTimeEquals(computed.utf8, hash.utf8) else { throw .mismatch }
    }

    /// A new bcrypt hash (`$2b$`) of `secret` at `cost`, with a random salt
    /// from libxcrypt (the kernel's random source).
    public static func hash(secret: String, cost: Int) -> String? {
        var setting = [CChar](repeating: 0, count: Int(CRYPT_GENSALT_OUTPUT_SIZE))
        guard crypt_gensalt_rn("$2b$", UInt(cost), nil, 0, &setting, Int32(setting.count)) != nil else { return nil }
        let data = UnsafeMutablePointer<crypt_data>.allocate(capacity: 1)
        defer { data.deallocate() }
        memset(data, 0, MemoryLayout<crypt_data>.size)
        guard let result = crypt_r(secret, setting, data) else { return nil }
        let hash = String(cString: result)
        return hash.hasPrefix("$2b$") && hash.utf8.count == 60 ? hash : nil
    }
}
