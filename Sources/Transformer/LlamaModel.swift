/// A Llama-architecture decoder in fp32 on BLAS, llm.c style: one parameter buffer, one gradient buffer,
/// and a forward/backward pair per layer (RMSNorm, Linear, RoPE, CausalSelfAttention, SwiGLU, Embedding).
///
/// The model stops at the final RMSNorm; callers apply `LMHead` to chunks of rows.
/// Not thread-safe: one forward/backward at a time per instance.
public final class LlamaModel {
    /// The shape this model was built with.
    public let config: LlamaConfig
    /// Where each tensor lives in `parameters` (and, at the same offsets, in `gradients`).
    public let layout: ParameterLayout

    private let parameterStorage: FloatBuffer
    private var gradientStorage: FloatBuffer?
    private var acts: Activations?
    private var scratch: GradientScratch?
    /// Shape of the last forward call (rows actually used).
    private var lastBatch = 0
    private var lastSeqLen = 0
    private var lastWasTraining = false
    private let layerOffsets: [ParameterLayout.LayerOffsets]
    private let embeddingOffset: Int
    private let outputNormOffset: Int
    private let outputOffset: Int

    /// Builds the layout and one zeroed parameter buffer. Throws `TransformerError.invalidConfig`.
    public init(config: LlamaConfig) throws {
        try config.validate()
        self.config = config
        let layout = ParameterLayout(config: config)
        self.layout = layout
        parameterStorage = FloatBuffer(count: layout.count)
        layerOffsets = (0..<config.layers).map { layout.layerOffsets($0) }
        embeddingOffset = layout["token_embd"]!.offset
        outputNormOffset = layout["output_norm"]!.offset
        outputOffset = config.tiedEmbeddings ? layout["token_embd"]!.offset : layout["output"]!.offset
    }

    /// A model over the same parameter buffer (shared, not copied) with activations of its own, so that
    /// several threads can each run `forward(training: false)` at once. Forward only reads parameters;
    /// changing parameters or training any of the sharing models while another runs is a data race.
    public func inferenceReplica() -> LlamaModel { LlamaModel(sharing: self) }

    private init(sharing other: LlamaModel) {
        config = other.config
        layout = other.layout
        parameterStorage = other.parameterStorage
        layerOffsets = other.layerOffsets
        embeddingOffset = other.embeddingOffset
        outputNormOffset = other.outputNormOffset
        outputOffset = other.outputOffset
    }

