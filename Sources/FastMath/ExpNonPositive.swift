extension FastMath {
    /// exp(x) for 16 lanes with x ≤ 0 and finite or −inf (a softmax's x − max): 2^y with y = x·log2(e) split into
    /// n = round(y), found with the 1.5·2^23 "magic number" (the sum also carries n in its low mantissa bits, so
    /// no float→int conversion is needed), and f = y − n ∈ [−½, ½], whose 2^f is a degree-5 polynomial in fused
    /// multiply-adds; 2^n goes in through the exponent bits. Relative error below 1e-5 (tested against libm).
    /// y is clamped to ≥ −126, so inputs below ≈ −87.3 (−inf included) give ≈ 1.2e-38 instead of a smaller value,
    /// which changes no float sum over a vocabulary. Positive inputs are not supported (use `exp`).
    @inlinable @inline(__always)
    public static func expNonPositive(_ x: Vector) -> Vector {
        var y = x * Vector(repeating: 1.442_695_040_888_963_4)
        y.replace(with: Vector(repeating: -126), where: y .< Vector(repeating: -126))
        let magic = Vector(repeating: 12_582_912)  // 1.5 · 2^23
        let t = y + magic
        let f = y - (t - magic)
        var p = Vector(repeating: 1.333_355_814_642_844_3e-3)
        p = Vector(repeating: 9.618_129_107_628_477_2e-3).addingProduct(p, f)
        p = Vector(repeating: 5.550_410_866_482_158_0e-2).addingProduct(p, f)
        p = Vector(repeating: 0.240_226_506_959_100_71).addingProduct(p, f)
        p = Vector(repeating: 0.693_147_180_559_945_31).addingProduct(p, f)
        p = Vector(repeating: 1).addingProduct(p, f)
        // The low 22 bits of t's pattern hold n (two's complement); (bits + 127) << 23 is the pattern of 2^n.
        let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self)
        return p * unsafeBitCast((bits &+ SIMD16<UInt32>(repeating: 127)) &<< SIMD16<UInt32>(repeating: 23), to: Vector.self)
    }

    /// The largest of 16 lanes, by halving with vector selects (`SIMD.max()` compiles to a branchy scalar loop).
    @inlinable @inline(__always)
    public static func horizontalMax(_ v: Vector) -> Float {
        var a = v.lowHalf, b = v.highHalf
        a.replace(with: b, where: b .> a)
        var c = a.lowHalf, d = a.highHalf
        c.replace(with: d, where: d .> c)
        var e = c.lowHalf, f = c.highHalf
        e.replace(with: f, where: f .> e)
        return e[0] > e[1] ? e[0] : e[1]
    }
}
