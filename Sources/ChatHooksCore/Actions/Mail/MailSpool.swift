import Glibc

/// Messages that could not be handed to sendmail, one file each:
/// `<request id>-<n>.mail`, holding a JSON line (sendmail, sender, recipients)
/// and then the message. Written to a temporary name, fsynced, renamed, and
/// the folder fsynced: a spool file is always whole, and survives a power cut. `retry` is safe to run from cron and twice at
/// once: a file is sent only under its exclusive lock, and removed only after
/// sendmail accepted it.
public struct MailSpool {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    public func store(name: String, envelope: MailEnvelope, message: [UInt8]) throws(SystemError) {
        try Files.makeDirectories(directory, mode: 0o700)
        var meta = JSONObject()
        meta.append("sendmail", .string(envelope.sendmail))
        meta.append("sender", .string(envelope.sender))
        meta.append("recipients", .array(envelope.recipients.map { .string($0) }))
        meta.append("timeout", .number(String(envelope.timeout)))
        let bytes = JSONWriter.serialize(.object(meta)) + [0x0A] + message
        // Whole or not at all (the temporary name does not end in .mail: retry never sees it).
        try Files.replace("\(directory)/\(name).mail", with: bytes, mode: 0o600, durable: true)
    }

    public struct Report: Equatable {
        public var sent: [String] = []
        public var failed: [String] = []
        public var busy: [String] = []
        /// Why each of `failed` is still waiting, by name.
        public var reasons: [String: String] = [:]
    }

    /// Tries every spooled message once.
    public func retry() -> Report {
        var report = Report()
        for name in spooled() {
            let path = "\(directory)/\(name)"
            let fd = open(path, O_RDWR | O_CLOEXEC)
            guard fd >= 0 else { continue }  // sent and removed by another retry
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
                report.busy.append(name)
                continue
            }
            // Another retry may have sent and removed it between our open and lock.
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_nlink > 0 else { continue }
            guard let (envelope, message) = read(path) else {
                logError("retry: \(path) is not a spool file; left in place")
                report.failed.append(name)
                report.reasons[name] = "not a spool file"
                continue
            }
            switch envelope.send(message) {
            case .success:
                unlink(path)
                report.sent.append(name)
            case .failure(let reason):
                logError("retry: \(name): \(reason); kept for the next retry")
                report.failed.append(name)
                report.reasons[name] = "\(reason)"
            }
        }
        return report
    }

    func spooled() -> [String] {
        Files.names(in: directory).filter { $0.hasSuffix(".mail") && !$0.hasPrefix(".") }.sorted()
    }

    func read(_ path: String) -> (MailEnvelope, [UInt8])? {
        guard let bytes = try? Files.read(path, limit: 64 << 20),
              let newline = bytes.firstIndex(of: 0x0A),
              let meta = try? JSONParser.parse(Array(bytes[..<newline])),
              let sendmail = meta["sendmail"]?.stringValue, let sender = meta["sender"]?.stringValue,
              let recipients = meta["recipients"]?.arrayValue?.compactMap(\.stringValue), !recipients.isEmpty
        else { return nil }
        let timeout = meta["timeout"]?.scalarText.flatMap { Int($0) } ?? ActionSettings.defaultTimeout
        return (MailEnvelope(sendmail: sendmail, sender: sender, recipients: recipients, timeout: timeout),
                Array(bytes[(newline + 1)...]))
    }
}
