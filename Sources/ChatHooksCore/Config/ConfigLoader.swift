import Glibc

/// Finds, reads and decodes the configuration.
public enum ConfigLoader {
    public static let fileName = "chathooks.json5"

    /// `CHATHOOKS_CONFIG` when set, else `chathooks.json5` beside the executable.
    public static func locate(environment: (String) -> String?) -> String {
        if let explicit = environment("CHATHOOKS_CONFIG"), !explicit.isEmpty { return explicit }
        return besideExecutable
    }

    /// `chathooks.json5` in the executable's folder, found once per process
    /// (a FastCGI server would otherwise read /proc/self/exe per request).
    static let besideExecutable: String = {
        let exe = Files.executablePath() ?? CommandLine.arguments.first ?? "."
        return Files.resolve(fileName, against: Files.directoryName(exe))
    }()

    /// With `strict`, a problem in either sender's block fails the whole file
    /// too (for the admin commands); receivers load leniently.
    public static func load(path: String, strict: Bool = false,
                            environment: @escaping (String) -> String? = processEnvironment) throws(ConfigError) -> Config {
        let bytes: [UInt8]
        do {
            bytes = try Files.read(path, limit: 4 << 20)
        } catch {
            if error.errno == ENOENT {
                throw ConfigError(path: path, problems: ["no configuration file here (set CHATHOOKS_CONFIG, or put \(fileName) beside the executable)"],
                                  kind: .missing)
            }
            throw ConfigError(path: path, problems: ["\(error)"], kind: .unreadable)
        }
        return try decode(bytes, path: path, strict: strict, environment: environment)
    }

    public static func decode(_ bytes: [UInt8], path: String, strict: Bool = false,
                              environment: @escaping (String) -> String? = processEnvironment) throws(ConfigError) -> Config {
        let absolute = path.hasPrefix("/") ? path : Files.resolve(path, against: currentDirectory())
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes, mode: .json5)
        } catch {
            throw ConfigError(path: path, problems: ["syntax error at \(error)" + ConfigHints.hint(for: error, in: bytes)])
        }
        var reader = ConfigReader(directory: Files.directoryName(absolute), environment: environment)
        let config = ConfigDecoder.decode(document, path: absolute, reader: &reader)
        guard reader.problems.isEmpty else {
            return try withProblems(config, reader.problems, path: path, strict: strict)
        }
        return config
    }

    /// A problem inside one sender's block stops that sender only; any other
    /// (or, with `strict`, any at all) fails the file. Out of line: a valid
    /// file, what every request reads, never comes here.
    @inline(never)
    static func withProblems(_ decoded: Config, _ problems: [String], path: String, strict: Bool) throws(ConfigError) -> Config {
        var config = decoded
        var global: [String] = []
        for problem in problems {
            if ConfigLoader.isIn("chatdealer", problem) {
                config.chatdealerProblems.append(problem)
            } else if ConfigLoader.isIn("spalo", problem) {
                config.spaloProblems.append(problem)

            } else {
                global.append(problem)
            }
        }
        guard global.isEmpty, !strict else { throw ConfigError(path: path, problems: problems) }
        return config
    }

    /// True when `problem` ("key.path: message") is about the `block` section.
    static func isIn(_ name: String, _ problem: String) -> Bool {
        guard problem.hasPrefix(name) else { return false }
        let rest = problem.utf8.dropFirst(name.utf8.count)
        return rest.first == UInt8(ascii: ".") || rest.first == UInt8(ascii: ":") || rest.first == UInt8(ascii: "[")
    }

    public static func processEnvironment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
