/// A CGI process answers one request and exits (`CGITransport.run` ends in
/// `exit`, so what is still in scope there is never destroyed). The accepted
/// event goes out of scope earlier, inside the pipeline; freeing its payload
/// object by object costs about a tenth of a small request's instructions, and
/// the kernel takes the whole heap back a moment later anyway. So under CGI it
/// is parked instead: retained once more and never released, which keeps
/// everything it refers to alive. A FastCGI server lives on and never parks
/// anything: `parking` stays false there.
enum Teardown {
    nonisolated(unsafe) static var parking = false

    static func park(_ value: AcceptedEvent) {
        if parking { _ = Unmanaged.passRetained(value) }
    }
}
