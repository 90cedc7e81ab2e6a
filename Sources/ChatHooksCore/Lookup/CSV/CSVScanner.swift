/// RFC 4180 on raw bytes: quoted fields with `""` escapes, commas and line
/// breaks inside quotes, CRLF or LF line ends (a CR alone is data), a last line
/// without a line end; blank lines are skipped. Fields are decoded afterwards:
/// the bytes 22 2C 0D 0A are never the trail byte of a CP932 character, so
/// the same scan serves both encodings.
struct CSVScanner {
    let buffer: UnsafeBufferPointer<UInt8>
    /// The file offset of `buffer[0]`.
    let base: Int
    /// Whether the buffer ends where the file does. When not, a record that
    /// runs to the end of the buffer is incomplete: `next` returns nil and
    /// leaves `position` where that record began, to read more and retry.
    let atEnd: Bool
    var position: Int
    var line: Int

    init(_ buffer: UnsafeBufferPointer<UInt8>, base: Int = 0, atEnd: Bool = true, position: Int = 0, line: Int = 1) {
        self.buffer = buffer
        self.base = base
        self.atEnd = atEnd
        self.position = position
        self.line = line
    }

    enum Outcome { case record, end, needMore }

    /// Reads the next record into `record`.
    mutating func next(into record: inout CSVRecord) throws(LookupError) -> Outcome {
        let n = buffer.count
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr: UInt8 = 0x0D, lf: UInt8 = 0x0A
        // Blank lines.
        while position < n {
            if buffer[position] == lf {
                position += 1
            } else if buffer[position] == cr && position + 1 < n && buffer[position + 1] == lf {
                position += 2
            } else if buffer[position] == cr && position + 1 == n && !atEnd {
                return .needMore
            } else {
                break
            }
            line += 1
        }
        if position == n { return atEnd ? .end : .needMore }
        record.clear()
        record.offset = base + position
        record.line = line
        var i = position
        var lines = 0
        while true {
            // One field, starting at i.
            record.starts.append(base + i)
            if i < n && buffer[i] == quote {
                let openedOn = line + lines
                i += 1
                while true {
                    guard i < n else {
                        if !atEnd { return .needMore }
                        throw LookupError("unterminated quoted field from line \(openedOn)")
                    }
                    // The run up to the next quote, in one copy.
                    var j = i
                    while j < n && buffer[j] != quote {
                        if buffer[j] == lf { lines += 1 }
                        j += 1
                    }
                    if j > i {
                        record.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<j]))
                        i = j
                        continue
                    }
                    if buffer[i] == quote {
                        if i + 1 < n && buffer[i + 1] == quote {
                            record.bytes.append(quote)
                            i += 2
                            continue
                        }
                        if i + 1 == n && !atEnd { return .needMore }
                        i += 1
                        break
                    }
                }
            }
            // Unquoted bytes, or what follows a closing quote (kept, as most readers do).
            var j = i
            while j < n {
                let b = buffer[j]
                if b == comma || b == lf || (b == cr && (j + 1 == n || buffer[j + 1] == lf)) { break }
                j += 1
            }
            if j > i { record.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<j])) }
            i = j
            record.ends.append(record.bytes.count)
            if i == n {
                if !atEnd { return .needMore }
                position = n
                line += lines
                return .record
            }
            let b = buffer[i]
            if b == comma {
                i += 1
                continue
            }
            if b == cr {
                if i + 1 == n && !atEnd { return .needMore }
                i += 1
            }
            if i < n && buffer[i] == lf { i += 1 }
            position = i
            line += lines + 1
            return .record
        }
    }
}
