import Glibc

/// Keeps decoded configurations in a long-running (FastCGI) process and
/// decodes a file again when it changes: its modification time, size or inode
/// (an editor's rename-into-place) differ from what was read, or a SIGHUP asked
/// for it. A CGI process reads the file once, as it must.
public final class ConfigCache {
    struct Stamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var seconds: Int
        var nanoseconds: Int
    }

    private var entries: [String: (stamp: Stamp?, config: ConfigOutcome)] = [:]
    private let environment: (String) -> String?
    /// Set (from a SIGHUP) to decode every file again on the next request.
    public var reloadRequested = false

    public init(environment: @escaping (String) -> String? = ConfigLoader.processEnvironment) {
        self.environment = environment
    }

    public func config(at path: String) -> ConfigOutcome {
        if reloadRequested {
            entries.removeAll()
            reloadRequested = false
        }
        let stamp = ConfigCache.stamp(path)
        if let cached = entries[path], let stamp, cached.stamp == stamp {
            return cached.config
        }
        let environment = self.environment
        let result = ConfigOutcome { () throws(ConfigError) in try ConfigLoader.load(path: path, environment: environment) }
        // A missing file has no stamp and is looked for again next time.
        entries[path] = (stamp, result)
        return result
    }

    static func stamp(_ path: String) -> Stamp? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Stamp(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int64(st.st_size),
                     seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec)
    }
}
