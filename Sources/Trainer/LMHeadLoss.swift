import Foundation
import Dispatch
import Transformer

/// The LM head and the loss over a batch, in chunks of rows: logits for `chunkRows` positions are
/// computed with one sgemm, the loss and dL/dlogits are computed row by row on all cores (each row's
/// softmax over the vocabulary is vectorised), and the chunk's gradient goes back through the head with
/// two sgemms. The [positions × vocab] matrix is never held.
public final class LMHeadLoss {
    /// Vocabulary (logits per row).
    public let vocab: Int
    /// Hidden width.
    public let dim: Int
    /// Positions whose logits are held at once.
    public let chunkRows: Int
    let logits: UnsafeMutableBufferPointer<Float>
    let workspaces: [LossWorkspace]
    let threads: Int

    /// Buffers for `chunkRows` × `vocab` logits and one loss workspace per thread.
    public init(vocab: Int, dim: Int, chunkRows: Int, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.vocab = vocab; self.dim = dim; self.chunkRows = chunkRows
        self.threads = Swift.max(1, threads)
        logits = .allocate(capacity: chunkRows * vocab)
        workspaces = (0..<Swift.max(1, threads)).map { _ in LossWorkspace(vocab: vocab) }
    }
    deinit { logits.deallocate() }

    /// Sums over a batch.
    public struct Totals {
        /// Σ CE over positions with a known next token, and their count.
        public var ceSum = 0.0, ceCount = 0
        /// Σ weighted KD over positions with a target, and their count.
        public var kdSum = 0.0, kdCount = 0
        /// Zero sums.
        public init() {}
        /// (1 − α)·mean CE + α·mean KD.
        public func loss(alpha: Double) -> Double {
            (1 - alpha) * (ceCount > 0 ? ceSum / Double(ceCount) : 0) + (alpha > 0 && kdCount > 0 ? alpha * kdSum / Double(kdCount) : 0)
        }
    }

    /// Loss over `batch` given final hidden states [positions, dim]. With `dHidden` it also writes
    /// ∂L/∂hidden there (overwriting) and accumulates ∂L/∂W into `dWeight`.
    public func run(hidden: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, batch: Batch,
                    loss: DistillationLoss, alpha: Double,
                    dHidden: UnsafeMutableBufferPointer<Float>?, dWeight: UnsafeMutableBufferPointer<Float>?) -> Totals {
        let n = batch.positions
        precondition(hidden.count >= n * dim)
        let useKD = alpha > 0 && batch.hasTargets
        let ceCount = batch.next.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
        let kdCount = useKD ? n : 0
        let lmW = Float((1 - alpha) / Double(Swift.max(ceCount, 1)))
        let kdW = useKD ? Float(alpha / Double(Swift.max(kdCount, 1))) : 0
        let gradient = dHidden != nil
        if let d = dHidden { d.update(repeating: 0) }
        var totals = Totals()
        totals.ceCount = ceCount; totals.kdCount = kdCount
        let ce = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads); defer { ce.deallocate() }
        let kd = UnsafeMutableBufferPointer<Double>.allocate(capacity: threads); defer { kd.deallocate() }
        var r0 = 0
        while r0 < n {
            let rows = Swift.min(chunkRows, n - r0)
            LMHead.logits(hidden: hidden.baseAddress! + r0 * dim, rows: rows, dim: dim, weight: weight.baseAddress!, vocab: vocab, into: logits.baseAddress!)
            ce.update(repeating: 0); kd.update(repeating: 0)
            let t = Swift.min(threads, rows)
            batch.ids.withUnsafeBufferPointer { ids in
                batch.probs.withUnsafeBufferPointer { probs in
                    DispatchQueue.concurrentPerform(iterations: t) { worker in
                        let ws = workspaces[worker]
                        var r = worker
                        while r < rows {
                            let p = r0 + r
                            let row = UnsafeMutableBufferPointer(start: logits.baseAddress! + r * vocab, count: vocab)
                            let nx = batch.next[p]
                            var target: SparseTarget? = nil
                            if useKD {
                                let a = batch.targetOffsets[p], b = batch.targetOffsets[p + 1]
                                target = SparseTarget(ids: UnsafeBufferPointer(rebasing: ids[a..<b]), probs: UnsafeBufferPointer(rebasing: probs[a..<b]),
                                                      dropped: batch.dropped?[p])
                            }
                            let out = loss.position(logits: row, next: nx >= 0 ? Int(nx) : nil, target: target,
                                                    lmWeight: lmW, kdWeight: kdW, gradient: gradient, workspace: ws)
                            if nx >= 0 { ce[worker] += Double(out.crossEntropy) }
                            kd[worker] += Double(out.kd)
                            r += t
                        }
                    }
                }
            }
            for w in 0..<t { totals.ceSum += ce[w]; totals.kdSum += kd[w] }
            if let dH = dHidden, let dW = dWeight {
                LMHead.backward(dLogits: logits.baseAddress!, hidden: hidden.baseAddress! + r0 * dim, rows: rows, dim: dim,
                                weight: weight.baseAddress!, vocab: vocab, dHidden: dH.baseAddress! + r0 * dim, dWeight: dW.baseAddress!)
            }
            r0 += rows
        }
        return totals
    }
}
