import ArgumentParser
import Foundation
import LogitStore
import StoreInterchange

/// `logitstore import`: NumPy files (full logits, or rows already truncated) into a store.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import NumPy .npy files into a store: full logits rows (truncated or sampled here) or pre-truncated rows.",
        discussion: """
        Inputs: tokens uint32 [N]; sequence lengths int64 [S] summing to N; then either logits float32 or float16 [N, V] \
        (V may be a padded width; pass --vocab for the real vocabulary), or ids uint32 [E], probs float16 [E] \
        (descending per position, not re-normalised) and counts uint8/uint16/uint32 [N] summing to E, with --vocab. \
        Every input is checked before anything is written. Re-running the same import into the same store resumes it.
        """)

    @Option(help: "The store directory to create (or to resume).") var out: String
    @Option(help: "Input token ids, uint32 [N].") var tokens: String
    @Option(name: .customLong("sequence-lengths"), help: "Sequence lengths, int64 [S], summing to N.") var sequenceLengths: String
    @Option(help: "Full logits rows, float32 or float16 [N, V].") var logits: String?
    @Option(name: .customLong("top-p"), help: "Keep the smallest set reaching this mass (default 0.95).") var topP: Double?
    @Option(name: .customLong("top-k"), help: "Then at most this many entries (default 100).") var topK: Int?
    @Option(help: "The store's policy: top-p-k:P:K, or sample:N[:TS] (N draws per position from softmax(logits) at proposal temperature TS; with pre-sampled input the rows are checked against it).")
    var policy: String?
    @Option(name: .customLong("sample-seed"), help: "Seed of a sampled policy's draws (0 ≤ S < 2^53).") var sampleSeed: UInt64 = 0
    @Option(help: "Kept ids, uint32 [E].") var ids: String?
    @Option(help: "Kept probabilities, float16 [E].") var probs: String?
    @Option(help: "Entries per position, uint8/uint16/uint32 [N].") var counts: String?
    @Option(name: .customLong("target-logprobs"), help: "With pre-truncated input: log p(next token), float32 [N].") var targetLogprobs: String?
    @Option(help: "Vocabulary size (default: the logits width; required with --ids).") var vocab: Int?
    @Option(help: "Block codec: zstd, lz4 or none.") var codec: String = "zstd"
    @Option(help: "zstd level (default 3).") var level: Int?
    @Option(name: .customLong("teacher-name"), help: "Teacher name recorded in the manifest.") var teacherName: String = "imported"
    @Option(name: .customLong("writer-id"), help: "This import's shard name space (imports into one store at once use distinct ids).") var writerID = "import"

    func validate() throws {
        let truncated = [ids, probs, counts].compactMap { $0 }.count
        if logits != nil && truncated > 0 { throw ValidationError("give either --logits or --ids/--probs/--counts, not both") }
        if logits == nil && truncated != 3 { throw ValidationError("give --logits X.npy, or all three of --ids, --probs and --counts") }
        if logits != nil && targetLogprobs != nil {
            throw ValidationError("--target-logprobs goes with pre-truncated input; with --logits the writer computes them")
        }
        if Codec(name: codec, level: level) == nil { throw ValidationError("--codec must be zstd, lz4 or none, not '\(codec)'") }
        if level != nil && codec.lowercased() != "zstd" { throw ValidationError("--level applies to --codec zstd only") }
        if policy != nil && (topP != nil || topK != nil) { throw ValidationError("give either --policy or --top-p/--top-k, not both") }
        _ = try parsedPolicy()
    }

    /// `--policy` read as design.md spells it (nil when absent).
    func parsedPolicy() throws -> TruncationPolicy? {
        guard let policy else { return nil }
        do { return try PolicySpelling.parse(policy, sampleSeed: sampleSeed) } catch StoreError.invalidInput(let why) {
            throw ValidationError("--policy: \(why)")
        }
    }

    func run() async throws {
        let rows: ImportSource.Rows = logits.map { .logits($0) }
            ?? .truncated(ids: ids!, probs: probs!, counts: counts!, targetLogprobs: targetLogprobs)
        let source = ImportSource(tokens: tokens, sequenceLengths: sequenceLengths, rows: rows)
        let settings = ImportSettings(vocabSize: vocab, topP: topP, topK: topK, policy: try parsedPolicy(), codec: Codec(name: codec, level: level)!,
                                      writerID: writerID, teacher: TeacherIdentity(name: teacherName))
        let importer = try StoreImporter(source: source, settings: settings)
        let bar = ProgressBar(label: "import", total: Double(importer.positionCount), unit: "pos")
        let summary = try importer.run(into: out) { done, _ in bar.update(done: Double(done)) }
        bar.finish()
        if summary.resumedSequences > 0 {
            print("resumed: \(Fmt.int(summary.resumedSequences)) sequences were already committed by an earlier run")
        }
        print("imported \(Fmt.int(summary.sequences)) sequences, \(Fmt.int(summary.positions)) positions into \(out) "
              + "(\(Fmt.int(summary.entries)) entries, vocabulary \(Fmt.int(summary.vocabSize))); run `logitstore inspect \(out)` for sizes")
    }
}
