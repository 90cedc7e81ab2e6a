/// SPALO's protection, as its developer pages describe it: the fixed
/// `webhookKey` must match, and `secretHash` must be a bcrypt hash of the
/// client secret (a new hash on every call).
public struct SpaloAuthenticator: Sendable {
    public var webhookKey: String
    public var clientSecret: String

    public enum Outcome: Equatable {
        /// No `webhookKey` at all: SPALO checking the URL when it is registered.
        case urlCheck
        case authenticated
    }

    public func authenticate(_ payload: JSONObject) throws(HTTPError) -> Outcome {
        guard let keyValue = payload["webhookKey"] else { return .urlCheck }
        guard case .string(let key) = keyValue else {
            throw HTTPError.unauthorized("webhookKey must be a string")
        }
        guard constantTimeEquals(key.utf8, webhookKey.utf8) else {
            throw HTTPError.unauthorized("webhookKey does not match")
        }
        try SpaloAuthenticator.verify(payload, clientSecret: clientSecret)
        return .authenticated
    }

    /// `secretHash` against a client secret (the webhook key already matched).
    static func verify(_ payload: JSONObject, clientSecret: String) throws(HTTPError) {
        guard let hashValue = payload["secretHash"] else { throw HTTPError.unauthorized("secretHash is missing") }
        guard case .string(let hash) = hashValue else { throw HTTPError.unauthorized("secretHash must be a string") }
        do {
            try Bcrypt.verify(secret: clientSecret, hash: hash)
        } catch {
            switch error {
            case .malformed: throw HTTPError.unauthorized("secretHash is not a bcrypt hash")
            case .unsupportedVariant: throw HTTPError.unauthorized("secretHash is not a $2a$, $2b$ or $2y$ bcrypt hash")
            case .costOutOfRange(let cost):
                throw HTTPError.unauthorized("secretHash has cost \(cost); accepted costs are \(Bcrypt.minCost) to \(Bcrypt.maxCost)")
            case .mismatch: throw HTTPError.unauthorized("secretHash does not match the client secret")
            }
        }
    }
}
