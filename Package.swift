// swift-tools-version:5.9
import Foundation
import PackageDescription

// Build options (environment variables read when the package is resolved; see README "Building"):
//
// LOGITSTORE_TARGET_CPU  CPU the release build is tuned for, passed as `-target-cpu`. Default on x86-64:
//                        `haswell` (AVX2 + FMA, what the kernels are measured on); `native` tunes for the build
//                        machine; `none` (or an empty value) passes no CPU flag. Default elsewhere (arm64): none.
// LOGITSTORE_UNCHECKED   Which targets drop Swift's runtime checks with `-Ounchecked`. Default `kernels`: only the
//                        numeric kernels of FastMath, which parse no input. A loaded run once measured 1.44× on
//                        truncation; the quiet run of 2026-12-01 (Tools/BENCHMARKS.md#build-flags) measured no gain
//                        over `none` (39,163 vs 39,669 rows/s); the default is unchanged until a quiet run argues either way.
//                        `none`: every target checked. `all`: every target unchecked, the
//                        build before issue 10, for that comparison only; never ship it (the parsers of untrusted
//                        files lose their bounds checks).
//
// Every target that parses untrusted bytes (LogitStore, NumPyFiles, Teacher's GGUF reader, StoreInterchange, the
// CLI) is built with checked `-O`, so `precondition` and the array bounds checks stay in release builds.
let environment = ProcessInfo.processInfo.environment

let targetCPU: String? = {
    if let cpu = environment["LOGITSTORE_TARGET_CPU"] { return cpu.isEmpty || cpu == "none" ? nil : cpu }
    #if arch(x86_64)
    return "haswell"
    #else
    return nil
    #endif
}()
let cpuFlags = targetCPU.map { ["-target-cpu", $0] } ?? []
let unchecked = environment["LOGITSTORE_UNCHECKED"] ?? "kernels"

/// Release settings of a target that reads untrusted bytes or is not a measured hot kernel: checked `-O`.
let checked: [SwiftSetting] = [.unsafeFlags((unchecked == "all" ? ["-Ounchecked"] : []) + ["-wmo"] + cpuFlags, .when(configuration: .release))]
/// Release settings of a measured numeric kernel (FastMath; no parsing of files): `-Ounchecked` unless
/// LOGITSTORE_UNCHECKED=none.
let kernel: [SwiftSetting] = [.unsafeFlags((unchecked == "none" ? [] : ["-Ounchecked"]) + ["-wmo"] + cpuFlags, .when(configuration: .release))]

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
        .target(name: "FastMath", swiftSettings: kernel),
        // Software prefetch hints (static inline C) for the writer's streaming pass over logits rows.
        .target(name: "CPrefetch"),
        // The storage engine: format, codecs, truncation, writer, reader, iteration, statistics.
        .target(name: "LogitStore", dependencies: ["CZstd", "CLZ4", "CXXHash", "FastMath", "CPrefetch"], swiftSettings: checked),
        // Llama layers on BLAS: forward (teacher) and forward + backward (student). Knows nothing of storage.
        .target(name: "Transformer", dependencies: ["COpenBLAS", "FastMath"], swiftSettings: checked),
        // GGUF, dequantisation, BPE tokenizer, corpus packing, the dump loop.
        .target(name: "Teacher", dependencies: ["LogitStore", "Transformer", "FastMath", "CXXHash"], swiftSettings: checked),
        // Online logits: a training loop hands its logits rows, chunk by chunk, to a StoreWriter (model-agnostic).
        .target(name: "OnlineLogits", dependencies: ["LogitStore"], swiftSettings: checked),
        // Student model, KD losses, schedules, AdamW, safetensors checkpoints, evaluation.
        .target(name: "Trainer", dependencies: ["LogitStore", "Transformer", "FastMath", "COpenBLAS"], swiftSettings: checked),
        // NumPy .npy reading (memory-mapped) and writing; knows nothing of stores.
        .target(name: "NumPyFiles", swiftSettings: checked),
        // Import and export between stores and the NumPy files Python teacher jobs hand over.
        .target(name: "StoreInterchange", dependencies: ["LogitStore", "NumPyFiles"], swiftSettings: checked),
        // The thin command-line front end.
        .executableTarget(
            name: "logitstore",
            dependencies: [
                "LogitStore", "Teacher", "Trainer", "NumPyFiles", "StoreInterchange",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: checked
        ),

        // Storage lab: generates Spec/vectors and measures codec/filter choices (Tools/storage-lab).
        .executableTarget(name: "storage-lab", dependencies: ["LogitStore"], path: "Tools/storage-lab", swiftSettings: checked),
        // Transformer benchmark (Tools/bench-transformer runs it against PyTorch).
        .executableTarget(name: "transformer-bench", dependencies: ["Transformer", "FastMath"], path: "Tools/transformer-bench", swiftSettings: checked),

        // libFuzzer harness over the shard and manifest parsers (Tools/torture builds it with -sanitize=fuzzer);
        // a normal build replays inputs given as files.
        .executableTarget(name: "fuzz-store", dependencies: ["LogitStore"], path: "Tools/fuzz", swiftSettings: checked),

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
