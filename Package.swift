// swift-tools-version:6.0
import PackageDescription

// C libraries come from Debian's -dev packages (see shared STACK.md); SwiftPM cannot fetch
// packages on the build machines, so every dependency is either the toolchain or apt.
let package = Package(
    name: "KeyRelay",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "keyrelay", targets: ["keyrelay"])
    ],
    targets: [
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),

        .target(name: "Logging"),
        .target(
            name: "KeyPool",
            resources: [.copy("Resources/rate_limits.json")]
        ),
        .target(
            name: "Storage",
            dependencies: ["KeyPool", "Logging", "CSQLite", "CPostgres"],
            resources: [.copy("Migrations"), .copy("PostgresSQL")]
        ),
        .target(name: "Upstream", dependencies: ["Logging", "CCurl"]),
        .target(name: "HTTPServer", dependencies: ["Logging", "CMicroHTTPD"]),
        .target(
            name: "Relay",
            dependencies: ["KeyPool", "Logging", "Storage", "Upstream", "HTTPServer"],
            resources: [.copy("Page/keys.html"), .copy("Page/keys.js"), .copy("Page/keys.css")]
        ),
        .target(name: "Simulator", dependencies: ["KeyPool", "Logging", "HTTPServer"]),
        .executableTarget(
            name: "keyrelay",
            dependencies: ["Relay", "Simulator", "Storage", "KeyPool", "Logging"]
        ),
        .target(
            name: "KeyRelayTestSupport",
            dependencies: ["KeyPool", "Logging", "Storage"],
            path: "Sources/KeyRelayTestSupport"
        ),

        .testTarget(name: "KeyPoolTests", dependencies: ["KeyPool", "KeyRelayTestSupport"]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "KeyPool", "KeyRelayTestSupport"]),
        .testTarget(name: "UpstreamTests", dependencies: ["Upstream", "HTTPServer", "KeyRelayTestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "KeyRelayTestSupport"]),
        .testTarget(name: "SimulatorTests", dependencies: ["Simulator", "Upstream", "KeyRelayTestSupport"]),
        .testTarget(
            name: "RelayTests",
            dependencies: ["Relay", "Simulator", "Upstream", "KeyRelayTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
