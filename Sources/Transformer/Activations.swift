/// Activation buffers for one (batch, seqLen, training) shape, reused across calls of the same or a
/// smaller shape. In training every layer keeps its own copies for backward; in inference one set is
/// shared by all layers and the residual stream is updated in place.
final class Activations {
    let batch: Int
    let seqLen: Int
    let training: Bool
    let rows: Int
    /// Number of per-layer copies (layers when training, else 1).
    let stored: Int

    /// Residual stream. Training: layers+1 slices [rows, dim] (input of each layer, then the final one).
    let residual: FloatBuffer
    /// Residual after attention. Training: one slice per layer; inference: unused (the residual is updated in place).
    let mid: FloatBuffer
    let ln1, ln2: FloatBuffer        // [stored, rows, dim]
    let rstd1, rstd2: FloatBuffer    // [stored, rows]
    let qkv: FloatBuffer             // [stored, rows, qkvDim] (after RoPE)
    let att: FloatBuffer             // [stored, rows, qDim] (attention output before attn_output)
    let probs: FloatBuffer           // training: [layers, batch·heads·T·T]; inference: one block's
    let attentionScratch: FloatBuffer
    let gu: FloatBuffer              // [stored, rows, 2·ffn]
    let hidden: FloatBuffer          // [stored, rows, ffn] (SwiGLU output)
    let normed: FloatBuffer          // [rows, dim], the model's output
    let rstdFinal: FloatBuffer       // [rows]
    var tokens: [UInt32]
    let rope: RoPE

    init(config c: LlamaConfig, batch: Int, seqLen: Int, training: Bool) {
        self.batch = batch
        self.seqLen = seqLen
        self.training = training
        rows = batch * seqLen
        stored = training ? c.layers : 1
        let qkvDim = c.qDim + 2 * c.kvDim
        residual = FloatBuffer(count: (training ? c.layers + 1 : 1) * rows * c.dim)
        mid = FloatBuffer(count: training ? c.layers * rows * c.dim : 0)
        ln1 = FloatBuffer(count: stored * rows * c.dim)
        ln2 = FloatBuffer(count: stored * rows * c.dim)
        rstd1 = FloatBuffer(count: stored * rows)
        rstd2 = FloatBuffer(count: stored * rows)
        qkv = FloatBuffer(count: stored * rows * qkvDim)
        att = FloatBuffer(count: stored * rows * c.qDim)
        let shape = CausalSelfAttention.Shape(batch: batch, seqLen: seqLen, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                                              blockRows: CausalSelfAttention.blockRows(training: training))
        probs = FloatBuffer(count: training ? c.layers * shape.probsCount : shape.blockProbsCount)
        attentionScratch = FloatBuffer(count: shape.forwardScratchCount)
        gu = FloatBuffer(count: stored * rows * 2 * c.ffnDim)
        hidden = FloatBuffer(count: stored * rows * c.ffnDim)
        normed = FloatBuffer(count: rows * c.dim)
        rstdFinal = FloatBuffer(count: rows)
        tokens = [UInt32](repeating: 0, count: rows)
        rope = RoPE(seqLen: seqLen, headDim: c.headDim, base: c.ropeBase)
    }

    /// True when these buffers can serve a call of this shape without reallocating.
    func fits(batch: Int, seqLen: Int, training: Bool) -> Bool {
        self.training == training && self.seqLen == seqLen && batch <= self.batch
    }
}

/// Scratch for backward, sized like the activations that produced it.
final class GradientScratch {
    let rows: Int
    let seqLen: Int
    let dResidual: FloatBuffer   // [rows, dim]  ∂L/∂(residual stream)
    let dNormed: FloatBuffer     // [rows, dim]  ∂L/∂(RMSNorm output)
    let dqkv: FloatBuffer        // [rows, qkvDim]
    let dAtt: FloatBuffer        // [rows, qDim]
    let dgu: FloatBuffer         // [rows, 2·ffn]
    let dHidden: FloatBuffer     // [rows, ffn]
    let attention: FloatBuffer   // CausalSelfAttention backward scratch

    init(config c: LlamaConfig, rows: Int, seqLen: Int) {
        self.rows = rows
        self.seqLen = seqLen
        dResidual = FloatBuffer(count: rows * c.dim)
        dNormed = FloatBuffer(count: rows * c.dim)
        dqkv = FloatBuffer(count: rows * (c.qDim + 2 * c.kvDim))
        dAtt = FloatBuffer(count: rows * c.qDim)
        dgu = FloatBuffer(count: rows * 2 * c.ffnDim)
        dHidden = FloatBuffer(count: rows * c.ffnDim)
        attention = FloatBuffer(count: CausalSelfAttention.Shape(batch: 1, seqLen: seqLen, heads: c.heads, kvHeads: c.kvHeads,
                                                                headDim: c.headDim).backwardScratchCount)
    }
}
