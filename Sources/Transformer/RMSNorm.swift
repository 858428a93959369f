/// RMSNorm: y = w ⊙ x / sqrt(mean(x²) + eps), per row.
public enum RMSNorm {
    /// Writes `out[rows, dim]` and the per-row reciprocal RMS `rstd[rows]` (kept for backward).
    public static func forward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?,
                        inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float) {
        for r in 0..<rows {
            let x = inp + r * dim
            let y = out + r * dim
            let s = 1 / (Vec.sumSquares(x, dim) / Float(dim) + eps).squareRoot()
            rstd?[r] = s
            for i in 0..<dim { y[i] = x[i] * s * weight[i] }
        }
    }

    /// dInp += ∂L/∂x and dWeight += ∂L/∂w, given dOut = ∂L/∂y.
    /// With x̂ = x·rstd and g = dOut ⊙ w: dx = rstd · (g − x̂ · mean(g ⊙ x̂)).
    public static func backward(dInp: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                         dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, rows: Int, dim: Int) {
        for r in 0..<rows {
            let x = inp + r * dim
            let dy = dOut + r * dim
            let dx = dInp + r * dim
            let s = rstd[r]
            // mean(g ⊙ x̂) = rstd · Σ dy·w·x / dim
            var acc: Float = 0
            for i in 0..<dim { acc += dy[i] * weight[i] * x[i] }
            let m = acc * s / Float(dim)
            for i in 0..<dim {
                let xh = x[i] * s
                dWeight[i] += dy[i] * xh
                dx[i] += s * (dy[i] * weight[i] - xh * m)
            }
        }
    }
}
