import Foundation
import Transformer

/// `transformer-bench profile [teacher|student]`: times each layer of one transformer block in isolation
/// (forward, and backward for the student shape), to show where a step's time goes.
/// CPU time of the calling thread: with OPENBLAS_NUM_THREADS=1 this measures the work of a layer
/// without the time the (shared, busy) machine spends running other processes.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func profileLayers(config c: LlamaConfig, batch: Int, seqLen: Int, backward: Bool) {
    let rows = batch * seqLen, D = c.dim, qkvDim = c.qDim + 2 * c.kvDim, F = c.ffnDim
    func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        for i in 0..<n { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
        return p
    }
    let x = buf(rows * D), ln = buf(rows * D), rstd = buf(rows), w = buf(D)
    let wqkv = buf(qkvDim * D), qkv = buf(rows * qkvDim), att = buf(rows * c.qDim), wo = buf(D * c.qDim)
    let wgu = buf(2 * F * D), gu = buf(rows * 2 * F), h = buf(rows * F), wd = buf(D * F)
    let shape = CausalSelfAttention.Shape(batch: batch, seqLen: seqLen, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim,
                                          blockRows: CausalSelfAttention.blockRows(training: backward))
    let probs = buf(shape.probsCount), scratch = buf(shape.backwardScratchCount), fscratch = buf(shape.forwardScratchCount)
    let dx = buf(rows * D), dw = buf(2 * F * D), dqkv = buf(rows * qkvDim), dgu = buf(rows * 2 * F)
    let rope = RoPE(seqLen: seqLen, headDim: c.headDim, base: c.ropeBase)
    let args = CommandLine.arguments
    let only = args.firstIndex(of: "--only").flatMap { $0 + 1 < args.count ? args[$0 + 1] : nil }
    func time(_ name: String, _ flops: Double, _ body: () -> Void) {
        if let only, !name.hasPrefix(only) { return }
        body()
        var best = Double.infinity
        for _ in 0..<10 {
            let t0 = threadCPUSeconds()
            body()
            best = min(best, threadCPUSeconds() - t0)
        }
        let g = flops > 0 ? String(format: "  %6.1f GFLOP/s", flops / best / 1e9) : ""
        print(name.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%8.2f ms", best * 1e3) + g)
    }
    let r = Double(rows)
    time("rmsnorm fwd", 0) { RMSNorm.forward(out: ln, rstd: rstd, inp: x, weight: w, rows: rows, dim: D, eps: 1e-5) }
    time("qkv linear fwd", 2 * r * Double(D * qkvDim)) { Linear.forward(out: qkv, inp: ln, weight: wqkv, rows: rows, inDim: D, outDim: qkvDim) }
    time("rope fwd", 0) { rope.apply(qkv, rows: rows, rowStride: qkvDim, heads: c.heads + c.kvHeads, inverse: false) }
    let attFlops = 2 * 2 * Double(batch * c.heads) * Double(seqLen * (seqLen + 1) / 2) * Double(c.headDim)
    time("attention fwd", attFlops) { CausalSelfAttention.forward(out: att, qkv: qkv, probs: probs, scratch: fscratch, shape: shape, keepProbs: backward) }
    time("attn_output fwd", 2 * r * Double(D * c.qDim)) { Linear.forward(out: x, inp: att, weight: wo, rows: rows, inDim: c.qDim, outDim: D, accumulate: true) }
    time("gate+up fwd", 2 * r * Double(2 * F * D)) { Linear.forward(out: gu, inp: ln, weight: wgu, rows: rows, inDim: D, outDim: 2 * F) }
    time("swiglu fwd", 0) { SwiGLU.forward(out: h, gu: gu, rows: rows, ffn: F) }
    time("down fwd", 2 * r * Double(F * D)) { Linear.forward(out: x, inp: h, weight: wd, rows: rows, inDim: F, outDim: D, accumulate: true) }
    guard backward else { return }
    time("down bwd", 4 * r * Double(F * D)) { Linear.backward(dInp: h, dWeight: dw, dOut: dx, inp: h, weight: wd, rows: rows, inDim: F, outDim: D, accumulateInput: false) }
    time("swiglu bwd", 0) { SwiGLU.backward(dgu: dgu, dh: h, gu: gu, rows: rows, ffn: F) }
    time("gate+up bwd", 4 * r * Double(2 * F * D)) { Linear.backward(dInp: ln, dWeight: dw, dOut: dgu, inp: ln, weight: wgu, rows: rows, inDim: D, outDim: 2 * F, accumulateInput: false) }
    time("attn_output bwd", 4 * r * Double(D * c.qDim)) { Linear.backward(dInp: att, dWeight: dw, dOut: dx, inp: att, weight: wo, rows: rows, inDim: c.qDim, outDim: D, accumulateInput: false) }
    time("attention bwd", 2 * attFlops) { CausalSelfAttention.backward(dqkv: dqkv, dOut: att, qkv: qkv, probs: probs, scratch: scratch, shape: shape) }
    time("rope bwd", 0) { rope.apply(dqkv, rows: rows, rowStride: qkvDim, heads: c.heads + c.kvHeads, inverse: true) }
    time("qkv linear bwd", 4 * r * Double(D * qkvDim)) { Linear.backward(dInp: ln, dWeight: dw, dOut: dqkv, inp: ln, weight: wqkv, rows: rows, inDim: D, outDim: qkvDim, accumulateInput: false) }
    time("rmsnorm bwd", 0) { RMSNorm.backward(dInp: dx, dWeight: w, dOut: ln, inp: x, rstd: rstd, weight: w, rows: rows, dim: D) }
}
