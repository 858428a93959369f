import ArgumentParser
import Foundation
import LogitStore
import Trainer

/// `logitstore eval`: cross-entropy and perplexity of a trained student on a store's true next tokens.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Held-out cross-entropy and perplexity of a student checkpoint on a store.")

    @Option(help: "Run directory written by 'logitstore train' (model.safetensors + student.json).") var checkpoint: String
    @Option(help: "The store to evaluate on.") var store: String
    @Option(name: .customLong("seq-len"), help: "Window length (default: the stored sequence length).") var seqLen: Int?
    @Option(name: .customLong("max-positions"), help: "Evaluate at most this many positions.") var maxPositions: Int = .max
    @Option(name: .customLong("last-sequences"), help: "Only the last N sequences of the store (a held-out part).") var lastSequences: Int?
    @Flag(help: "JSON output: cross_entropy, perplexity, positions.") var json = false

    func run() async throws {
        do {
            let (model, _) = try Checkpoint.loadModel(directory: checkpoint)
            let reader = try StoreReader(directory: store)
            guard reader.vocabSize == model.config.vocabSize else {
                throw CommandFailure("store vocabulary \(reader.vocabSize) differs from the student's \(model.config.vocabSize)")
            }
            let n = reader.sequenceCount
            let first = lastSequences.map { Swift.max(0, n - $0) } ?? 0
            let seqs = Array(first..<n)
            guard !seqs.isEmpty else { throw ValidationError("no sequences selected") }
            let src = try WindowSource(reader: reader, sequences: seqs, seqLen: seqLen ?? reader.sequenceRange(first).count,
                                       shuffledWithSeed: nil, targets: nil)
            let r = try Evaluator.evaluate(model: model, source: src, maxPositions: maxPositions)
            if json { try printJSON(r) } else {
                print(String(format: "cross-entropy %.4f nats, perplexity %.3f, over %d positions", r.crossEntropy, r.perplexity, r.positions))
            }
        }
    }
}
