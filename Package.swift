// swift-tools-version: 6.1
//
// callrec: captured VoIP traffic in, searchable call recordings out.
// The module graph follows ARCHITECTURE.md: dependencies point down, stage
// modules never import each other, Pipeline wires them together.

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
    .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
]

let package = Package(
    name: "callrec",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "callrec", targets: ["callrec"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Catalog", targets: ["Catalog"]),
        .library(name: "CallrecTestSupport", targets: ["CallrecTestSupport"]),
        .library(name: "CallSynthesis", targets: ["CallSynthesis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: systemLibraries + [
        .target(name: "CallrecCore"),
        .target(name: "Capture", dependencies: ["CallrecCore", "CPcap"]),
        .target(name: "SIP", dependencies: ["CallrecCore"]),
        .target(name: "RTP", dependencies: ["CallrecCore", "CSRTP"]),
        .target(name: "Codecs", dependencies: ["CallrecCore", "CSpanDSP"]),
        .target(name: "DSP", dependencies: ["CallrecCore", "CSampleRate", "CFFTW"]),
        .target(name: "Output", dependencies: ["CallrecCore", "COpus", "CSndFile", "COpusFile"]),
        .target(name: "Catalog", dependencies: ["CallrecCore", "CCrypto", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(
            name: "Pipeline",
            dependencies: ["CallrecCore", "Capture", "SIP", "RTP", "Codecs", "DSP", "Output", "Catalog", "CallSynthesis"]
        ),
        .executableTarget(
            name: "callrec",
            dependencies: [
                "Pipeline", "Catalog", "CallSynthesis", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Deterministic SIP + RTP captures from speech-like audio, for tests, fixtures and `callrec bench`.
        .target(name: "CallSynthesis", dependencies: ["CallrecCore", "Codecs", "RTP"]),

        // Test support: capture builders, a speech-like signal generator, an Ogg Opus reader.
        .target(name: "CallrecTestSupport", dependencies: ["CallrecCore", "Codecs", "RTP", "CallSynthesis", "COpusFile", "CSndFile"]),
        .executableTarget(name: "make-fixtures", dependencies: ["CallrecTestSupport"]),
        // The live recorder under an hour of generated traffic (`make soak`).
        .executableTarget(name: "soak", dependencies: ["CallrecTestSupport"]),

        // libFuzzer target over the capture readers and the slicer (`make fuzz`); a corpus replayer otherwise.
        .executableTarget(name: "CaptureFuzzer", dependencies: ["CallrecCore", "Capture", "RTP", "SIP"], path: "Fuzz/CaptureFuzzer"),

        .testTarget(name: "CallrecCoreTests", dependencies: ["CallrecCore", "CallrecTestSupport"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "SIP", "CallrecTestSupport"]),
        .testTarget(name: "SIPTests", dependencies: ["SIP", "CallrecTestSupport"]),
        .testTarget(name: "RTPTests", dependencies: ["RTP", "CallrecTestSupport"]),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs", "CallrecTestSupport"]),
        .testTarget(name: "DSPTests", dependencies: ["DSP", "CallrecTestSupport"]),
        .testTarget(name: "OutputTests", dependencies: ["Output", "CallrecTestSupport"]),
        .testTarget(name: "CatalogTests", dependencies: ["Catalog", "CallrecTestSupport"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "CallrecTestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["CallrecTestSupport", "Capture"]),
    ],
    swiftLanguageModes: [.v6]
)
