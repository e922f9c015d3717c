// swift-tools-version: 6.1
//
// callrec: captured VoIP traffic in, searchable call recordings out.
// The module graph follows ARCHITECTURE.md: dependencies point down, stage
// modules never import each other, Pipeline routes packets to calls, CallMedia
// turns a call's packets into a recording, Commit enters it in the catalog.
// Every target lists what it imports: scripts/check-imports.py checks it (`make test`).

import PackageDescription

let systemLibraries: [Target] = [
    .systemLibrary(name: "CPcap", path: "Sources/CPcap", providers: [.apt(["libpcap-dev"])]),
    .systemLibrary(name: "COpus", path: "Sources/COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev", "libogg-dev"])]),
    .systemLibrary(name: "COpusFile", path: "Sources/COpusFile", pkgConfig: "opusfile", providers: [.apt(["libopusfile-dev"])]),
    .systemLibrary(name: "CSampleRate", path: "Sources/CSampleRate", providers: [.apt(["libsamplerate0-dev"])]),
    .systemLibrary(name: "CFFTW", path: "Sources/CFFTW", providers: [.apt(["libfftw3-dev"])]),
    .systemLibrary(name: "CSndFile", path: "Sources/CSndFile", providers: [.apt(["libsndfile1-dev"])]),
    .systemLibrary(name: "CSpanDSP", path: "Sources/CSpanDSP", providers: [.apt(["libspandsp-dev"])]),
    .systemLibrary(name: "CSRTP", path: "Sources/CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
]

