import Glibc

/// `admin: { passwordHash, idleHours, allowPlainHTTP }`: the web console
/// (`chathooks` serves it under `admin/`). The receivers never read it (they
/// allow the key and skip it: a request of theirs decodes nothing more);
/// the console and `chathooks check` decode it from the file, as the sink
/// does its block.
public struct AdminSettings: Sendable {
    /// bcrypt (`chathooks passwd`).
    public var passwordHash = ""
    /// A session ends after this long without a request (8 hours by default).
    public var idleSeconds = 8 * 3600
    /// Logging in over plain HTTP from another machine is refused unless this
    /// is set (a TLS proxy in front that does not tell us so).
    public var allowPlainHTTP = false

    public init() {}
}

public enum AdminConfigDecoder {
    /// The block, or nil when the file has none (no console); problems throw, as for `check`.
    public static func admin(configPath path: String,
                             environment: @escaping (String) -> String? = ConfigLoader.processEnvironment) throws(ConfigError) -> AdminSettings? {
        try ConfigReader.block("admin", configPath: path, environment: environment) { value, r in decode(value, reader: &r) }
    }

    static func decode(_ value: JSONValue, reader r: inout ConfigReader) -> AdminSettings {
        var admin = AdminSettings()
        guard let a = r.object(value, "admin", allowed: ["passwordHash", "idleHours", "allowPlainHTTP"]) else { return admin }
        if a["passwordHash"] == nil {
            r.problem("admin.passwordHash", "is required: the console's password, as a bcrypt hash (make one with: chathooks passwd)")
        } else if let hash = r.secret(a["passwordHash"], "admin.passwordHash") {
            do throws(Bcrypt.Failure) {
                _ = try Bcrypt.parse(hash)
                admin.passwordHash = hash
            } catch {
                switch error {
                case .costOutOfRange(let cost):
                    r.problem("admin.passwordHash", "bcrypt cost \(cost) is outside \(Bcrypt.minCost)...\(Bcrypt.maxCost) (make one with: chathooks passwd)")
                default:
                    r.problem("admin.passwordHash", "is not a bcrypt hash ($2b$12$ and 53 more characters; make one with: chathooks passwd)")
                }
            }
        }
        if let hours = r.integer(a, "idleHours", "admin", range: 1...720) { admin.idleSeconds = hours * 3600 }
        admin.allowPlainHTTP = r.bool(a, "allowPlainHTTP", "admin", default: false)
        return admin
    }

}
