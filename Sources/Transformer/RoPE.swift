import Foundation

/// Rotary position embedding on ADJACENT pairs (2i, 2i+1) of each head (the llama.cpp/GGUF convention),
/// angle = position · base^(−2i/headDim), position = index within the sequence.
public struct RoPE {
    /// Positions the tables cover.
    public let seqLen: Int
    /// Width of one head (even); pairs (2i, 2i+1) rotate together.
    public let headDim: Int
    /// cos and sin tables, [seqLen, headDim/2].
    public let cos: [Float]
    /// Sine table, [seqLen, headDim/2], alongside `cos`.
    public let sin: [Float]

    /// Precomputes the tables for positions 0..<seqLen with frequency base `base`.
    public init(seqLen: Int, headDim: Int, base: Float) {
        self.seqLen = seqLen
        self.headDim = headDim
        let half = headDim / 2
        var c = [Float](repeating: 0, count: seqLen * half)
        var s = [Float](repeating: 0, count: seqLen * half)
        for t in 0..<seqLen {
            for i in 0..<half {
                let theta = Double(t) * pow(Double(base), -2 * Double(i) / Double(headDim))
                c[t * half + i] = Float(Foundation.cos(theta))
                s[t * half + i] = Float(Foundation.sin(theta))
            }
        }
        cos = c
        sin = s
    }

    /// Rotates `heads` consecutive heads of every row in place. Row r is at position r % seqLen.
    /// `inverse` applies the transposed rotation, which is the backward pass (RoPE is orthogonal).
    public func apply(_ data: UnsafeMutablePointer<Float>, rows: Int, rowStride: Int, heads: Int, inverse: Bool) {
        let half = headDim / 2
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                let sign: Float = inverse ? -1 : 1
                for r in 0..<rows {
                    let t = r % seqLen
                    let c = cp.baseAddress! + t * half
                    let s = sp.baseAddress! + t * half
                    for h in 0..<heads {
                        let x = data + r * rowStride + h * headDim
                        for i in 0..<half {
                            let a = x[2 * i], b = x[2 * i + 1]
                            let si = sign * s[i]
                            x[2 * i] = a * c[i] - b * si
                            x[2 * i + 1] = a * si + b * c[i]
                        }
                    }
                }
            }
        }
    }
}