/// The audio path and the call generator are optimised in debug builds too. Unoptimised, they spend four fifths of
/// their time in the Swift runtime's generic metadata and unspecialised code (perf on `callrec bench --codec
/// pipeline`: libopus 17 %), and the tests convert hours of generated calls; `make test` must stay under 15 minutes.
/// `-O` keeps every precondition and bounds check; only `assert` goes, as in a release build.
let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "callrec",
    // Linux with glibc only (README, "Platforms"): no platforms line to promise more.
    products: [
        .executable(name: "callrec", targets: ["callrec"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "CallMedia", targets: ["CallMedia"]),
        .library(name: "Conversion", targets: ["Conversion"]),
        .library(name: "LiveRecorder", targets: ["LiveRecorder"]),
        .library(name: "Inspection", targets: ["Inspection"]),
        .library(name: "Throughput", targets: ["Throughput"]),
        .library(name: "Catalog", targets: ["Catalog"]),
        .library(name: "CatalogPostgres", targets: ["CatalogPostgres"]),
        .library(name: "Sealing", targets: ["Sealing"]),
        .library(name: "Evidence", targets: ["Evidence"]),
        .library(name: "Keyring", targets: ["Keyring"]),
        .library(name: "Serve", targets: ["Serve"]),
        // The shared value types (times, civil dates): for the benchmarks, which build on them.
        .library(name: "CallrecCore", targets: ["CallrecCore"]),
        // For the benchmarks too: the capture reader and slicer (CallLedger), and AtomicFile (EvidenceCost).
        .library(name: "Capture", targets: ["Capture"]),
        .library(name: "Output", targets: ["Output"]),
        .library(name: "CallrecTestSupport", targets: ["CallrecTestSupport"]),
        .library(name: "CallSynthesis", targets: ["CallSynthesis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        // The PostgreSQL catalog backend: postgres-nio on SwiftNIO (its event loops, its TLS), logging off.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        // The one crypto library: SHA-256 of files, sealing (age v1), signing (Ed25519). README, "Cryptography".
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        // Evidence bundles (`catalog export --evidence`): zip files `unzip` reads (README, "Evidence").
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", exact: "0.9.20"),
        // `callrec serve`: the HTTP server (Hummingbird 2 on SwiftNIO) and its server-rendered pages (mustache templates).
        // Without its default trait ConfigurationSupport (reading its settings through swift-configuration, which serve
        // does not do): that package is then not built at all.
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: systemLibraries + [
        .target(name: "CallrecCore", swiftSettings: optimisedInDebug),
        .target(name: "Capture", dependencies: ["CallrecCore", "CPcap"], swiftSettings: optimisedInDebug),
        .target(name: "SIP", dependencies: ["CallrecCore"], swiftSettings: optimisedInDebug),
        .target(name: "RTP", dependencies: ["CallrecCore", "CSRTP"], swiftSettings: optimisedInDebug),
        .target(name: "Codecs", dependencies: ["CSpanDSP"], swiftSettings: optimisedInDebug),
        .target(name: "DSP", dependencies: ["CallrecCore", "CSampleRate", "CFFTW"], swiftSettings: optimisedInDebug),
        .target(name: "Output", dependencies: ["CallrecCore", "COpus", "CSndFile", "COpusFile"], swiftSettings: optimisedInDebug),
        .target(
            name: "Catalog",
            dependencies: ["CallrecCore", .product(name: "Crypto", package: "swift-crypto"), .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The catalog's PostgreSQL backend (a module of its own so Catalog stays light).
        .target(
            name: "CatalogPostgres",
            dependencies: [
                "Catalog", "CallrecCore", .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // age v1 files (sealed recordings), key files, the recorder's Ed25519 signing key.
        .target(
            name: "Sealing",
            dependencies: [
                "CallrecCore", .product(name: "Crypto", package: "swift-crypto"), .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // Evidence: the recorder's identity, signed manifests, the chains' checks, evidence bundles.
        .target(
            name: "Evidence",
            dependencies: [
                "CallrecCore", "Catalog", "Sealing", "Output", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        // Whose keys open which recordings: users' and teams' keys in the catalog, passwords,
        // opening a recording for someone's keys, reseal. What the catalog commands and serve use.
        .target(name: "Keyring", dependencies: ["CallrecCore", "Catalog", "Sealing", "Output", "Evidence"]),
        // `callrec serve`: sessions over the catalog's users, pages and a JSON API, audio by byte range.
        .target(
            name: "Serve",
            dependencies: [
                "CallrecCore", "Catalog", "Sealing", "Keyring", "Evidence", "Output",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        // One call's media: packets of each leg -> jitter buffer -> decoder -> mixer -> taps -> files.
        .target(name: "CallMedia", dependencies: ["CallrecCore", "RTP", "SIP", "Codecs", "DSP", "Output"], swiftSettings: optimisedInDebug),
        // A finished recording into the catalog: files and row together, in steps.
        .target(name: "Commit", dependencies: ["CallrecCore", "CallMedia", "Output", "Catalog", "Sealing", "Evidence"]),
        // The router: capture -> SIP and RTP -> calls -> each call's executor.
        .target(name: "Pipeline", dependencies: ["CallrecCore", "Capture", "SIP", "RTP", "Output", "Catalog", "CallMedia", "Commit"]),
        // `callrec convert`: captures read front to back, each call committed as it ends.
        .target(name: "Conversion", dependencies: ["CallrecCore", "Capture", "Output", "Catalog", "CallMedia", "Commit", "Pipeline", "Evidence"]),
        // `callrec record`: the reader, front and worker threads, their queues, the status and the lines.
        .target(
            name: "LiveRecorder",
            dependencies: ["CallrecCore", "Capture", "Output", "Catalog", "CallMedia", "Commit", "Pipeline", "Evidence"]
        ),
        // `callrec inspect`: calls and RTP streams with tshark's statistics; no audio.
        .target(name: "Inspection", dependencies: ["CallrecCore", "Capture", "SIP", "RTP"]),
        // `callrec bench`: each stage's throughput on generated speech and calls.
        .target(
            name: "Throughput",
            dependencies: ["CallrecCore", "Codecs", "DSP", "Output", "CallMedia", "Conversion", "CallSynthesis"]
        ),
        .executableTarget(
            name: "callrec",
            dependencies: [
                "CallrecCore", "Capture", "DSP", "Output", "Catalog", "CatalogPostgres", "CallMedia", "Commit", "Conversion", "LiveRecorder",
                "Inspection", "Throughput", "Sealing", "Evidence", "Keyring", "Serve", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Deterministic SIP + RTP captures from speech-like audio, for tests, fixtures and `callrec bench`.
        .target(name: "CallSynthesis", dependencies: ["CallrecCore", "Codecs", "RTP"], swiftSettings: optimisedInDebug),

        // Test support: capture builders, a speech-like signal generator, an Ogg Opus reader.
        .target(name: "CallrecTestSupport", dependencies: ["CallrecCore", "CallSynthesis", "COpusFile", "CSndFile"]),
        // The end-to-end tests' driver: a generated call converted, its recording read back
        // (apart from CallrecTestSupport so the stage modules' tests do not build the converter).
        .target(name: "ConversionTestSupport", dependencies: ["CallrecCore", "CallMedia", "Conversion", "Output", "CallrecTestSupport"]),
        .executableTarget(name: "make-fixtures", dependencies: ["Codecs", "CallrecTestSupport"]),
        // The live recorder under an hour of generated traffic (`make soak`).
        .executableTarget(name: "soak", dependencies: ["CallrecTestSupport"]),

        // libFuzzer targets over every parser that reads the network (`make fuzz`); a corpus replayer and seed writer otherwise.
        .executableTarget(name: "CallrecFuzzer", dependencies: ["CallrecCore", "Capture", "RTP", "SIP", "CallSynthesis"], path: "Fuzz/CallrecFuzzer"),

        .testTarget(name: "CallrecCoreTests", dependencies: ["CallrecCore"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "SIP", "CallrecCore", "CallrecTestSupport"]),
        .testTarget(name: "SIPTests", dependencies: ["SIP", "CallrecCore"]),
        .testTarget(name: "RTPTests", dependencies: ["RTP", "CallrecCore", "CallrecTestSupport"]),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs", "CallrecTestSupport"]),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "CallrecTestSupport"]),
        .testTarget(name: "OutputTests", dependencies: ["Output", "CallrecCore", "CSndFile", "CallrecTestSupport"]),
        .testTarget(
            name: "CatalogTests",
            dependencies: ["Catalog", "CatalogPostgres", "CallrecCore", "CallrecTestSupport"]
        ),
        .testTarget(name: "CallMediaTests", dependencies: ["CallMedia", "CallrecCore", "Capture", "Codecs", "RTP", "CallrecTestSupport"]),
        .testTarget(name: "InspectionTests", dependencies: ["Inspection", "CallrecCore", "Capture", "CallrecTestSupport"]),
        .testTarget(
            name: "LiveRecorderTests", dependencies: ["LiveRecorder", "Conversion", "CallMedia", "Commit", "Catalog", "Output", "CallrecCore", "CallrecTestSupport"]
        ),
        // End to end: captures through the router, each call's media and the commit, to files and catalog.
        .testTarget(
            name: "PipelineTests",
            dependencies: [
                "Pipeline", "Conversion", "LiveRecorder", "CallMedia", "Commit", "Catalog", "CatalogPostgres", "Capture", "SIP", "Codecs", "DSP",
                "Output", "RTP", "Evidence", "Inspection", "CallrecCore", "CallrecTestSupport", "ConversionTestSupport",
            ]
        ),
        .testTarget(
            name: "SealingTests",
            dependencies: ["Sealing", "Output", "CallrecCore", "CallrecTestSupport", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "EvidenceTests",
            dependencies: [
                "Evidence", "Catalog", "Sealing", "Conversion", "CallMedia", "CallrecCore", "CallrecTestSupport",
            ]
        ),
        // Keys in the catalog, sealed recordings end to end: convert sealed, open for a user's keys, reseal.
        .testTarget(
            name: "KeyringTests",
            dependencies: ["Keyring", "Sealing", "Catalog", "Commit", "Conversion", "CallMedia", "Output", "CallrecCore", "CallrecTestSupport", "Evidence"]
        ),
        .testTarget(
            name: "ServeTests",
            dependencies: [
                "Serve", "Catalog", "CatalogPostgres", "Keyring", "Sealing", "Conversion", "CallMedia", "CallrecCore", "CallrecTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"), .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "CLITests", dependencies: ["CallrecCore", "Capture", "CallrecTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
