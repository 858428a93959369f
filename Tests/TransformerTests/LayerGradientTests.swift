import XCTest
import Transformer

/// Each layer's forward against the scalar Double reference and its backward against central finite
/// differences of that reference (Double), with L = Σ w ⊙ y for a random w.
final class LayerGradientTests: XCTestCase {
    func testRMSNorm() {
        var rng = TestRNG(11)
        let rows = 5, dim = 19, eps = 1e-5
        let x = randomFloats(rows * dim, &rng, scale: 2), w = randomFloats(dim, &rng, scale: 0.5, offset: 1)
        let wOut = randomFloats(rows * dim, &rng)
        var y = [Float](repeating: 0, count: rows * dim), rstd = [Float](repeating: 0, count: rows)
        let xf = x.floats, wf = w.floats
        RMSNorm.forward(out: &y, rstd: &rstd, inp: xf, weight: wf, rows: rows, dim: dim, eps: Float(eps))
        XCTAssertLessThan(maxRelativeError(y.doubles, Ref.rmsNorm(x, w, rows: rows, dim: dim, eps: eps)), 1e-6)
        var dx = [Float](repeating: 0, count: rows * dim), dw = [Float](repeating: 0, count: dim)
        RMSNorm.backward(dInp: &dx, dWeight: &dw, dOut: wOut.floats, inp: xf, rstd: rstd, weight: wf, rows: rows, dim: dim)
        let num = finiteDifferenceGradients([x, w], wOut: wOut) { Ref.rmsNorm($0[0], $0[1], rows: rows, dim: dim, eps: eps) }
        assertGradient(dx, num[0], "RMSNorm dx")
        assertGradient(dw, num[1], "RMSNorm dw")
    }

    func testLinear() {
        var rng = TestRNG(12)
        let rows = 7, inDim = 5, outDim = 3
        let x = randomFloats(rows * inDim, &rng), w = randomFloats(outDim * inDim, &rng)
        let wOut = randomFloats(rows * outDim, &rng)
        var y = [Float](repeating: 0, count: rows * outDim)
        Linear.forward(out: &y, inp: x.floats, weight: w.floats, rows: rows, inDim: inDim, outDim: outDim)
        XCTAssertLessThan(maxRelativeError(y.doubles, Ref.linear(x, w, rows: rows, inDim: inDim, outDim: outDim)), 1e-6)
        var dx = [Float](repeating: 0, count: rows * inDim), dw = [Float](repeating: 0, count: outDim * inDim)
        Linear.backward(dInp: &dx, dWeight: &dw, dOut: wOut.floats, inp: x.floats, weight: w.floats,
                        rows: rows, inDim: inDim, outDim: outDim, accumulateInput: false)
        let num = finiteDifferenceGradients([x, w], wOut: wOut) { Ref.linear($0[0], $0[1], rows: rows, inDim: inDim, outDim: outDim) }
        assertGradient(dx, num[0], "Linear dx")
        assertGradient(dw, num[1], "Linear dW")
        // Weight gradients accumulate across calls.
        Linear.backward(dInp: &dx, dWeight: &dw, dOut: wOut.floats, inp: x.floats, weight: w.floats,
                        rows: rows, inDim: inDim, outDim: outDim, accumulateInput: false)
        assertGradient(dw, num[1].map { 2 * $0 }, "Linear dW accumulated twice")
    }

    func testRoPE() {
        var rng = TestRNG(13)
        let seqLen = 6, rows = 2 * seqLen, heads = 3, hd = 8, stride = heads * hd + 2, base = 50.0
        let x = randomFloats(rows * stride, &rng)
        let wOut = randomFloats(rows * stride, &rng)
        let rope = RoPE(seqLen: seqLen, headDim: hd, base: Float(base))
        var y = x.floats
        rope.apply(&y, rows: rows, rowStride: stride, heads: heads, inverse: false)
        let want = Ref.rope(x, rows: rows, rowStride: stride, heads: heads, headDim: hd, seqLen: seqLen, base: base)
        XCTAssertLessThan(maxRelativeError(y.doubles, want), 1e-6)
        var d = wOut.floats
        rope.apply(&d, rows: rows, rowStride: stride, heads: heads, inverse: true)
        let num = finiteDifferenceGradients([x], wOut: wOut) {
            Ref.rope($0[0], rows: rows, rowStride: stride, heads: heads, headDim: hd, seqLen: seqLen, base: base)
        }
        assertGradient(d, num[0], "RoPE dx")
    }

