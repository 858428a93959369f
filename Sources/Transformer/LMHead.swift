/// The language-model head, applied by callers to chunks of rows so that [positions × vocab] is never
/// held at once: logits[r, v] = Σ_d hidden[r, d] · W[v, d], one sgemm per chunk.
public enum LMHead {
    /// logits[rows, vocab] = hidden[rows, dim] · weight[vocab, dim]ᵀ (overwrites `logits`).
    public static func logits(hidden: UnsafePointer<Float>, rows: Int, dim: Int,
                              weight: UnsafePointer<Float>, vocab: Int, into logits: UnsafeMutablePointer<Float>) {
        Linear.forward(out: logits, inp: hidden, weight: weight, rows: rows, inDim: dim, outDim: vocab)
    }

    /// Given dLogits[rows, vocab] = ∂L/∂logits: ADDS dLogits · W into dHidden[rows, dim] and
    /// dLogitsᵀ · hidden into dWeight[vocab, dim]. Both are accumulated (zero dHidden first if needed).
    public static func backward(dLogits: UnsafePointer<Float>, hidden: UnsafePointer<Float>, rows: Int, dim: Int,
                                weight: UnsafePointer<Float>, vocab: Int,
                                dHidden: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>) {
        Linear.backward(dInp: dHidden, dWeight: dWeight, dOut: dLogits, inp: hidden, weight: weight,
                        rows: rows, inDim: dim, outDim: vocab, accumulateInput: true)
    }
}
