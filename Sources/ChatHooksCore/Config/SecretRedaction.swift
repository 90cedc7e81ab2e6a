/// Every secret a configuration holds, kept out of what we print: a message
/// that quotes a file or a program's output (a CSV "header" that is really a
/// secret file, a script that prints its API token) has each of them replaced
/// by `[secret]` before it reaches a log line or `chathooks check`.
extension Config {
    /// Chat Dealer's tokens, each SPALO webhook's key and client secret, and
    /// the values given to commands (actions and lookups) in their `env`.
    package var secretValues: [String] {
        var out: [String] = chatdealer?.tokens ?? []
        var actions: [ActionSettings] = chatdealer?.events.all.flatMap(\.actions) ?? []
        for w in spalo?.webhooks ?? [] {
            out += [w.webhookKey, w.clientSecret]
            actions += w.actions
            if case .command(_, _, let env) = w.lookup.source { out += env.values }
        }
        for case .command(let c) in actions { out += c.environment.values }
        return out
    }

    /// `text` with every configured secret replaced by `[secret]`.
    package func redacting(_ text: String) -> String {
        Redaction.apply(text, secretValues)
    }
}

enum Redaction {
    /// Secrets shorter than this are not looked for: they would match ordinary words.
    static let minimumLength = 6

    static func apply(_ text: String, _ secrets: [String]) -> String {
        var out = text
        // Longest first: a secret that contains another is replaced whole.
        for secret in secrets.filter({ $0.utf8.count >= minimumLength }).sorted(by: { $0.utf8.count > $1.utf8.count })
        where out.contains(secret) {
            out = out.replacingBytes(secret, with: "[secret]")
        }
        return out
    }
}
