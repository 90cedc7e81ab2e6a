/// Compares two byte strings in time that depends only on their lengths, not on
/// where they first differ.
public func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    let a = Array(a)
    let b = Array(b)
    var difference = UInt(bitPattern: a.count ^ b.count)
    let n = max(a.count, b.count)
    for i in 0..<n {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        difference |= UInt(x ^ y)
    }
    return difference == 0
}
