import Glibc

/// A configuration holds secrets; inside a web site's folder only an
/// `.htaccess` stops the web server from handing it out. FTP clients often
/// hide files that start with a dot and skip them on upload, so a bundle can
/// arrive without one. Under Apache (or LiteSpeed, which reads `.htaccess`
/// too) a receiver can see that: its configuration is beside the CGI program
/// (the bundle's layout, reachable by the web whatever links lead there) or
/// inside the document root, and no `.htaccess` from the configuration's
/// folder up denies access to it. It then refuses every call (fail closed, as
/// for placeholder secrets) until the file is protected. `chathooks check`
/// says the same.
enum ConfigExposure {
    /// Why the configuration at `configPath` may be downloadable, or nil.
    /// Looks only under Apache and LiteSpeed (nginx reads no `.htaccess`; its
    /// configs keep the file outside the site), so elsewhere it costs one
    /// variable lookup.
    /// The refusal both transports answer with, before the file is read.
    static func refusal(configPath: String, variables: Request.Variables) -> ConfigOutcome? {
        problem(configPath: configPath, variables: variables).map { .failed(ConfigError(path: configPath, problems: [$0], kind: .exposed)) }
    }

    static func problem(configPath: String, variables: Request.Variables) -> String? {
        guard let software = variables["SERVER_SOFTWARE"],
              software.hasPrefixIgnoringASCIICase("APACHE") || software.containsIgnoringASCIICase("litespeed"),
              let config = realPath(configPath) else { return nil }
        // The web site's folders this request came through: the document root
        // (the per-context one too: mod_userdir, Alias), and the CGI program's
        // own folder, resolved, when the program is inside one of them (so a
        // linked install folder counts; a ScriptAlias folder outside the site,
        // whose files Apache runs rather than serves, does not).
        var roots: [String] = []
        var given: [String] = []
        for name in ["CONTEXT_DOCUMENT_ROOT", "DOCUMENT_ROOT"] {
            if let root = variables[name], !root.isEmpty {
                given.append(root)
                if let resolved = realPath(root) { roots.append(resolved) }
            }
        }
        if let script = variables["SCRIPT_FILENAME"], given.contains(where: { isInside(script, $0) }),
           let resolved = realPath(script) {
            roots.append(Files.directoryName(resolved))
        }
        // The .htaccess files from the config's folder up to the outermost of them.
        guard let root = roots.filter({ isInside(config, $0) }).min(by: { $0.utf8.count < $1.utf8.count }) else { return nil }
        return unprotected(config, upTo: root)
    }

    /// For `chathooks check`, run from a shell (no request to go by): the
    /// bundle's layout (chathooks.cgi beside the configuration) or a folder
    /// that is a web site's by its name (public_html, htdocs, …) on the way.
    /// (Not www or html: /var/www/app is where nginx setups keep such files.)
    static func checkForCLI(configPath: String) -> [String] {
        guard let config = realPath(configPath), let root = webRoot(containing: config) else { return [] }
        return unprotected(config, upTo: root).map { [$0] } ?? []
    }

    /// For `chathooks check`: a data file (a lookup's CSV or SQLite file,
    /// customers' addresses) that the web server may hand to anyone.
    static func checkForCLI(dataPath: String) -> String? {
        guard let file = realPath(dataPath), let root = webRoot(containing: file),
              unprotected(file, upTo: root) != nil else { return nil }
        return "\(dataPath) is inside the web site's folder (\(root)) and no .htaccess in its folder or above denies access:"
            + " anyone may be able to download it. Keep it in the bundle's data/ folder (its .htaccess denies access),"
            + " or above the document root"
    }

    /// The web site's folder above `file` (public_html, htdocs, … or the
    /// bundle's own folder), as far as a path can tell.
    static func webRoot(containing file: String) -> String? {
        let folder = Files.directoryName(file)
        var root: String?
        var current = ""
        for component in folder.split(separator: "/") {
            current += "/" + component
            if ["public_html", "htdocs", "httpdocs", "wwwroot"].contains(String(component)) {
                root = current
                break
            }
        }
        if root == nil && access(folder + "/chathooks.cgi", F_OK) == 0 { root = folder }
        return root
    }

    static func unprotected(_ config: String, upTo root: String) -> String? {
        let slash = config.utf8.lastIndex(of: UInt8(ascii: "/"))
        let name = slash.map { String(config[config.utf8.index(after: $0)...]) } ?? config
        var folder = Files.directoryName(config)
        while true {
            if let text = try? Files.read(folder + "/.htaccess", limit: 1 << 16), HtaccessRules.denies(text, file: name) { return nil }
            if folder == root || folder == "/" || !isInside(folder, root) { break }
            folder = Files.directoryName(folder)
        }
        return "it is inside the web site's folder (\(root)) and no .htaccess in \(Files.directoryName(config)) or above it denies access:"
            + " anyone may be able to download it, with its secrets. Upload the bundle's .htaccess next to it"
            + " (FTP clients often hide files that start with a dot), or move the configuration above the document root"
    }

