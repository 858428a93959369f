import FastMath

/// Causal multi-head self-attention with grouped-query heads (query head h reads KV head h / (heads/kvHeads)).
///
/// Input is the [rows, qDim + 2·kvDim] `qkv` buffer after RoPE (rows = batch·seqLen); output is [rows, qDim].
/// Work is done per (sequence, KV head) in blocks of query rows: the query rows of all the heads that
/// share the KV head are stacked into one matrix, so each block is one sgemm for Q·Kᵀ and one for P·V
/// (M = group · blockRows), and each block sees only the keys up to its last row, so most of the masked
/// upper triangle is never computed.
///
/// Probabilities of one (sequence, KV head) are stored block after block; within the block starting at
/// row r0 with m rows, stacked row j·m + (t − r0) holds head (kvh·group + j) at position t, with T columns.
public enum CausalSelfAttention {
    /// Query rows per block when training (the probabilities are kept for backward). Smaller skips more of the
    /// masked half; larger gives BLAS bigger products.
    public static let trainingBlockRows = 64
    /// Query rows per block for inference (measured faster for SmolLM2-135M's shape, head dim 64, at 512 tokens).
    public static let inferenceBlockRows = 32

    /// The block size for a forward pass that keeps its probabilities for backward (`training`) or not.
    public static func blockRows(training: Bool) -> Int { training ? trainingBlockRows : inferenceBlockRows }

    /// The sizes one attention call works on, and the widths derived from them.
    public struct Shape {
        /// Sequences, positions per sequence, query heads, key/value heads (dividing `heads`) and the width of one head.
        public var batch, seqLen, heads, kvHeads, headDim: Int
        /// Query rows per block; forward and the backward that uses its probabilities must agree.
        public var blockRows: Int
        /// A shape with `blockRows` query rows per block (training's block size unless given).
        public init(batch: Int, seqLen: Int, heads: Int, kvHeads: Int, headDim: Int,
                    blockRows: Int = CausalSelfAttention.trainingBlockRows) {
            self.batch = batch; self.seqLen = seqLen; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
            self.blockRows = blockRows
        }
        /// Width of all query heads together (heads · headDim).
        public var qDim: Int { heads * headDim }
        /// Width of all key (or value) heads together (kvHeads · headDim).
        public var kvDim: Int { kvHeads * headDim }
        /// Width of one row of the `qkv` input: queries, then keys, then values.
        public var qkvDim: Int { qDim + 2 * kvDim }
        /// Query heads that share one key/value head.
        public var group: Int { heads / kvHeads }
        /// The attention logit scale, 1/√headDim.
        public var scale: Float { 1 / Float(headDim).squareRoot() }
        /// Rows of one block (the last block of a sequence may have fewer).
        public var block: Int { min(blockRows, seqLen) }
        /// Floats of the probabilities kept for backward: batch · heads · seqLen².
        public var probsCount: Int { batch * heads * seqLen * seqLen }
        /// Floats of the probabilities of one block (the inference-mode probability buffer).
        public var blockProbsCount: Int { group * block * seqLen }
        /// Floats of the scratch `forward` needs.
        public var forwardScratchCount: Int { 2 * group * block * headDim }
        /// Floats of the scratch `backward` needs.
        public var backwardScratchCount: Int { 3 * group * block * headDim + group * block * seqLen }
    }

    /// Copies the `group` heads starting at column `col` of rows r0..<r0+m (row stride `ld`) into a
    /// stacked [group·m, hd] matrix.
    @inline(__always)
    static func gather(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, ld: Int, r0: Int, m: Int, group: Int, hd: Int) {
        for j in 0..<group {
            for i in 0..<m {
                (dst + (j * m + i) * hd).update(from: src + (r0 + i) * ld + j * hd, count: hd)
            }
        }
    }

    /// Adds (or copies) a stacked [group·m, hd] matrix back into the heads' columns.
    @inline(__always)
    static func scatter(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, ld: Int, r0: Int, m: Int, group: Int, hd: Int, add: Bool) {
        for j in 0..<group {
            for i in 0..<m {
                let d = dst + (r0 + i) * ld + j * hd, s = src + (j * m + i) * hd
                if add { for e in 0..<hd { d[e] += s[e] } } else { d.update(from: s, count: hd) }
            }
        }
    }

    /// Softmax of row[0..<n] in place, and zeros in row[n..<w] (the masked keys of the block): one max pass, one
    /// exp-and-sum pass and one scaling pass, all in 16-lane vectors; the ragged end is one padded vector
    /// (-inf lanes give exp = 0), never a scalar loop of exponentials.
    @inline(__always)
    static func causalSoftmaxRow(_ row: UnsafeMutablePointer<Float>, valid n: Int, width w: Int) {
        typealias V = SIMD16<Float>
        let full = n & ~15
        var tail = V(repeating: -.infinity)
        for j in 0..<(n - full) { tail[j] = row[full + j] }
        var mv = tail
        var i = 0
        while i < full {
            let v = UnsafeRawPointer(row + i).loadUnaligned(as: V.self)
            mv.replace(with: v, where: v .> mv)
            i += 16
        }
        let mvec = V(repeating: FastMath.horizontalMax(mv))
        var acc = V(repeating: 0)
        i = 0
        while i < full {
            let raw = UnsafeMutableRawPointer(row + i)
            let x = FastMath.expNonPositive(raw.loadUnaligned(as: V.self) - mvec)
            raw.storeBytes(of: x, as: V.self)
            acc += x
            i += 16
        }
        let et = FastMath.expNonPositive(tail - mvec)
        acc += et
        let inv = V(repeating: 1 / acc.sum())
        i = 0
        while i < full {
            let raw = UnsafeMutableRawPointer(row + i)
            raw.storeBytes(of: raw.loadUnaligned(as: V.self) * inv, as: V.self)
            i += 16
        }
        let st = et * inv
        for j in 0..<(n - full) { row[full + j] = st[j] }
        if n < w { (row + n).update(repeating: 0, count: w - n) }
    }