    /// All parameters, in `layout` order.
    public var parameters: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: parameterStorage.pointer, count: layout.count)
    }

    /// All gradients, in `layout` order (allocated, zeroed, on first use).
    public var gradients: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: gradientBuffer.pointer, count: layout.count)
    }

    private var gradientBuffer: FloatBuffer {
        if let g = gradientStorage { return g }
        let g = FloatBuffer(count: layout.count)
        gradientStorage = g
        return g
    }

    /// The parameters of one named tensor (GGUF name), or nil.
    public func parameter(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        guard let s = layout[name] else { return nil }
        return UnsafeMutableBufferPointer(start: parameterStorage.pointer + s.offset, count: s.count)
    }

    /// The gradient of one named tensor (GGUF name), or nil.
    public func gradient(_ name: String) -> UnsafeMutableBufferPointer<Float>? {
        guard let s = layout[name] else { return nil }
        return UnsafeMutableBufferPointer(start: gradientBuffer.pointer + s.offset, count: s.count)
    }

    /// The LM-head weight [vocab, dim] (`token_embd` when tied, else `output`).
    public var outputWeight: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: parameterStorage.pointer + outputOffset, count: config.vocabSize * config.dim)
    }

    /// The gradient slot of `outputWeight`; pass it as `dWeight` to `LMHead.backward`.
    public var outputWeightGradient: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: gradientBuffer.pointer + outputOffset, count: config.vocabSize * config.dim)
    }

    /// Sets every gradient to zero (before accumulating a new step's backward passes).
    public func zeroGradients() { gradientBuffer.zero() }

    /// Deterministic GPT-2-style initialisation: matrices and embeddings N(0, 0.02²), the residual
    /// projections (`attn_output`, `ffn_down`) N(0, (0.02/√(2·layers))²), norm weights 1.
    public func initialiseRandomly(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let p = parameterStorage.pointer
        let residualStd = 0.02 / Float(2 * config.layers).squareRoot()
        for slot in layout.slots {
            let dst = p + slot.offset
            if slot.shape.count == 1 {
                dst.update(repeating: 1, count: slot.count)
                continue
            }
            let std: Float = (slot.name.hasSuffix("attn_output") || slot.name.hasSuffix("ffn_down")) ? residualStd : 0.02
            for i in 0..<slot.count { dst[i] = std * rng.nextGaussian() }
        }
    }

    /// Runs `batch` sequences of `seqLen` tokens (row-major [batch, seqLen]) and returns the final-normed
    /// hidden states [batch·seqLen, dim], valid until the next call. With `training: true` it keeps
    /// everything `backward` needs. Buffers are reused across calls of the same shape.
    /// Throws `TransformerError` for a token outside the vocabulary or a count mismatch.
    public func forward(tokens: UnsafeBufferPointer<UInt32>, batch: Int, seqLen: Int,
                        training: Bool) throws -> UnsafeBufferPointer<Float> {
        let c = config
        guard batch > 0, seqLen > 0, tokens.count == batch * seqLen else {
            throw TransformerError.shapeMismatch("\(tokens.count) tokens for batch \(batch) × seqLen \(seqLen)")
        }
        for (i, t) in tokens.enumerated() where Int(t) >= c.vocabSize {
            throw TransformerError.tokenOutOfRange(token: t, position: i, vocabSize: c.vocabSize)
        }
        let a: Activations
        if let existing = acts, existing.fits(batch: batch, seqLen: seqLen, training: training) {
            a = existing
        } else {
            acts = nil  // free before allocating the new set
            a = Activations(config: c, batch: batch, seqLen: seqLen, training: training)
            acts = a
        }
        lastBatch = batch
        lastSeqLen = seqLen
        lastWasTraining = training

        let rows = batch * seqLen
        let dim = c.dim, qDim = c.qDim, kvDim = c.kvDim, qkvDim = qDim + 2 * kvDim, ffn = c.ffnDim
        let P = parameterStorage.pointer
        for i in 0..<rows { a.tokens[i] = tokens[i] }
        Embedding.forward(out: a.residual.pointer, tokens: tokens.baseAddress!, table: P + embeddingOffset, rows: rows, dim: dim)
        let shape = CausalSelfAttention.Shape(batch: batch, seqLen: seqLen, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                                              blockRows: CausalSelfAttention.blockRows(training: training))

        for l in 0..<c.layers {
            let w = layerOffsets[l]
            let s = training ? l : 0
            let x = training ? a.residual.pointer + l * rows * dim : a.residual.pointer
            let xMid = training ? a.mid.pointer + l * rows * dim : a.residual.pointer
            let xOut = training ? a.residual.pointer + (l + 1) * rows * dim : a.residual.pointer
            let ln1 = a.ln1.pointer + s * rows * dim, ln2 = a.ln2.pointer + s * rows * dim
            let qkv = a.qkv.pointer + s * rows * qkvDim
            let att = a.att.pointer + s * rows * qDim
            let gu = a.gu.pointer + s * rows * 2 * ffn
            let h = a.hidden.pointer + s * rows * ffn
            let probs = training ? a.probs.pointer + l * a.batch * c.heads * seqLen * seqLen : a.probs.pointer

            // Attention block: x_mid = x + Wo · attn(rope(Wqkv · rmsnorm(x)))
            RMSNorm.forward(out: ln1, rstd: a.rstd1.pointer + s * rows, inp: x, weight: P + w.attnNorm, rows: rows, dim: dim, eps: c.normEps)
            Linear.forward(out: qkv, inp: ln1, weight: P + w.wqkv, rows: rows, inDim: dim, outDim: qkvDim)
            a.rope.apply(qkv, rows: rows, rowStride: qkvDim, heads: c.heads + c.kvHeads, inverse: false)
            CausalSelfAttention.forward(out: att, qkv: qkv, probs: probs, scratch: a.attentionScratch.pointer, shape: shape, keepProbs: training)
            if xMid != x { xMid.update(from: x, count: rows * dim) }
            Linear.forward(out: xMid, inp: att, weight: P + w.wo, rows: rows, inDim: qDim, outDim: dim, accumulate: true)

            // Feed-forward block: x_out = x_mid + Wdown · swiglu(Wgu · rmsnorm(x_mid))
            RMSNorm.forward(out: ln2, rstd: a.rstd2.pointer + s * rows, inp: xMid, weight: P + w.ffnNorm, rows: rows, dim: dim, eps: c.normEps)
            Linear.forward(out: gu, inp: ln2, weight: P + w.wgu, rows: rows, inDim: dim, outDim: 2 * ffn)
            SwiGLU.forward(out: h, gu: gu, rows: rows, ffn: ffn)
            if xOut != xMid { xOut.update(from: xMid, count: rows * dim) }
            Linear.forward(out: xOut, inp: h, weight: P + w.wdown, rows: rows, inDim: ffn, outDim: dim, accumulate: true)
        }
        let xFinal = training ? a.residual.pointer + c.layers * rows * dim : a.residual.pointer
        RMSNorm.forward(out: a.normed.pointer, rstd: a.rstdFinal.pointer, inp: xFinal, weight: P + outputNormOffset,
                        rows: rows, dim: dim, eps: c.normEps)
        return UnsafeBufferPointer(start: a.normed.pointer, count: rows * dim)
    }

    /// Adds to `gradients` the gradient of every parameter given dHidden = ∂L/∂(final-normed hidden)
    /// [batch·seqLen, dim] for the last `forward(training: true)`. The LM head's own weight gradient is the
    /// caller's (via `LMHead.backward` into `outputWeightGradient`).
    public func backward(dHidden: UnsafeBufferPointer<Float>) throws {
        let c = config
        guard let a = acts, lastWasTraining else {
            throw TransformerError.shapeMismatch("backward needs a preceding forward(training: true)")
        }
        let batch = lastBatch, seqLen = lastSeqLen, rows = batch * seqLen
        let dim = c.dim, qDim = c.qDim, kvDim = c.kvDim, qkvDim = qDim + 2 * kvDim, ffn = c.ffnDim
        guard dHidden.count == rows * dim else {
            throw TransformerError.shapeMismatch("dHidden has \(dHidden.count) floats, expected \(rows) × \(dim)")
        }
        if scratch == nil || scratch!.rows < rows || scratch!.seqLen != seqLen {
            scratch = nil
            scratch = GradientScratch(config: c, rows: rows, seqLen: seqLen)
        }
        let g = scratch!
        let P = parameterStorage.pointer
        let G = gradientBuffer.pointer
        let dres = g.dResidual.pointer
        let shape = CausalSelfAttention.Shape(batch: batch, seqLen: seqLen, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)

        dres.update(repeating: 0, count: rows * dim)
        RMSNorm.backward(dInp: dres, dWeight: G + outputNormOffset, dOut: dHidden.baseAddress!,
                         inp: a.residual.pointer + c.layers * rows * dim, rstd: a.rstdFinal.pointer,
                         weight: P + outputNormOffset, rows: rows, dim: dim)

        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            let w = layerOffsets[l]
            let x = a.residual.pointer + l * rows * dim
            let xMid = a.mid.pointer + l * rows * dim
            let ln1 = a.ln1.pointer + l * rows * dim, ln2 = a.ln2.pointer + l * rows * dim
            let qkv = a.qkv.pointer + l * rows * qkvDim
            let att = a.att.pointer + l * rows * qDim
            let gu = a.gu.pointer + l * rows * 2 * ffn
            let h = a.hidden.pointer + l * rows * ffn
            let probs = a.probs.pointer + l * a.batch * c.heads * seqLen * seqLen

            // Feed-forward block (dres is ∂L/∂x_out, and passes straight through the residual to x_mid)
            Linear.backward(dInp: g.dHidden.pointer, dWeight: G + w.wdown, dOut: dres, inp: h, weight: P + w.wdown,
                            rows: rows, inDim: ffn, outDim: dim, accumulateInput: false)
            SwiGLU.backward(dgu: g.dgu.pointer, dh: g.dHidden.pointer, gu: gu, rows: rows, ffn: ffn)
            Linear.backward(dInp: g.dNormed.pointer, dWeight: G + w.wgu, dOut: g.dgu.pointer, inp: ln2, weight: P + w.wgu,
                            rows: rows, inDim: dim, outDim: 2 * ffn, accumulateInput: false)
            RMSNorm.backward(dInp: dres, dWeight: G + w.ffnNorm, dOut: g.dNormed.pointer, inp: xMid,
                             rstd: a.rstd2.pointer + l * rows, weight: P + w.ffnNorm, rows: rows, dim: dim)

            // Attention block (dres is now ∂L/∂x_mid)
            Linear.backward(dInp: g.dAtt.pointer, dWeight: G + w.wo, dOut: dres, inp: att, weight: P + w.wo,
                            rows: rows, inDim: qDim, outDim: dim, accumulateInput: false)
            g.dqkv.pointer.update(repeating: 0, count: rows * qkvDim)
            CausalSelfAttention.backward(dqkv: g.dqkv.pointer, dOut: g.dAtt.pointer, qkv: qkv, probs: probs,
                                         scratch: g.attention.pointer, shape: shape)
            a.rope.apply(g.dqkv.pointer, rows: rows, rowStride: qkvDim, heads: c.heads + c.kvHeads, inverse: true)
            Linear.backward(dInp: g.dNormed.pointer, dWeight: G + w.wqkv, dOut: g.dqkv.pointer, inp: ln1, weight: P + w.wqkv,
                            rows: rows, inDim: dim, outDim: qkvDim, accumulateInput: false)
            RMSNorm.backward(dInp: dres, dWeight: G + w.attnNorm, dOut: g.dNormed.pointer, inp: x,
                             rstd: a.rstd1.pointer + l * rows, weight: P + w.attnNorm, rows: rows, dim: dim)
        }
        a.tokens.withUnsafeBufferPointer { t in
            Embedding.backward(dTable: G + embeddingOffset, dOut: dres, tokens: t.baseAddress!, rows: rows, dim: dim)
        }
    }
}

/// SplitMix64 with Box–Muller normals: small, deterministic, platform-independent.
struct SplitMix64 {
    var state: UInt64
    var spare: Float?
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    mutating func nextUnit() -> Double { (Double(next() >> 11) + 0.5) / 9_007_199_254_740_992 }

    mutating func nextGaussian() -> Float {
        if let s = spare { spare = nil; return s }
        let u1 = nextUnit(), u2 = nextUnit()
        let r = (-2 * _log(u1)).squareRoot()
        spare = Float(r * _sin(2 * Double.pi * u2))
        return Float(r * _cos(2 * Double.pi * u2))
    }
}
