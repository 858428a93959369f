import FastMath

/// SwiGLU: h = silu(g) ⊙ u, where each row of `gu` holds [g (ffn) | u (ffn)] from one product with
/// the stacked [ffn_gate; ffn_up] weight.
public enum SwiGLU {
    typealias V = SIMD16<Float>

    /// h = silu(g) ⊙ u for `rows` rows: reads [rows, 2·ffn] from `gu`, writes [rows, ffn] to `out`.
    public static func forward(out: UnsafeMutablePointer<Float>, gu: UnsafePointer<Float>, rows: Int, ffn: Int) {
        for r in 0..<rows {
            let g = gu + r * 2 * ffn, u = g + ffn, h = out + r * ffn
            var i = 0
            while i + 16 <= ffn {
                let gv = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
                let uv = UnsafeRawPointer(u + i).loadUnaligned(as: V.self)
                let sig = 1 / (1 + FastMath.exp(-gv))
                UnsafeMutableRawPointer(h + i).storeBytes(of: gv * sig * uv, as: V.self)
                i += 16
            }
            while i < ffn {
                let sig = 1 / (1 + FastMath.exp(-g[i]))
                h[i] = g[i] * sig * u[i]
                i += 1
            }
        }
    }

    /// dgu = [dg | du] (overwritten) from dh: du = dh·silu(g), dg = dh·u·σ(g)·(1 + g·(1 − σ(g))).
    public static func backward(dgu: UnsafeMutablePointer<Float>, dh: UnsafePointer<Float>, gu: UnsafePointer<Float>,
                         rows: Int, ffn: Int) {
        for r in 0..<rows {
            let g = gu + r * 2 * ffn, u = g + ffn
            let dg = dgu + r * 2 * ffn, du = dg + ffn
            let d = dh + r * ffn
            var i = 0
            while i + 16 <= ffn {
                let gv = UnsafeRawPointer(g + i).loadUnaligned(as: V.self)
                let uv = UnsafeRawPointer(u + i).loadUnaligned(as: V.self)
                let dv = UnsafeRawPointer(d + i).loadUnaligned(as: V.self)
                let sig = 1 / (1 + FastMath.exp(-gv))
                UnsafeMutableRawPointer(du + i).storeBytes(of: dv * gv * sig, as: V.self)
                UnsafeMutableRawPointer(dg + i).storeBytes(of: dv * uv * sig * (1 + gv * (1 - sig)), as: V.self)
                i += 16
            }
            while i < ffn {
                let sig = 1 / (1 + FastMath.exp(-g[i]))
                du[i] = d[i] * g[i] * sig
                dg[i] = d[i] * u[i] * sig * (1 + g[i] * (1 - sig))
                i += 1
            }
        }
    }
}
