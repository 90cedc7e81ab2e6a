import Glibc

/// Walks a parsed config, collecting every problem with its key path instead of
/// stopping at the first, so `chathooks check` can list them all at once.
struct ConfigReader {
    var problems: [String] = []
    var warnings: [String] = []
    let directory: String
    let environment: (String) -> String?

    /// A block the receivers skip (`sink`, `admin`), decoded by `decode` from
    /// the file at `path`; nil when the file has none. Problems throw.
    static func block<T>(_ name: String, configPath path: String, environment: @escaping (String) -> String?,
                         _ decode: (JSONValue, inout ConfigReader) -> T) throws(ConfigError) -> T? {
        let bytes: [UInt8]
        do { bytes = try Files.read(path, limit: 4 << 20) } catch { throw ConfigError(path: path, problems: ["\(error)"], kind: .unreadable) }
        guard let document = try? JSONParser.parse(bytes, mode: .json5), case .object(let root) = document else {
            throw ConfigError(path: path, problems: ["the configuration cannot be read as JSON5 (run: chathooks check)"])
        }
        guard let value = root[name] else { return nil }
        let absolute = path.hasPrefix("/") ? path : Files.resolve(path, against: ConfigLoader.currentDirectory())
        var r = ConfigReader(directory: Files.directoryName(absolute), environment: environment)
        let settings = decode(value, &r)
        guard r.problems.isEmpty else { throw ConfigError(path: path, problems: r.problems) }
        return settings
    }

    mutating func problem(_ path: String, _ message: String) {
        problems.append(path.isEmpty ? message : "\(path): \(message)")
    }

    /// The value as an object, reporting keys that are not in `allowed` (a typo
    /// such as `jounral` would otherwise be silently ignored).
    mutating func object(_ value: JSONValue?, _ path: String, allowed: [String]) -> JSONObject? {
        guard let value else { return nil }
        guard case .object(let object) = value else {
            problem(path, "must be an object, not \(value.typeName)")
            return nil
        }
        for member in object.members where !allowed.contains(member.key) {
            problem(join(path, member.key), "unknown key (expected one of: \(allowed.joined(separator: ", ")))")
        }
        return object
    }

    mutating func string(_ object: JSONObject, _ key: String, _ path: String, required: Bool = false, nonEmpty: Bool = true) -> String? {
        // The key path is built only for a problem: reading a valid config builds none.
        guard let value = object[key] else {
            if required { problem(join(path, key), "is required") }
            return nil
        }
        guard case .string(let s) = value else {
            problem(join(path, key), "must be a string, not \(value.typeName)")
            return nil
        }
        if nonEmpty && s.isEmpty {
            problem(join(path, key), "must not be empty")
            return nil
        }
        return s
    }

    mutating func bool(_ object: JSONObject, _ key: String, _ path: String, default fallback: Bool) -> Bool {
        guard let value = object[key] else { return fallback }
        guard case .bool(let b) = value else {
            problem(join(path, key), "must be true or false, not \(value.typeName)")
            return fallback
        }
        return b
    }

    mutating func integer(_ object: JSONObject, _ key: String, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let value = object[key] else { return nil }
        guard case .number(let text) = value, let n = Int(text) else {
            problem(join(path, key), "must be a whole number, not \(value.typeName == "a number" ? "a fraction" : value.typeName)")
            return nil
        }
        guard range.contains(n) else {
            problem(join(path, key), "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return n
    }

    mutating func array(_ object: JSONObject, _ key: String, _ path: String, required: Bool = false) -> [JSONValue]? {
        guard let value = object[key] else {
            if required { problem(join(path, key), "is required") }
            return nil
        }
        guard case .array(let a) = value else {
            problem(join(path, key), "must be an array, not \(value.typeName)")
            return nil
        }
        return a
    }

    /// A secret written inline (`"s3cret"`), or taken from the environment
    /// (`{ env: "NAME" }`) or a file (`{ file: "secrets/token" }`, trailing
    /// newline removed). Messages name where it was looked for, never its value.
    mutating func secret(_ value: JSONValue?, _ path: @autoclosure () -> String) -> String? {
        // An inline secret, the usual case, needs no key path (the caller's is
        // often built by interpolation): only the other cases build it.
        if case .string(let s)? = value, !s.isEmpty { return s }
        return secret(value, at: path())
    }

    private mutating func secret(_ value: JSONValue?, at path: String) -> String? {
        guard let value else {
            problem(path, "is required")
            return nil
        }
        switch value {
        case .string(let s):
            if s.isEmpty { problem(path, "must not be empty"); return nil }
            return s
        case .object:
            guard let object = object(value, path, allowed: ["env", "file"]) else { return nil }
            let env = string(object, "env", path)
            let file = string(object, "file", path)
            if let env, file == nil {
                // The web server sets these per request, from what the client
                // sends: a secret read from one would be whatever it says.
                if let why = RequestVariableNames.clientControlled(env) {
                    problem(path, "\(env) \(why): it cannot hold a secret (set the secret in a variable of your own, or use { file: … })")
                    return nil
                }
                guard let s = environment(env), !s.isEmpty else {
                    problem(path, "environment variable \(env) is not set or empty")
                    return nil
                }
                return s
            }
            if let file, env == nil {
                guard var text = textFile(file, "secret file", limit: 64 << 10, at: path) else { return nil }
                // By bytes: "\r\n" is one Character, which hasSuffix("\n") does not see.
                while let last = text.text.utf8.last, last == 0x0A || last == 0x0D { text.text.removeLast() }
                guard !text.text.isEmpty else { problem(path, "secret file \(text.path) is empty"); return nil }
                return text.text
            }
            problem(path, "must name exactly one of env or file")
            return nil
        default:
            problem(path, "must be a string or { env: \"NAME\" } or { file: \"path\" }, not \(value.typeName)")
            return nil
        }
    }

    /// A UTF-8 text file named in the config (relative to its folder), with
    /// its full path; nil, with a problem at `path`, when it cannot be read or
    /// is not UTF-8. `what` names it in the problem (`secret file`, `template`).
    mutating func textFile(_ file: String, _ what: String, limit: Int, at path: String) -> (path: String, text: String)? {
        let full = Files.resolve(file, against: directory)
        do {
            let bytes = try Files.read(full, limit: limit)
            guard firstInvalidUTF8Offset(bytes) == nil else {
                problem(path, "\(what) \(full) is not UTF-8 text")
                return nil
            }
            return (full, String(decoding: bytes, as: UTF8.self))
        } catch {
            problem(path, "cannot read \(what): \(error)")
            return nil
        }
    }

    func join(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }
}
