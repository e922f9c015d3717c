// swift-tools-version: 6.1
//
// callrec's benchmarks, a package of their own so the main package does not
// depend on package-benchmark. Run with `make bench` or
//   cd Benchmarks && swift package --disable-sandbox benchmark

import PackageDescription

let package = Package(
    name: "callrec-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "callrec", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // spandsp, only as the G.722 baseline measured beside callrec's decoder.
        .systemLibrary(name: "CSpanDSPBaseline", path: "Sources/CSpanDSPBaseline", providers: [.apt(["libspandsp-dev"])]),
        .executableTarget(
            name: "CodecThroughput",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Throughput", package: "callrec"),
                .product(name: "CallSynthesis", package: "callrec"),
                "CSpanDSPBaseline",
            ],
            path: "Benchmarks/CodecThroughput",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ] + [
        // Each suite and the callrec modules it drives.
        ("Convert", ["Conversion", "CallMedia"]),
        ("ConvertJobs", ["Conversion", "CallMedia"]),
        ("CallFinding", ["Pipeline", "CallMedia"]),
        ("Record", ["LiveRecorder", "CallMedia", "Throughput"]),
        ("ReadSliceDemux", ["Inspection"]),
        ("SealedFiles", ["Sealing", "Catalog", "Conversion", "CallMedia"]),
        ("EvidenceCost", ["Evidence", "Catalog", "Output"]),
    ].map { name, modules -> Target in
        .executableTarget(
            name: name,
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CallrecTestSupport", package: "callrec"),
            ] + modules.map { .product(name: $0, package: "callrec") },
            path: "Benchmarks/\(name)",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    } + [
        .executableTarget(
            name: "CatalogFind",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Catalog", package: "callrec"),
                .product(name: "CatalogPostgres", package: "callrec"),
                .product(name: "CallrecTestSupport", package: "callrec"),
                .product(name: "Serve", package: "callrec"),
                .product(name: "Keyring", package: "callrec"),
                .product(name: "Sealing", package: "callrec"),
            ],
            path: "Benchmarks/CatalogFind",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Purging a million expired recordings (issue 18, item 4), both backends.
        .executableTarget(
            name: "Retention",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CallrecCore", package: "callrec"),
                .product(name: "Catalog", package: "callrec"),
                .product(name: "CatalogPostgres", package: "callrec"),
                .product(name: "CallrecTestSupport", package: "callrec"),
            ],
            path: "Benchmarks/Retention",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "CallLedger",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Catalog", package: "callrec"),
                .product(name: "CatalogPostgres", package: "callrec"),
                .product(name: "CallrecTestSupport", package: "callrec"),
                .product(name: "CallrecCore", package: "callrec"),
                // The capture read and sliced (CaptureSource, PacketSlicer), the per-packet path
                // (CaptureProcessor) and the leg's media span (CallMedia).
                .product(name: "Capture", package: "callrec"),
                .product(name: "Pipeline", package: "callrec"),
                .product(name: "CallMedia", package: "callrec"),
            ],
            path: "Benchmarks/CallLedger",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
