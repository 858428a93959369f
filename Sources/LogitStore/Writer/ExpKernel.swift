/// exp(x) for SIMD16 lanes with x ≤ 0 (finite), written only with operations that lower to plain vector
/// instructions (FastMath.exp's generic SIMD conversions and `pointwiseMax` are not vectorised by the compiler).
///
/// exp(x) = 2^y with y = x·log2(e): n = round(y) by the 1.5·2^23 "magic number" trick (whose sum also carries n
/// in its low mantissa bits, so no float→int conversion is needed), f = y − n ∈ [−½, ½], 2^f by a degree-5
/// polynomial with fused multiply-adds, and 2^n through the exponent bits. Relative error below 1e-5
/// (tested against libm), ample for float16 probabilities. y is clamped to ≥ −126, so inputs below ≈ −87.3 give
/// ≈1.2e-38 instead of a smaller value; summed over a vocabulary that changes nothing at float precision.
@inline(__always)
func expNonPositive(_ x: SIMD16<Float>) -> SIMD16<Float> {
    typealias V = SIMD16<Float>
    var y = x * V(repeating: 1.442_695_040_888_963_4)
    y.replace(with: V(repeating: -126), where: y .< V(repeating: -126))
    let magic = V(repeating: 12_582_912)  // 1.5 · 2^23
    let t = y + magic
    let f = y - (t - magic)
    var p = V(repeating: 1.333_355_814_642_844_3e-3)
    p = V(repeating: 9.618_129_107_628_477_2e-3).addingProduct(p, f)
    p = V(repeating: 5.550_410_866_482_158_0e-2).addingProduct(p, f)
    p = V(repeating: 0.240_226_506_959_100_71).addingProduct(p, f)
    p = V(repeating: 0.693_147_180_559_945_31).addingProduct(p, f)
    p = V(repeating: 1).addingProduct(p, f)
    // The low 22 bits of t's pattern hold n (two's complement); (bits + 127) << 23 is the pattern of 2^n.
    let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self)
    return p * unsafeBitCast((bits &+ SIMD16<UInt32>(repeating: 127)) &<< SIMD16<UInt32>(repeating: 23), to: V.self)
}

/// Horizontal maximum of 16 lanes by halving with vector selects (`SIMD.max()` compiles to a branchy scalar loop).
@inline(__always)
func horizontalMax(_ v: SIMD16<Float>) -> Float {
    var a = v.lowHalf, b = v.highHalf
    a.replace(with: b, where: b .> a)
    var c = a.lowHalf, d = a.highHalf
    c.replace(with: d, where: d .> c)
    var e = c.lowHalf, f = c.highHalf
    e.replace(with: f, where: f .> e)
    return e[0] > e[1] ? e[0] : e[1]
}
