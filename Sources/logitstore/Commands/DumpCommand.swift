import ArgumentParser
import Foundation
import LogitStore
import Teacher

/// `logitstore dump --teacher MODEL.gguf --input PATH --out STORE ...`: run the teacher over a corpus and store
/// its truncated next-token distributions.
struct DumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump",
        abstract: "Run a GGUF teacher over text or tokens and store its next-token distributions (top-p/top-k or sampled).",
        discussion: """
        Text (files, one document per file) and JSONL ("text" field) are tokenised and packed into --seq-len
        sequences with EOS between documents; raw u32/u16 token files and Megatron .bin/.idx datasets are cut into
        --seq-len sequences exactly as they are. Re-running the same command resumes: sequences this writer id
        already committed are skipped. Give --out several times (PATH or PATH:POLICY, e.g. --out a --out \
        b:sample:64) to feed several stores from one teacher pass; each resumes on its own. Policies: \
        top-p-k:P:K, or sample:N[:TS] (N draws per position from the teacher's softmax, proposal temperature TS, \
        seeded by --sample-seed; the stored bits do not depend on --workers or on resume).
        """)

    @Option(help: "The teacher model (GGUF, Llama architecture).") var teacher: String
    @Option(help: "Input file or directory.") var input: String
    @Option(help: "Output store directory (created, or resumed), optionally PATH:POLICY; repeat for several stores.")
    var out: [String]
    @Option(help: "Policy of outputs without their own: top-p-k:P:K or sample:N[:TS] (default top-p-k from --top-p/--top-k).")
    var policy: String?
    @Option(name: .customLong("sample-seed"), help: "Seed of the sampled policies' draws (0 ≤ S < 2^53).") var sampleSeed: UInt64 = 0
    @Option(name: .customLong("input-format"), help: "text | jsonl | u32 | u16 | megatron (default: jsonl for *.jsonl, else text).")
    var inputFormat: String?
    @Option(name: .customLong("seq-len"), help: "Tokens per stored sequence.") var seqLen = 512
    @Option(name: .customLong("top-p"), help: "Keep the smallest set of tokens whose probability reaches this.") var topP = 0.95
    @Option(name: .customLong("top-k"), help: "Then keep at most this many.") var topK = 100
    @Option(help: "zstd | lz4 | none.") var codec = "zstd"
    @Option(help: "zstd level.") var level: Int?
    @Option(name: .customLong("writer-id"), help: "This writer's shard name space (parallel dumps use distinct ids).") var writerID = "w0"
    @Option(name: .customLong("max-tokens"), help: "Use only the first N tokens of the input (after packing).") var maxTokens: Int?
    @Option(help: "Sequences per forward pass of one worker.") var batch = 1
    @Option(help: "Threads running the teacher, each on its own sequences (default: one per core).")
    var workers = ProcessInfo.processInfo.activeProcessorCount
    @Flag(name: .customLong("no-target-logprobs"), help: "Do not record the log-probability of each actual next token.")
    var noTargetLogprobs = false
    @Flag(help: "Print a JSON summary (timings, tokens/s) on standard output at the end.") var json = false

    func run() async throws {
        let format: InputFormat
        if let f = inputFormat {
            guard let v = InputFormat(rawValue: f) else {
                throw ValidationError("unknown --input-format '\(f)' (text, jsonl, u32, u16, megatron)")
            }
            format = v
        } else {
            format = input.hasSuffix(".jsonl") ? .jsonl : .text
        }
        guard let codecValue = Codec(name: codec, level: level) else { throw ValidationError("unknown --codec '\(codec)' (zstd, lz4, none)") }
        let outputs = try Self.outputs(out, policy: policy, topP: topP, topK: topK, sampleSeed: sampleSeed)

        let t0 = Date()
        let model = try TeacherModel(path: teacher)
        let loadSeconds = Date().timeIntervalSince(t0)
        printError("teacher \(model.name): \(model.config.layers) layers, dim \(model.config.dim), vocab \(model.config.vocabSize), loaded in \(String(format: "%.1f", loadSeconds)) s")
        let job = try DumpJob(teacher: model, options: DumpOptions(
            input: input, format: format, seqLen: seqLen, policy: outputs[0].policy, codec: codecValue, writerID: writerID,
            maxTokens: maxTokens, batch: batch, workers: workers, recordTargetLogprobs: !noTargetLogprobs))
        var bar: ProgressBar?
        var summary = try job.run(outputs: outputs) { p in
            if bar == nil {
                if p.skippedSequences > 0 { printError("resuming: \(p.skippedSequences) of \(p.sequencesTotal) sequences already committed") }
                bar = ProgressBar(label: "dump", total: Double(p.tokensTotal), unit: "tok")
            }
            bar?.update(done: Double(p.tokensDone), extra: "seq \(p.sequencesDone)/\(p.sequencesTotal)")
        }
        bar?.finish()
        summary.loadSeconds = loadSeconds
        for st in summary.stores {
            let resumed = st.skippedSequences > 0 ? " (\(st.skippedSequences) already there)" : ""
            printError("\(st.store): \(st.policy), \(st.sequencesWritten) sequences written\(resumed)")
        }
        printError("stored \(summary.sequences) sequences (\(summary.positions) positions) in \(summary.stores.count) store\(summary.stores.count == 1 ? "" : "s"); \(summary.tokensProcessed) tokens through the teacher at \(String(format: "%.0f", summary.tokensPerSecond)) tok/s")
        if json { try printJSON(summary) }
    }

    /// The stores of `--out PATH[:POLICY]` (repeatable), with `--policy` (or `--top-p`/`--top-k`) for those without one.
    static func outputs(_ outs: [String], policy: String?, topP: Double, topK: Int, sampleSeed: UInt64) throws -> [DumpOutput] {
        guard !outs.isEmpty else { throw ValidationError("give at least one --out STORE") }
        func parse(_ text: String, _ flag: String) throws -> TruncationPolicy {
            do { return try PolicySpelling.parse(text, sampleSeed: sampleSeed) } catch StoreError.invalidInput(let why) {
                throw ValidationError("\(flag): \(why)")
            }
        }
        let fallback: TruncationPolicy
        if let policy { fallback = try parse(policy, "--policy") } else {
            fallback = TruncationPolicy(topP: topP, topK: topK)
            do { try fallback.validate() } catch StoreError.invalidInput(let why) { throw ValidationError("--top-p/--top-k: \(why)") }
        }
        return try outs.map { text in
            let (path, suffix) = PolicySpelling.splitStore(text)
            guard !path.isEmpty else { throw ValidationError("--out '\(text)': the store path is empty") }
            return DumpOutput(store: path, policy: try suffix.map { try parse($0, "--out \(path)") } ?? fallback)
        }
    }
}
