import Foundation
import Transformer

/// Held-out evaluation result: cross-entropy (nats) on the true next tokens and its perplexity.
public struct EvalResult: Codable, Equatable, Sendable {
    /// Mean −log π(next) over the scored positions.
    public var crossEntropy: Double
    /// exp(crossEntropy).
    public var perplexity: Double
    /// Positions scored (those with a known next token).
    public var positions: Int
    enum CodingKeys: String, CodingKey { case crossEntropy = "cross_entropy", perplexity, positions }
}

/// Cross-entropy of a model on windows of a store (positions whose next token is known).
public enum Evaluator {
    /// Scores up to `maxPositions` positions of `source`, `batchWindows` windows at a time.
    public static func evaluate(model: LlamaModel, source: WindowSource, maxPositions: Int, batchWindows: Int = 8,
                                chunkRows: Int = 256) throws -> EvalResult {
        let head = LMHeadLoss(vocab: model.config.vocabSize, dim: model.config.dim, chunkRows: chunkRows)
        let loss = DistillationLoss(kind: .kld, temperature: .fixed(1))
        var batch = Batch()
        var sum = 0.0, count = 0, seen = 0
        while seen < maxPositions {
            let windows = Swift.max(1, Swift.min(batchWindows, (maxPositions - seen + source.seqLen - 1) / source.seqLen))
            try source.fill(&batch, windows: windows)
            if batch.positions == 0 { break }
            let h = try batch.tokens.withUnsafeBufferPointer {
                try model.forward(tokens: $0, batch: batch.positions / source.seqLen, seqLen: source.seqLen, training: false)
            }
            let t = head.run(hidden: h, weight: model.outputWeight, batch: batch, loss: loss, alpha: 0, dHidden: nil, dWeight: nil)
            sum += t.ceSum; count += t.ceCount; seen += batch.positions
        }
        guard count > 0 else { throw TrainerError.storeMismatch("no held-out positions with a known next token") }
        let ce = sum / Double(count)
        return EvalResult(crossEntropy: ce, perplexity: exp(ce), positions: count)
    }
}
