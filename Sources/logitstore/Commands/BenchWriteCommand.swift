import ArgumentParser
import Foundation
import LogitStore
import NumPyFiles

/// `logitstore bench write --logits X.npy`: writer throughput from full-vocabulary rows held in memory.
struct BenchWriteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write",
        abstract: "Time the writer on logits rows already in memory (softmax, top-p/top-k or sampling, encode, compress, commit).",
        discussion: """
        The .npy file is loaded into memory before any timing. rows_per_second is the whole StoreWriter path (truncation, \
        target log-probs, encoding, compression and the durable commit) into a store on a memory file system \
        (/dev/shm when present); truncate_rows_per_second times the truncation (or sampling) alone. Single-threaded; pin it to one core \
        (taskset -c 0) for the one-core figure. Best of --repeat runs.
        """)

    @Option(help: "Logits rows, float32 or float16 [N, V].") var logits: String
    @Option(name: .customLong("top-p")) var topP: Double = 0.95
    @Option(name: .customLong("top-k")) var topK: Int = 100
    @Option(help: "top-p-k:P:K or sample:N[:TS] (default: top-p-k from --top-p/--top-k).") var policy: String?
    @Option(name: .customLong("sample-seed"), help: "Seed of a sampled policy's draws.") var sampleSeed: UInt64 = 0
    @Option(help: "Input tokens uint32 [N] (for the target log-probs; default: zeros).") var tokens: String?
    @Option(name: .customLong("seq-len"), help: "Rows per appended sequence.") var seqLen: Int = 2048
    @Option(name: .customLong("repeat"), help: "Timed runs; the best is reported.") var repeats: Int = 3
    @Option(help: "Block codec: zstd, lz4 or none.") var codec: String = "zstd"
    @Option(help: "Directory for the temporary store (default /dev/shm, else the temp directory).") var dir: String?

    struct Result: Encodable {
        let rows: Int, vocab: Int, policy: String, topP: Double, topK: Int, codec: String, repeat_: Int
        let rowsPerSecond: Double, truncateRowsPerSecond: Double, secondsBest: Double, truncateSecondsBest: Double
        let meanEntries: Double, storeBytes: Int, storeDirectory: String
        enum CodingKeys: String, CodingKey {
            case rows, vocab, codec, policy
            case topP = "top_p", topK = "top_k", repeat_ = "repeat"
            case rowsPerSecond = "rows_per_second", truncateRowsPerSecond = "truncate_rows_per_second"
            case secondsBest = "seconds_best", truncateSecondsBest = "truncate_seconds_best"
            case meanEntries = "mean_entries", storeBytes = "store_bytes", storeDirectory = "store_directory"
        }
    }

    func run() async throws {
        guard let codecValue = Codec(name: codec) else { throw ValidationError("--codec must be zstd, lz4 or none") }
        let file = try NPYFile(path: logits)
        try file.require(dtype: [.float32, .float16])
        let (n, v) = try file.requireMatrix()
        guard n > 0 else { throw CommandFailure("\(logits) holds no rows") }
        // Load into memory first: the file read is not part of the timing.
        let rows32: [Float] = file.dtype.scalar == .float32 ? try file.toArray(Float.self) : []
        let rows16: [Float16] = file.dtype.scalar == .float16 ? try file.toArray(Float16.self) : []
        var toks = [UInt32](repeating: 0, count: n)
        if let tokens {
            let t = try NPYFile(path: tokens)
            try t.requireVector(length: n)
            toks = try t.toArray(UInt32.self)
        }
        let policy: TruncationPolicy
        do {
            policy = try self.policy.map { try PolicySpelling.parse($0, sampleSeed: sampleSeed) } ?? TruncationPolicy(topP: topP, topK: topK)
            try policy.validate()
        } catch StoreError.invalidInput(let why) { throw ValidationError("--policy: \(why)") }
        let seq = max(1, seqLen)
        let root = dir ?? (FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())

        // Truncation (or sampling) alone, as the writer runs it: sequence ordinals 0, 1, …
        let builder = try TargetBuilder(vocabSize: v, policy: policy, writerID: "bench")
        var out = TruncatedRows()
        out.counts.reserveCapacity(seq); out.ids.reserveCapacity(seq * policy.topK); out.probs.reserveCapacity(seq * policy.topK)
        var truncBest = Double.infinity
        var entries = 0
        for _ in 0..<max(1, repeats) {
            entries = 0
            let t0 = DispatchTime.now().uptimeNanoseconds
            var r = 0
            while r < n {
                let m = min(seq, n - r)
                out.removeAll()
                let next: [UInt32?] = (0..<m).map { r + $0 + 1 < r + m ? toks[r + $0 + 1] : nil }
                let ordinal = r / seq
                if file.dtype.scalar == .float32 {
                    try rows32.withUnsafeBufferPointer { try builder.build(rows: UnsafeBufferPointer(rebasing: $0[(r * v)..<((r + m) * v)]), sequenceOrdinal: ordinal, nextTokens: next, into: &out) }
                } else {
                    try rows16.withUnsafeBufferPointer { try builder.build(rows: UnsafeBufferPointer(rebasing: $0[(r * v)..<((r + m) * v)]), sequenceOrdinal: ordinal, nextTokens: next, into: &out) }
                }
                entries += out.ids.count
                r += m
            }
            truncBest = min(truncBest, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        }

        // The whole writer into a store on a memory file system.
        var best = Double.infinity
        var storeBytes = 0
        for i in 0..<max(1, repeats) {
            let path = root + "/logitstore-bench-write-\(getpid())-\(i)"
            defer { try? FileManager.default.removeItem(atPath: path) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let writer = try StoreWriter(directory: path, options: WriterOptions(vocabSize: v, policy: policy, codec: codecValue, writerID: "bench"))
            var r = 0
            while r < n {
                let m = min(seq, n - r)
                let t = Array(toks[r..<(r + m)])
                if file.dtype.scalar == .float32 {
                    try rows32.withUnsafeBufferPointer { try writer.append(tokens: t, logits: UnsafeBufferPointer(rebasing: $0[(r * v)..<((r + m) * v)])) }
                } else {
                    try rows16.withUnsafeBufferPointer { try writer.append(tokens: t, logitsFloat16: UnsafeBufferPointer(rebasing: $0[(r * v)..<((r + m) * v)])) }
                }
                r += m
            }
            try writer.finish()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            storeBytes = try Manifest.load(directory: path).byteCount
        }
        try printJSON(Result(rows: n, vocab: v, policy: policy.label, topP: policy.topP, topK: policy.topK, codec: codec, repeat_: repeats,
                             rowsPerSecond: Double(n) / best, truncateRowsPerSecond: Double(n) / truncBest,
                             secondsBest: best, truncateSecondsBest: truncBest,
                             meanEntries: Double(entries) / Double(n), storeBytes: storeBytes, storeDirectory: root))
    }
}
