import ArgumentParser
import Foundation
import LogitStore
import Trainer

/// `logitstore eval`: cross-entropy and perplexity of a trained student on a store's true next tokens.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Held-out cross-entropy and perplexity of a student checkpoint on a store.",
        discussion: """
        Never scores training sequences silently: on the run's own training store give --last-sequences N (N at most the sequences
        the run held out); a different store is scored whole; for a run directory that does not record its training store, give
        --last-sequences N or --all-sequences.
        """)

    @Option(help: "Run directory written by 'logitstore train' (model.safetensors + student.json).") var checkpoint: String
    @Option(help: "The store to evaluate on.") var store: String
    @Option(name: .customLong("seq-len"), help: "Window length (default: the stored sequence length).") var seqLen: Int?
    @Option(name: .customLong("max-positions"), help: "Evaluate at most this many positions.") var maxPositions: Int = .max
    @Option(name: .customLong("last-sequences"), help: "Only the last N sequences of the store (its held-out part; on the run's training store at most the N it held out).") var lastSequences: Int?
    @Flag(name: .customLong("all-sequences"), help: "Score every sequence: the store was never trained on (refused for the run's training store).") var allSequences = false
    @Flag(help: "JSON output: cross_entropy, perplexity, positions.") var json = false

    func run() async throws {
        do {
            if lastSequences != nil && allSequences { throw ValidationError("give --last-sequences or --all-sequences, not both") }
            let (model, _) = try Checkpoint.loadModel(directory: checkpoint)
            let reader = try StoreReader(directory: store)
            guard reader.vocabSize == model.config.vocabSize else {
                throw CommandFailure("store vocabulary \(reader.vocabSize) differs from the student's \(model.config.vocabSize)")
            }
            let choice: HeldOutChoice = lastSequences.map { .lastSequences($0) } ?? (allSequences ? .allSequences : .unspecified)
            let seqs: [Int]
            do {
                seqs = try choice.sequences(storePath: store, reader: reader, split: try RunDirectory.split(ofRun: checkpoint))
            } catch let e as TrainerError {
                // Name the CLI spellings of the library's field names.
                throw ValidationError(e.description.replacingOccurrences(of: "lastSequences", with: "--last-sequences")
                    .replacingOccurrences(of: "allSequences", with: "--all-sequences"))
            }
            guard !seqs.isEmpty else { throw ValidationError("no sequences selected") }
            let src = try WindowSource(reader: reader, sequences: seqs, seqLen: seqLen ?? reader.sequenceRange(seqs[0]).count,
                                       shuffledWithSeed: nil, targets: nil)
            let r = try Evaluator.evaluate(model: model, source: src, maxPositions: maxPositions)
            if json { try printJSON(r) } else {
                print(String(format: "cross-entropy %.4f nats, perplexity %.3f, over %d positions", r.crossEntropy, r.perplexity, r.positions))
            }
        }
    }
}
