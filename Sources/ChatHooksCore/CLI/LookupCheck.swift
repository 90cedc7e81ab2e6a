import Glibc

/// `chathooks check` for each SPALO webhook's source: what would make a
/// lookup fail at the first request is a problem now. (Checked here, not while
/// decoding: decoding runs on every CGI request.)
enum LookupCheck {
    /// Problems (each stops `check` with status 1), and what each source holds.
    static func run(_ config: Config) -> (problems: [String], notes: [String]) {
        var problems: [String] = []
        var notes: [String] = []
        for (i, w) in (config.spalo?.webhooks ?? []).enumerated() {
            let at = "spalo.webhooks[\(i)] (\(w.name)).source"
            let lookup = w.lookup
            switch lookup.source {
            case .csv(let path, _, _), .sqlite(let path, _, _):
                if let exposed = ConfigExposure.checkForCLI(dataPath: path) { problems.append("\(at): may be downloadable: \(exposed)") }
            default:
                break
            }
            switch lookup.source {
            case .csv(let path, let encoding, let match):
                let source = CSVSource(path: path, encoding: encoding, matchColumn: match, cacheDirectory: nil)
                switch source.check() {
                case .failure(let e): problems.append("\(at): \(e.message)")
                case .success(let summary):
                    notes.append("\(w.name): \(path): \(summary)")
                    if let header = try? source.header() {
                        var wanted = lookup.columns.map(\.name)
                        if let c = lookup.candidate { wanted.append(c) }
                        for name in wanted where !header.contains(name) {
                            problems.append("\(at): \(path) has no column \"\(name)\" (its columns: \(header.joined(separator: ", ")))")
                        }
                    }
                }
            case .sqlite(let path, let query, let parameters):
                let expected = (lookup.key == nil ? [] : ["key"]) + parameters.map(\.name)
                switch SQLiteSource(path: path, query: query).check(expected: expected) {
                case .failure(let e): problems.append("\(at): \(e.message)")
                case .success(let summary): notes.append("\(w.name): \(summary)")
                }
            case .command(let argv, _, _):
                if access(argv[0], X_OK) != 0 {
                    problems.append("\(at).argv[0]: \(argv[0]) is not an executable file")
                }
            case .fixed, .none:
                break
            }
        }
        return (problems, notes)
    }
}
