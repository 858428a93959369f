import Foundation
import Transformer

/// A plain scalar Llama in Double, written independently of the module's layers (naive loops, no BLAS,
/// no shared tables), used as the ground truth for forward outputs and for finite-difference gradients.
enum Ref {
    static func rmsNorm(_ x: [Double], _ w: [Double], rows: Int, dim: Int, eps: Double) -> [Double] {
        var y = [Double](repeating: 0, count: rows * dim)
        for r in 0..<rows {
            var ss = 0.0
            for i in 0..<dim { ss += x[r * dim + i] * x[r * dim + i] }
            let inv = 1 / (ss / Double(dim) + eps).squareRoot()
            for i in 0..<dim { y[r * dim + i] = x[r * dim + i] * inv * w[i] }
        }
        return y
    }

    /// y[r, o] = Σ_i x[r, i] · W[o, i]
    static func linear(_ x: [Double], _ w: [Double], rows: Int, inDim: Int, outDim: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * outDim)
        for r in 0..<rows {
            for o in 0..<outDim {
                var s = 0.0
                for i in 0..<inDim { s += x[r * inDim + i] * w[o * inDim + i] }
                y[r * outDim + o] = s
            }
        }
        return y
    }

    /// Rotates adjacent pairs of the first `heads` heads of each row; position = r % seqLen.
    static func rope(_ x: [Double], rows: Int, rowStride: Int, heads: Int, headDim: Int, seqLen: Int, base: Double) -> [Double] {
        var y = x
        for r in 0..<rows {
            let pos = Double(r % seqLen)
            for h in 0..<heads {
                for i in 0..<(headDim / 2) {
                    let ang = pos / pow(base, Double(2 * i) / Double(headDim))
                    let j = r * rowStride + h * headDim + 2 * i
                    y[j] = x[j] * cos(ang) - x[j + 1] * sin(ang)
                    y[j + 1] = x[j] * sin(ang) + x[j + 1] * cos(ang)
                }
            }
        }
        return y
    }

    /// Causal GQA attention on a [rows, qDim + 2·kvDim] qkv matrix; returns [rows, qDim].
    static func attention(_ qkv: [Double], batch: Int, seqLen: Int, heads: Int, kvHeads: Int, headDim: Int) -> [Double] {
        let qDim = heads * headDim, kvDim = kvHeads * headDim, ld = qDim + 2 * kvDim
        var out = [Double](repeating: 0, count: batch * seqLen * qDim)
        for b in 0..<batch {
            for h in 0..<heads {
                let kvh = h * kvHeads / heads
                for t in 0..<seqLen {
                    let qr = (b * seqLen + t) * ld + h * headDim
                    var scores = [Double](repeating: 0, count: t + 1)
                    for j in 0...t {
                        let kr = (b * seqLen + j) * ld + qDim + kvh * headDim
                        var s = 0.0
                        for d in 0..<headDim { s += qkv[qr + d] * qkv[kr + d] }
                        scores[j] = s / Double(headDim).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    for j in 0...t {
                        let vr = (b * seqLen + j) * ld + qDim + kvDim + kvh * headDim
                        for d in 0..<headDim { out[(b * seqLen + t) * qDim + h * headDim + d] += e[j] / z * qkv[vr + d] }
                    }
                }
            }
        }
        return out
    }

    /// [rows, 2·ffn] → [rows, ffn]: silu(g)·u.
    static func swiglu(_ gu: [Double], rows: Int, ffn: Int) -> [Double] {
        var y = [Double](repeating: 0, count: rows * ffn)
        for r in 0..<rows {
            for i in 0..<ffn {
                let g = gu[r * 2 * ffn + i], u = gu[r * 2 * ffn + ffn + i]
                y[r * ffn + i] = g / (1 + exp(-g)) * u
            }
        }
        return y
    }

    static func tensor(_ p: [Double], _ layout: ParameterLayout, _ name: String) -> [Double] {
        let s = layout[name]!
        return Array(p[s.offset..<(s.offset + s.count)])
    }

    /// The final-normed hidden states [batch·seqLen, dim].
    static func model(_ c: LlamaConfig, _ p: [Double], tokens: [UInt32], batch: Int, seqLen: Int) -> [Double] {
        let layout = ParameterLayout(config: c)
        let rows = batch * seqLen, dim = c.dim, eps = Double(c.normEps)
        let emb = tensor(p, layout, "token_embd")
        var x = [Double](repeating: 0, count: rows * dim)
        for r in 0..<rows { for i in 0..<dim { x[r * dim + i] = emb[Int(tokens[r]) * dim + i] } }
        for l in 0..<c.layers {
            let t = { (n: String) in tensor(p, layout, "blk.\(l).\(n)") }
            let h1 = rmsNorm(x, t("attn_norm"), rows: rows, dim: dim, eps: eps)
            let q = linear(h1, t("attn_q"), rows: rows, inDim: dim, outDim: c.qDim)
            let k = linear(h1, t("attn_k"), rows: rows, inDim: dim, outDim: c.kvDim)
            let v = linear(h1, t("attn_v"), rows: rows, inDim: dim, outDim: c.kvDim)
            var qkv = [Double]()
            for r in 0..<rows {
                qkv += q[(r * c.qDim)..<((r + 1) * c.qDim)]
                qkv += k[(r * c.kvDim)..<((r + 1) * c.kvDim)]
                qkv += v[(r * c.kvDim)..<((r + 1) * c.kvDim)]
            }
            let ld = c.qDim + 2 * c.kvDim
            qkv = rope(qkv, rows: rows, rowStride: ld, heads: c.heads + c.kvHeads, headDim: c.headDim, seqLen: seqLen, base: Double(c.ropeBase))
            let a = attention(qkv, batch: batch, seqLen: seqLen, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
            let o = linear(a, t("attn_output"), rows: rows, inDim: c.qDim, outDim: dim)
            for i in 0..<(rows * dim) { x[i] += o[i] }
            let h2 = rmsNorm(x, t("ffn_norm"), rows: rows, dim: dim, eps: eps)
            let g = linear(h2, t("ffn_gate"), rows: rows, inDim: dim, outDim: c.ffnDim)
            let u = linear(h2, t("ffn_up"), rows: rows, inDim: dim, outDim: c.ffnDim)
            var gu = [Double]()
            for r in 0..<rows { gu += g[(r * c.ffnDim)..<((r + 1) * c.ffnDim)]; gu += u[(r * c.ffnDim)..<((r + 1) * c.ffnDim)] }
            let f = linear(swiglu(gu, rows: rows, ffn: c.ffnDim), t("ffn_down"), rows: rows, inDim: c.ffnDim, outDim: dim)
            for i in 0..<(rows * dim) { x[i] += f[i] }
        }
        return rmsNorm(x, tensor(p, layout, "output_norm"), rows: rows, dim: dim, eps: eps)
    }

    /// Mean cross-entropy of softmax(hidden · Wᵀ) against `targets`.
    static func crossEntropy(hidden: [Double], weight: [Double], rows: Int, dim: Int, vocab: Int, targets: [Int]) -> Double {
        let logits = linear(hidden, weight, rows: rows, inDim: dim, outDim: vocab)
        var loss = 0.0
        for r in 0..<rows {
            let row = logits[(r * vocab)..<((r + 1) * vocab)]
            let m = row.max()!
            let lse = m + log(row.map { exp($0 - m) }.reduce(0, +))
            loss += lse - logits[r * vocab + targets[r]]
        }
        return loss / Double(rows)
    }
}

/// Deterministic test data.
struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 11
    }
    /// Uniform in [-1, 1).
    mutating func uniform() -> Double { Double(next() % (1 << 40)) / Double(1 << 39) - 1 }
    mutating func token(_ vocab: Int) -> UInt32 { UInt32(next() % UInt64(vocab)) }
}

/// Fills a model with O(1)-scale random weights (so attention is far from uniform) and norms near 1;
/// returns the same values in Double.
func randomiseModel(_ model: LlamaModel, seed: UInt64, scale: Double = 0.5) -> [Double] {
    var rng = TestRNG(seed)
    var d = [Double](repeating: 0, count: model.layout.count)
    for slot in model.layout.slots {
        let fanIn = Double(slot.shape.last!)
        for i in 0..<slot.count {
            let v = slot.shape.count == 1 ? 1 + 0.3 * rng.uniform() : rng.uniform() * scale * (slot.name == "token_embd" || slot.name == "output" ? 1 : 3 / fanIn.squareRoot())
            // Store exactly representable Float values so both sides see the same weights.
            let f = Float(v)
            model.parameters[slot.offset + i] = f
            d[slot.offset + i] = Double(f)
        }
    }
    return d
}

func maxRelativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    var num = 0.0, den = 1e-30
    for i in 0..<a.count { num = max(num, abs(a[i] - b[i])); den = max(den, abs(b[i])) }
    return num / den
}
