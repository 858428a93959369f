import FastMath

/// Causal multi-head self-attention with grouped-query heads (query head h reads KV head h / (heads/kvHeads)).
///
/// Input is the [rows, qDim + 2·kvDim] `qkv` buffer after RoPE (rows = batch·seqLen); output is [rows, qDim].
/// Per (sequence, head), Q·Kᵀ and P·V are sgemm calls over blocks of query rows, each block seeing only
/// the keys up to its last row, so most of the masked upper triangle is never computed.
public enum CausalSelfAttention {
    /// Query rows per block. Smaller skips more of the masked half; larger gives BLAS bigger products.
    public static let blockRows = 64

    public struct Shape {
        public var batch, seqLen, heads, kvHeads, headDim: Int
        public init(batch: Int, seqLen: Int, heads: Int, kvHeads: Int, headDim: Int) {
            self.batch = batch; self.seqLen = seqLen; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
        }
        public var qDim: Int { heads * headDim }
        public var kvDim: Int { kvHeads * headDim }
        public var qkvDim: Int { qDim + 2 * kvDim }
        public var scale: Float { 1 / Float(headDim).squareRoot() }
        /// Floats of the probability tensor of one (sequence, head).
        public var probsPerHead: Int { seqLen * seqLen }
    }

    /// `probs` holds seqLen×seqLen floats per (sequence, head) when `keepProbs` (training; index
    /// (b·heads + h)), otherwise one seqLen×seqLen scratch reused for every head.
    public static func forward(out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                        probs: UnsafeMutablePointer<Float>, shape s: Shape, keepProbs: Bool) {
        let T = s.seqLen, hd = s.headDim, ld = s.qkvDim, group = s.heads / s.kvHeads
        for b in 0..<s.batch {
            let base = qkv + b * T * ld
            for h in 0..<s.heads {
                let kvh = h / group
                let q = base + h * hd
                let k = base + s.qDim + kvh * hd
                let v = base + s.qDim + s.kvDim + kvh * hd
                let p = keepProbs ? probs + (b * s.heads + h) * s.probsPerHead : probs
                let o = out + b * T * s.qDim + h * hd
                var r0 = 0
                while r0 < T {
                    let r1 = min(T, r0 + blockRows)
                    // S[r0..<r1, 0..<r1] = scale · Q[r0..<r1] · K[0..<r1]ᵀ
                    Gemm.run(transA: false, transB: true, m: r1 - r0, n: r1, k: hd, alpha: s.scale,
                             a: q + r0 * ld, lda: ld, b: k, ldb: ld, beta: 0, c: p + r0 * T, ldc: T)
                    for t in r0..<r1 {
                        let row = p + t * T
                        FastMath.softmaxInPlace(UnsafeMutableBufferPointer(start: row, count: t + 1))
                        if t + 1 < r1 { (row + t + 1).update(repeating: 0, count: r1 - t - 1) }
                    }
                    // O[r0..<r1] = P[r0..<r1, 0..<r1] · V[0..<r1]
                    Gemm.run(transA: false, transB: false, m: r1 - r0, n: hd, k: r1,
                             a: p + r0 * T, lda: T, b: v, ldb: ld, beta: 0, c: o + r0 * s.qDim, ldc: s.qDim)
                    r0 = r1
                }
            }
        }
    }

    /// dqkv += ∂L/∂qkv (post-RoPE) given dOut = ∂L/∂out. `scratch` holds seqLen×seqLen floats.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                         probs: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>, shape s: Shape) {
        let T = s.seqLen, hd = s.headDim, ld = s.qkvDim, group = s.heads / s.kvHeads
        for b in 0..<s.batch {
            let base = qkv + b * T * ld
            let dbase = dqkv + b * T * ld
            for h in 0..<s.heads {
                let kvh = h / group
                let q = base + h * hd, k = base + s.qDim + kvh * hd, v = base + s.qDim + s.kvDim + kvh * hd
                let dq = dbase + h * hd, dk = dbase + s.qDim + kvh * hd, dv = dbase + s.qDim + s.kvDim + kvh * hd
                let p = probs + (b * s.heads + h) * s.probsPerHead
                let dO = dOut + b * T * s.qDim + h * hd
                let dp = scratch
                var r0 = 0
                while r0 < T {
                    let r1 = min(T, r0 + blockRows)
                    let m = r1 - r0
                    // dP = dO · Vᵀ
                    Gemm.run(transA: false, transB: true, m: m, n: r1, k: hd,
                             a: dO + r0 * s.qDim, lda: s.qDim, b: v, ldb: ld, beta: 0, c: dp + r0 * T, ldc: T)
                    // dV += Pᵀ · dO (masked entries of P are zero)
                    Gemm.run(transA: true, transB: false, m: r1, n: hd, k: m,
                             a: p + r0 * T, lda: T, b: dO + r0 * s.qDim, ldb: s.qDim, beta: 1, c: dv, ldc: ld)
                    // dS = scale · P ⊙ (dP − Σ P⊙dP), zero above the diagonal
                    for t in r0..<r1 {
                        let pr = p + t * T, dr = dp + t * T
                        let n = t + 1
                        let dotv = Vec.dot(pr, dr, n)
                        for j in 0..<n { dr[j] = s.scale * pr[j] * (dr[j] - dotv) }
                        if n < r1 { (dr + n).update(repeating: 0, count: r1 - n) }
                    }
                    // dQ += dS · K ; dK += dSᵀ · Q
                    Gemm.run(transA: false, transB: false, m: m, n: hd, k: r1,
                             a: dp + r0 * T, lda: T, b: k, ldb: ld, beta: 1, c: dq + r0 * ld, ldc: ld)
                    Gemm.run(transA: true, transB: false, m: r1, n: hd, k: m,
                             a: dp + r0 * T, lda: T, b: q + r0 * ld, ldb: ld, beta: 1, c: dk, ldc: ld)
                    r0 = r1
                }
            }
        }
    }
}
