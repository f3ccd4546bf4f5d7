// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ConceptLearner",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "learner", targets: ["learner"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "COpenCL", path: "Sources/COpenCL"),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // Turns Kernels/*.cl into Swift string literals so the binary carries its kernels.
        .executableTarget(name: "embed-kernels", path: "Tools/embed-kernels"),
        .plugin(name: "EmbedKernelsPlugin", capability: .buildTool(), dependencies: ["embed-kernels"],
                path: "Plugins/EmbedKernelsPlugin"),
        // The CPU backend's pointer loops are many times slower unoptimised, so Compute is built
        // with -O even in debug builds: the test suite (which trains small models) stays fast.
        // The CPU backend's vectorised kernels, each compiled for AVX-512, AVX2 and baseline x86-64
        // (picked at load time); -O3 in every configuration for the same reason as Compute.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Compute", dependencies: ["COpenCL", "CBLAS", "CKernels"],
                swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))],
                plugins: ["EmbedKernelsPlugin"]),
        .target(name: "Curriculum"),
        .target(name: "Model", dependencies: ["Compute"]),
        .target(name: "Training", dependencies: ["Compute", "Curriculum", "Model"]),
        .executableTarget(name: "learner", dependencies: [
            "Compute", "Curriculum", "Model", "Training",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "ComputeTests", dependencies: ["Compute", "CKernels"]),
        .testTarget(name: "CurriculumTests", dependencies: ["Curriculum"]),
        .testTarget(name: "ModelTests", dependencies: ["Model", "Compute"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Model", "Compute", "Curriculum"]),
    ],
    // Swift 5 mode: the hot loops hand raw pointers to Dispatch workers, which Swift 6 strict
    // concurrency cannot prove safe; each such loop writes disjoint ranges by construction.
    swiftLanguageModes: [.v5]
)
