import Glibc

/// A configuration holds secrets; inside a web site's folder only an
/// `.htaccess` stops the web server from handing it out. FTP clients often
/// hide files that start with a dot and skip them on upload, so a bundle can
/// arrive without one. Under Apache (or LiteSpeed, which reads `.htaccess`
/// too) a receiver can see that: its configuration is inside DOCUMENT_ROOT and
/// no `.htaccess` from the configuration's folder up to the document root
/// denies access. It then refuses every call (fail closed, as for placeholder
/// secrets) until the file is protected. `chathooks check` says the same.
enum ConfigExposure {
    /// Why the configuration at `configPath` may be downloadable, or nil.
    /// Looks only under Apache and LiteSpeed (nginx reads no `.htaccess`; its
    /// configs keep the file outside the site), so elsewhere it costs nothing.
    static func problem(configPath: String, variables: Request.Variables) -> String? {
        guard let software = variables["SERVER_SOFTWARE"],
              software.hasPrefixIgnoringASCIICase("APACHE") || software.containsIgnoringASCIICase("litespeed"),
              let documentRoot = variables["DOCUMENT_ROOT"], !documentRoot.isEmpty,
              let root = realPath(documentRoot), let config = realPath(configPath) else { return nil }
        guard isInside(config, root) else { return nil }
        return unprotected(config, upTo: root)
    }

    /// For `chathooks check`, run from a shell (no DOCUMENT_ROOT): the bundle's
    /// layout (chathooks.cgi beside the configuration) or a web folder on the
    /// way (public_html, www, htdocs, …) says the file is on a web site.
    static func checkForCLI(configPath: String) -> [String] {
        guard let config = realPath(configPath) else { return [] }
        let folder = Files.directoryName(config)
        var root: String?
        var current = ""
        for component in folder.split(separator: "/") {
            current += "/" + component
            if ["public_html", "www", "htdocs", "html", "web", "wwwroot", "httpdocs", "public"].contains(String(component)) {
                root = current
                break
            }
        }
        if root == nil && access(folder + "/chathooks.cgi", F_OK) == 0 { root = folder }
        guard let root else { return [] }
        return unprotected(config, upTo: root).map { [$0] } ?? []
    }

    static func unprotected(_ config: String, upTo root: String) -> String? {
        var folder = Files.directoryName(config)
        while true {
            if let text = try? Files.read(folder + "/.htaccess", limit: 1 << 16), denies(text) { return nil }
            if folder == root || folder == "/" || !isInside(folder, root) { break }
            folder = Files.directoryName(folder)
        }
        return "it is inside the web site's folder (\(root)) and no .htaccess in \(Files.directoryName(config)) or above it denies access:"
            + " anyone may be able to download it, with its secrets. Upload the bundle's .htaccess next to it"
            + " (FTP clients often hide files that start with a dot), or move the configuration above the document root"
    }

    /// An `.htaccess` that denies access: `Require all denied` (Apache 2.4)
    /// or `Deny from all` (2.2), in any case and spacing.
    static func denies(_ text: [UInt8]) -> Bool {
        var normalized: [UInt8] = []
        normalized.reserveCapacity(text.count)
        for b in text {
            if b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A {
                if normalized.last != 0x20 { normalized.append(0x20) }
            } else {
                normalized.append(b)
            }
        }
        let s = String(decoding: normalized, as: UTF8.self)
        return s.containsIgnoringASCIICase("require all denied") || s.containsIgnoringASCIICase("deny from all")
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