    /// GQA (4 query heads over 2 KV heads), a sequence longer than one 64-row attention block, and a
    /// batch of short sequences.
    func testCausalSelfAttention() {
        for (batch, seqLen) in [(1, 66), (3, 5)] {
            var rng = TestRNG(14 + UInt64(batch))
            let shape = CausalSelfAttention.Shape(batch: batch, seqLen: seqLen, heads: 4, kvHeads: 2, headDim: 4)
            let rows = batch * seqLen
            let qkv = randomFloats(rows * shape.qkvDim, &rng, scale: 1.5)
            let wOut = randomFloats(rows * shape.qDim, &rng)
            var out = [Float](repeating: 0, count: rows * shape.qDim)
            var probs = [Float](repeating: 0, count: shape.probsCount)
            var fscratch = [Float](repeating: 0, count: shape.forwardScratchCount)
            CausalSelfAttention.forward(out: &out, qkv: qkv.floats, probs: &probs, scratch: &fscratch, shape: shape, keepProbs: true)
            let ref = { (q: [Double]) in Ref.attention(q, batch: batch, seqLen: seqLen, heads: 4, kvHeads: 2, headDim: 4) }
            XCTAssertLessThan(maxRelativeError(out.doubles, ref(qkv)), 1e-5)
            var dqkv = [Float](repeating: 0, count: rows * shape.qkvDim)
            var scratch = [Float](repeating: 0, count: shape.backwardScratchCount)
            CausalSelfAttention.backward(dqkv: &dqkv, dOut: wOut.floats, qkv: qkv.floats, probs: probs, scratch: &scratch, shape: shape)
            let num = finiteDifferenceGradients([qkv], wOut: wOut) { ref($0[0]) }
            assertGradient(dqkv, num[0], "attention dqkv (batch \(batch), seqLen \(seqLen))")
        }
    }

    func testSwiGLU() {
        var rng = TestRNG(15)
        let rows = 3, ffn = 21
        let gu = randomFloats(rows * 2 * ffn, &rng, scale: 4)
        let wOut = randomFloats(rows * ffn, &rng)
        var h = [Float](repeating: 0, count: rows * ffn)
        SwiGLU.forward(out: &h, gu: gu.floats, rows: rows, ffn: ffn)
        XCTAssertLessThan(maxRelativeError(h.doubles, Ref.swiglu(gu, rows: rows, ffn: ffn)), 1e-6)
        var dgu = [Float](repeating: 0, count: rows * 2 * ffn)
        SwiGLU.backward(dgu: &dgu, dh: wOut.floats, gu: gu.floats, rows: rows, ffn: ffn)
        let num = finiteDifferenceGradients([gu], wOut: wOut) { Ref.swiglu($0[0], rows: rows, ffn: ffn) }
        assertGradient(dgu, num[0], "SwiGLU dgu")
    }

    func testEmbedding() {
        var rng = TestRNG(16)
        let vocab = 7, dim = 5
        let tokens: [UInt32] = [3, 0, 3, 6, 3, 1]
        let rows = tokens.count
        let table = randomFloats(vocab * dim, &rng)
        let wOut = randomFloats(rows * dim, &rng)
        func ref(_ t: [Double]) -> [Double] { tokens.flatMap { t[(Int($0) * dim)..<(Int($0) * dim + dim)] } }
        var y = [Float](repeating: 0, count: rows * dim)
        Embedding.forward(out: &y, tokens: tokens, table: table.floats, rows: rows, dim: dim)
        XCTAssertEqual(y.doubles, ref(table))
        var dt = [Float](repeating: 0, count: vocab * dim)
        Embedding.backward(dTable: &dt, dOut: wOut.floats, tokens: tokens, rows: rows, dim: dim)
        let num = finiteDifferenceGradients([table], wOut: wOut) { ref($0[0]) }
        assertGradient(dt, num[0], "Embedding dTable")
    }

    func testLMHeadLogitsAndBackward() {
        var rng = TestRNG(17)
        let rows = 4, dim = 6, vocab = 9
        let h = randomFloats(rows * dim, &rng), w = randomFloats(vocab * dim, &rng)
        let wOut = randomFloats(rows * vocab, &rng)
        var logits = [Float](repeating: 0, count: rows * vocab)
        LMHead.logits(hidden: h.floats, rows: rows, dim: dim, weight: w.floats, vocab: vocab, into: &logits)
        XCTAssertLessThan(maxRelativeError(logits.doubles, Ref.linear(h, w, rows: rows, inDim: dim, outDim: vocab)), 1e-6)
        var dh = [Float](repeating: 0, count: rows * dim), dw = [Float](repeating: 0, count: vocab * dim)
        LMHead.backward(dLogits: wOut.floats, hidden: h.floats, rows: rows, dim: dim, weight: w.floats, vocab: vocab, dHidden: &dh, dWeight: &dw)
        let num = finiteDifferenceGradients([h, w], wOut: wOut) { Ref.linear($0[0], $0[1], rows: rows, inDim: dim, outDim: vocab) }
        assertGradient(dh, num[0], "LMHead dHidden")
        assertGradient(dw, num[1], "LMHead dWeight")
    }
}
