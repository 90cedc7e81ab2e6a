// swift-tools-version:6.0
import PackageDescription

// One shared core, one thin executable per event, and the `chathooks` admin CLI.
// The core imports Glibc, libxcrypt and libfcgi only (not even FoundationEssentials): every handler
// starts per request under CGI, so nothing is linked that would cost startup.
let handlers = [
    "chatdealer-chat-start",
    "chatdealer-chat-message",
    "chatdealer-chat-end",
    "chatdealer-scenario",
    "chatdealer-form",
    "spalo-dataset",
]

let package = Package(
    name: "chathooks",
    products: (handlers + ["chathooks"]).map { .executable(name: $0, targets: [$0]) },
    targets: [
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),
        .systemLibrary(name: "CFastCGI", path: "Sources/CFastCGI"),
        .target(name: "ChatHooksCore", dependencies: ["CCrypt", "CFastCGI"]),
        .executableTarget(name: "chathooks", dependencies: ["ChatHooksCore"]),
        .testTarget(name: "ChatHooksCoreTests", dependencies: ["ChatHooksCore"]),
    ] + handlers.map { .executableTarget(name: $0, dependencies: ["ChatHooksCore"]) },
    swiftLanguageModes: [.v6]
)
