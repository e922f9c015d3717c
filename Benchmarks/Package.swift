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
        .executableTarget(
            name: "Convert",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Pipeline", package: "callrec"),
                .product(name: "CallrecTestSupport", package: "callrec"),
            ],
            path: "Benchmarks/Convert",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ReadSliceDemux",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Pipeline", package: "callrec"),
                .product(name: "CallrecTestSupport", package: "callrec"),
            ],
            path: "Benchmarks/ReadSliceDemux",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