    /// `probs` holds `shape.probsCount` floats when `keepProbs` (training), else `shape.blockProbsCount`.
    /// `scratch` holds `shape.forwardScratchCount` floats.
    public static func forward(out: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                               probs: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                               shape s: Shape, keepProbs: Bool) {
        let T = s.seqLen, hd = s.headDim, ld = s.qkvDim, group = s.group
        let qs = scratch, os = scratch + group * s.block * hd
        for b in 0..<s.batch {
            let base = qkv + b * T * ld
            for kvh in 0..<s.kvHeads {
                let q = base + kvh * group * hd
                let k = base + s.qDim + kvh * hd
                let v = base + s.qDim + s.kvDim + kvh * hd
                let pHead = keepProbs ? probs + (b * s.kvHeads + kvh) * group * T * T : probs
                let o = out + b * T * s.qDim + kvh * group * hd
                var r0 = 0
                while r0 < T {
                    let r1 = min(T, r0 + s.blockRows), m = r1 - r0
                    let p = keepProbs ? pHead + r0 * group * T : pHead
                    gather(qs, q, ld: ld, r0: r0, m: m, group: group, hd: hd)
                    // S[group·m, r1] = scale · Qstack · K[0..<r1]ᵀ
                    Gemm.run(transA: false, transB: true, m: group * m, n: r1, k: hd, alpha: s.scale,
                             a: qs, lda: hd, b: k, ldb: ld, beta: 0, c: p, ldc: T)
                    for j in 0..<group {
                        for t in r0..<r1 { causalSoftmaxRow(p + (j * m + t - r0) * T, valid: t + 1, width: r1) }
                    }
                    // Ostack[group·m, hd] = P · V[0..<r1]
                    Gemm.run(transA: false, transB: false, m: group * m, n: hd, k: r1,
                             a: p, lda: T, b: v, ldb: ld, beta: 0, c: os, ldc: hd)
                    scatter(o, os, ld: s.qDim, r0: r0, m: m, group: group, hd: hd, add: false)
                    r0 = r1
                }
            }
        }
    }

    /// dqkv += ∂L/∂qkv (post-RoPE) given dOut = ∂L/∂out, for probabilities kept by `forward(keepProbs: true)`.
    /// `scratch` holds `shape.backwardScratchCount` floats.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
                                probs: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>, shape s: Shape) {
        let T = s.seqLen, hd = s.headDim, ld = s.qkvDim, group = s.group
        let stack = group * s.block * hd
        let qs = scratch, dos = scratch + stack, dqs = scratch + 2 * stack, dp = scratch + 3 * stack
        for b in 0..<s.batch {
            let base = qkv + b * T * ld
            let dbase = dqkv + b * T * ld
            for kvh in 0..<s.kvHeads {
                let q = base + kvh * group * hd, k = base + s.qDim + kvh * hd, v = base + s.qDim + s.kvDim + kvh * hd
                let dq = dbase + kvh * group * hd, dk = dbase + s.qDim + kvh * hd, dv = dbase + s.qDim + s.kvDim + kvh * hd
                let pHead = probs + (b * s.kvHeads + kvh) * group * T * T
                let dO = dOut + b * T * s.qDim + kvh * group * hd
                var r0 = 0
                while r0 < T {
                    let r1 = min(T, r0 + s.blockRows), m = r1 - r0, M = group * m
                    let p = pHead + r0 * group * T
                    gather(qs, q, ld: ld, r0: r0, m: m, group: group, hd: hd)
                    gather(dos, dO, ld: s.qDim, r0: r0, m: m, group: group, hd: hd)
                    // dP = dO · Vᵀ
                    Gemm.run(transA: false, transB: true, m: M, n: r1, k: hd,
                             a: dos, lda: hd, b: v, ldb: ld, beta: 0, c: dp, ldc: T)
                    // dV += Pᵀ · dO (masked entries of P are zero)
                    Gemm.run(transA: true, transB: false, m: r1, n: hd, k: M,
                             a: p, lda: T, b: dos, ldb: hd, beta: 1, c: dv, ldc: ld)
                    // dS = scale · P ⊙ (dP − Σ P⊙dP), zero above the diagonal
                    for j in 0..<group {
                        for t in r0..<r1 {
                            let i = j * m + t - r0
                            let pr = p + i * T, dr = dp + i * T
                            let n = t + 1
                            let dotv = Vec.dot(pr, dr, n)
                            for c in 0..<n { dr[c] = s.scale * pr[c] * (dr[c] - dotv) }
                            if n < r1 { (dr + n).update(repeating: 0, count: r1 - n) }
                        }
                    }
                    // dQ = dS · K ; dK += dSᵀ · Q
                    Gemm.run(transA: false, transB: false, m: M, n: hd, k: r1,
                             a: dp, lda: T, b: k, ldb: ld, beta: 0, c: dqs, ldc: hd)
                    scatter(dq, dqs, ld: ld, r0: r0, m: m, group: group, hd: hd, add: true)
                    Gemm.run(transA: true, transB: false, m: r1, n: hd, k: M,
                             a: dp, lda: T, b: qs, ldb: hd, beta: 1, c: dk, ldc: ld)
                    r0 = r1
                }
            }
        }
    }
}