    static func isInside(_ path: String, _ root: String) -> Bool {
        path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }

    static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}

/// Just enough of `.htaccess` to tell whether it denies a file: a
/// `Require all denied` (Apache 2.4) or `Deny from all` (2.2) that applies to
/// every file of the folder — at the top level, or inside conditional
/// sections only (`<IfModule>`, `<IfVersion>`, `<IfDefine>`, …) — or inside a
/// `<Files NAME>` for exactly that file, or a `<FilesMatch>` whose pattern
/// names `json5` (this bundle's .htaccess before it denied everything).
/// Comments do not count, nor a deny inside any other section
/// (`<Files xmlrpc.php>`, `<FilesMatch "\.bak$">`, `<Limit>`): those protect
/// something else. One pass over the bytes, lines
/// folded to lowercase with runs of blanks as one space, stopping at the
/// first rule that counts.
enum HtaccessRules {
    static func denies(_ text: [UInt8], file: String) -> Bool {
        let fileName = Array(file.utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 })
        return text.withUnsafeBufferPointer { t in
            // Enclosing sections: true for a conditional or a <Files> naming `file`.
            var sections: [Bool] = []
            var open = 0  // how many of them do not apply to every file
            var i = 0
            while i < t.count {
                // One line: [start, end), blanks at its start skipped.
                while i < t.count && (t[i] == 0x20 || t[i] == 0x09) { i += 1 }
                let start = i
                while i < t.count && t[i] != 0x0A { i += 1 }
                let end = i
                i += 1
                guard start < end else { continue }
                let first = t[start]
                if first == UInt8(ascii: "#") || first == 0x0D { continue }
                if first == UInt8(ascii: "<") {
                    if start + 1 < end && t[start + 1] == UInt8(ascii: "/") {
                        if let last = sections.popLast(), !last { open -= 1 }
                    } else {
                        let applies = opensSectionFor(folded(t, start, end), fileName)
                        sections.append(applies)
                        if !applies { open += 1 }
                    }
                    continue
                }
                if open == 0 && (isPhrase(t, start, end, "require all denied") || isPhrase(t, start, end, "deny from all")) {
                    return true
                }
            }
            return false
        }
    }

    /// The line [start, end) is `phrase` (lowercase words, one space apart),
    /// in any case, with any run of blanks between the words and after them.
    static func isPhrase(_ t: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ phrase: StaticString) -> Bool {
        phrase.withUTF8Buffer { p in
            var i = start
            var k = 0
            while k < p.count {
                if p[k] == 0x20 {
                    guard i < end, t[i] == 0x20 || t[i] == 0x09 else { return false }
                    while i < end && (t[i] == 0x20 || t[i] == 0x09) { i += 1 }
                } else {
                    guard i < end else { return false }
                    let b = t[i]
                    guard (b >= 0x41 && b <= 0x5A ? b + 0x20 : b) == p[k] else { return false }
                    i += 1
                }
                k += 1
            }
            while i < end && (t[i] == 0x20 || t[i] == 0x09 || t[i] == 0x0D) { i += 1 }
            return i == end
        }
    }

    /// A section's opening line, lowercase, blanks folded to one space.
    static func folded(_ t: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(end - start)
        for j in start..<end {
            let b = t[j]
            if b == 0x20 || b == 0x09 || b == 0x0D {
                if line.last != 0x20 { line.append(0x20) }
            } else {
                line.append(b >= 0x41 && b <= 0x5A ? b + 0x20 : b)
            }
        }
        if line.last == 0x20 { line.removeLast() }
        return line
    }

    /// Whether a section opened by `line` (`<ifmodule mod_authz_core.c>`)
    /// leaves a deny inside it applying to `file`.
    static func opensSectionFor(_ line: [UInt8], _ file: [UInt8]) -> Bool {
        var name: [UInt8] = []
        var j = 1
        while j < line.count, line[j] != 0x20, line[j] != UInt8(ascii: ">") { name.append(line[j]); j += 1 }
        if name.starts(with: "if".utf8) { return true }  // IfModule, IfVersion, IfDefine, IfDirective, IfFile
        if name.elementsEqual("filesmatch".utf8) {
            return String(decoding: line[min(j + 1, line.count)...], as: UTF8.self).containsIgnoringASCIICase("json5")
        }
        guard name.elementsEqual("files".utf8) else { return false }
        // <Files "chathooks.json5"> or <Files chathooks.json5>
        var argument = Array(line[min(j + 1, line.count)...])
        if argument.last == UInt8(ascii: ">") { argument.removeLast() }
        if argument.first == UInt8(ascii: "\""), argument.last == UInt8(ascii: "\""), argument.count >= 2 {
            argument = Array(argument[1..<(argument.count - 1)])
        }
        return argument == file
    }
}
