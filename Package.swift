// swift-tools-version:6.0
import Foundation
import PackageDescription

// One shared core, one thin executable per event, and the `chathooks` admin CLI.
// The core imports Glibc, libxcrypt, libfcgi and SQLite only (not even FoundationEssentials): every handler
// starts per request under CGI, so nothing is linked that would cost startup.
// The receivers' executables, one per line of scripts/receivers.txt (the Makefile and the tests
// read the same file; a unit test checks it names exactly the registry's receivers).
let handlers = ((try? String(contentsOfFile: Context.packageDirectory + "/scripts/receivers.txt", encoding: .utf8)) ?? "")
    .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }

// Type metadata through direct accessor calls instead of mangled names that the runtime has to
// demangle on first use: about 60k fewer instructions per CGI request (bench/RESULTS.md). Every
// function in a section of its own, so that the release link (scripts/swift-build.sh) can put the
// ones a request runs next to each other.
let leanMetadata: [SwiftSetting] = [
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors",
                  "-Xfrontend", "-function-sections"]),
]

// libfcgi's accept() goes through our wrapper (Sources/CStartup/accept_timeout.c), which puts a
// read and write time limit on each FastCGI connection before libfcgi reads from it.
let wrapAccept: [LinkerSetting] = [.unsafeFlags(["-Xlinker", "--wrap=accept"])]

// `chathooks --version` (Sources/CStartup/build_info.c): the VERSION file, read when the package is.
let version = ((try? String(contentsOfFile: Context.packageDirectory + "/VERSION", encoding: .utf8)) ?? "unknown")
    .trimmingCharacters(in: .whitespacesAndNewlines)

// Debian keeps libpgcommon_shlib.a and libpgport_shlib.a, which libpq.a needs, in
// /usr/lib/postgresql/<major>/lib (postgresql-server-dev-<major>): the newest there is.
let pgLib: String = {
    let majors = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
        .compactMap { Int($0) }.sorted()
    return majors.last.map { "/usr/lib/postgresql/\($0)/lib" } ?? "/usr/lib/postgresql/lib"
}()

let package = Package(
    name: "chathooks",
    products: (handlers + ["chathooks", "chathooks-sink"]).map { .executable(name: $0, targets: [$0]) },
    targets: [
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),
        .systemLibrary(name: "CFastCGI", path: "Sources/CFastCGI"),
        // Read-only lookups for SPALO's dataset and search calls (Sources/ChatHooksCore/Lookup).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // Replaces the Swift runtime's argv lookup (a parse of /proc/self/maps before main).
        // DWARF 4: Debian 12's valgrind (make bench, the instruction budget) cannot read the DWARF 5
        // that the toolchain's clang writes by default, and gives up on the whole executable.
        .target(name: "CStartup", cSettings: [.define("CHATHOOKS_VERSION", to: "\"\(version)\""),
                                              .unsafeFlags(["-gdwarf-4"])]),
        .target(name: "ChatHooksCore", dependencies: ["CCrypt", "CFastCGI", "CSQLite", "CStartup"],
                swiftSettings: leanMetadata),
        // The web console (admin/), served by `chathooks` alone: no receiver's executable links it.
        .systemLibrary(name: "CSodium", path: "Sources/CSodium"),
        .target(name: "ChatHooksConsole", dependencies: ["ChatHooksCore", "CSodium"]),
        .executableTarget(name: "chathooks", dependencies: ["ChatHooksCore", "ChatHooksConsole"], swiftSettings: leanMetadata,
                         linkerSettings: wrapAccept),
        .testTarget(name: "ChatHooksCoreTests", dependencies: ["ChatHooksCore", "ChatHooksConsole"]),
        // The PostgreSQL sink (chathooks sink postgres): its own executable, the one that links
        // libpq (and OpenSSL), statically like the rest. libpq.a's GSSAPI and LDAP calls go to
        // stand-ins (Sources/CLibpqSupport: Debian ships neither as a static library), and its
        // getpwuid_r to one that reads /etc/passwd only (a static program cannot load NSS modules).
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres"),
        .target(name: "CLibpqSupport"),
        .target(name: "ChatHooksSink", dependencies: ["ChatHooksCore", "CPostgres", "CLibpqSupport"]),
        .executableTarget(name: "chathooks-sink", dependencies: ["ChatHooksSink"],
                          linkerSettings: [.unsafeFlags(["-L\(pgLib)", "-Xlinker", "--wrap=getpwuid_r"])]),
    ] + handlers.map { .executableTarget(name: $0, dependencies: ["ChatHooksCore"], swiftSettings: leanMetadata,
                                      linkerSettings: wrapAccept) },
    swiftLanguageModes: [.v6]
)
