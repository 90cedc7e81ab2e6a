/// Compares two byte strings in time that depends only on their lengths, not on
/// where they first differ.
public func constantTimeEquals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
    // Straight over the bytes when both are contiguous (a String's UTF-8 is): no copies.
    if let result = a.withContiguousStorageIfAvailable({ x in
        b.withContiguousStorageIfAvailable { y in constantTimeEquals(bytes: x, y) }
    }), let result {
        return result
    }
    return Array(a).withUnsafeBufferPointer { x in Array(b).withUnsafeBufferPointer { y in constantTimeEquals(bytes: x, y) } }
}

func constantTimeEquals(bytes a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    var difference = UInt(bitPattern: a.count ^ b.count)
    let n = max(a.count, b.count)
    for i in 0..<n {
        let x = i < a.count ? a[i] : 0
        let y = i < b.count ? b[i] : 0
        difference |= UInt(x ^ y)
    }
    return difference == 0
}
