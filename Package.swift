// swift-tools-version:5.9
import PackageDescription

let optimise: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo", "-target-cpu", "haswell"], .when(configuration: .release))]

let package = Package(
    name: "logitstore",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "logitstore", targets: ["logitstore"]),
        .library(name: "LogitStore", targets: ["LogitStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries, found with pkg-config (Debian: libzstd-dev, liblz4-dev, libopenblas-dev, libxxhash-dev).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),

        // Vectorised elementwise maths shared by the writer (softmax over full rows) and the trainer.
        .target(name: "FastMath", swiftSettings: optimise),
        // Software prefetch hints (static inline C) for the writer's streaming pass over logits rows.
        .target(name: "CPrefetch"),
        // The storage engine: format, codecs, truncation, writer, reader, iteration, statistics.
        .target(name: "LogitStore", dependencies: ["CZstd", "CLZ4", "CXXHash", "FastMath", "CPrefetch"], swiftSettings: optimise),
        // Llama layers on BLAS: forward (teacher) and forward + backward (student). Knows nothing of storage.
        .target(name: "Transformer", dependencies: ["COpenBLAS", "FastMath"], swiftSettings: optimise),
        // GGUF, dequantisation, BPE tokenizer, corpus packing, the dump loop.
        .target(name: "Teacher", dependencies: ["LogitStore", "Transformer", "FastMath", "CXXHash"], swiftSettings: optimise),
        // Online logits: a training loop hands its logits rows, chunk by chunk, to a StoreWriter (model-agnostic).
        .target(name: "OnlineLogits", dependencies: ["LogitStore"], swiftSettings: optimise),
        // Student model, KD losses, schedules, AdamW, safetensors checkpoints, evaluation.
        .target(name: "Trainer", dependencies: ["LogitStore", "Transformer", "FastMath", "COpenBLAS"], swiftSettings: optimise),
        // NumPy .npy reading (memory-mapped) and writing; knows nothing of stores.
        .target(name: "NumPyFiles", swiftSettings: optimise),
        // Import and export between stores and the NumPy files Python teacher jobs hand over.
        .target(name: "StoreInterchange", dependencies: ["LogitStore", "NumPyFiles"], swiftSettings: optimise),
        // The thin command-line front end.
        .executableTarget(
            name: "logitstore",
            dependencies: [
                "LogitStore", "Teacher", "Trainer", "NumPyFiles", "StoreInterchange",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: optimise
        ),

        // Storage lab: generates Spec/vectors and measures codec/filter choices (Tools/storage-lab).
        .executableTarget(name: "storage-lab", dependencies: ["LogitStore"], path: "Tools/storage-lab", swiftSettings: optimise),
        // Transformer benchmark (Tools/bench-transformer runs it against PyTorch).
        .executableTarget(name: "transformer-bench", dependencies: ["Transformer", "FastMath"], path: "Tools/transformer-bench", swiftSettings: optimise),

        .testTarget(name: "FastMathTests", dependencies: ["FastMath"]),
        .testTarget(name: "LogitStoreTests", dependencies: ["LogitStore"]),
        .testTarget(name: "TransformerTests", dependencies: ["Transformer"]),
        .testTarget(name: "TeacherTests", dependencies: ["Teacher", "OnlineLogits"]),
        .testTarget(name: "TrainerTests", dependencies: ["Trainer"]),
        // End to end: real teacher dump → LM-only vs PD* students (depends on both so neither imports the other).
        .testTarget(name: "DistillationTests", dependencies: ["Teacher", "Trainer", "LogitStore"]),
        .testTarget(name: "StorageCLITests", dependencies: ["NumPyFiles", "StoreInterchange", "LogitStore"]),
    ]
)
