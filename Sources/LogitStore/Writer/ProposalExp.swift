/// Double-precision exponentials for the sampler's proposal weights, eight lanes at a time.
///
/// The draws compare u·C_V with cumulative sums C_i of the proposal weights, so those weights are computed in
/// double precision (the Spec's definition): a float32 exp would move the boundaries by about 1e-7 of the mass
/// and change which tail id a draw lands on far more often than two double-precision implementations disagree.
enum ProposalExp {
    typealias Vector = SIMD8<Double>

    /// exp(x) for x ≤ 0 (finite or −∞), relative error about 1 ulp; 0 below −708 (where exp is subnormal).
    /// 2^n·exp(r) with n = round(x·log2 e) (from the 1.5·2^52 "magic" sum, whose low mantissa bits hold n),
    /// r = x − n·ln 2 in two parts (Cody–Waite, fdlibm's split) so |r| ≤ ln2/2, and exp(r) as its Taylor series to
    /// degree 13 (truncation error below 5e-18), in Horner form.
    @inline(__always)
    static func expNonPositive(_ x: Vector) -> Vector {
        let magic = Vector(repeating: 6_755_399_441_055_744)  // 1.5 · 2^52
        let t = x * Vector(repeating: 1.442_695_040_888_963_4) + magic
        let n = t - magic
        let r = (x - n * Vector(repeating: 6.931_471_803_691_238_164_90e-01)) - n * Vector(repeating: 1.908_214_929_270_587_700_02e-10)
        // Horner steps as fused multiply-adds (c + p·r), as FastMath's float kernel writes them.
        var p = Vector(repeating: 1.0 / 6_227_020_800)  // 1/13!
        p = Vector(repeating: 1.0 / 479_001_600).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 39_916_800).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 3_628_800).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 362_880).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 40_320).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 5_040).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 720).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 120).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 24).addingProduct(p, r)
        p = Vector(repeating: 1.0 / 6).addingProduct(p, r)
        p = Vector(repeating: 0.5).addingProduct(p, r)
        p = Vector(repeating: 1).addingProduct(p, r)
        p = Vector(repeating: 1).addingProduct(p, r)
        let bits = unsafeBitCast(t, to: SIMD8<UInt64>.self)
        var y = p * unsafeBitCast((bits &+ SIMD8<UInt64>(repeating: 1023)) &<< SIMD8<UInt64>(repeating: 52), to: Vector.self)
        y.replace(with: 0, where: .!(x .>= Vector(repeating: -708)))  // also −∞ and NaN lanes
        return y
    }

    /// r_j = exp((x_j − m)·invS) for j in 0..<count (count ≤ 64) into `out`, where x − m is formed in double
    /// precision from the float32 values.
    @inline(__always)
    static func proposal(_ x: UnsafePointer<Float>, count: Int, max m: Double, scale invS: Double, into out: UnsafeMutablePointer<Double>) {
        let mv = Vector(repeating: m), sv = Vector(repeating: invS)
        var i = 0
        while i + 8 <= count {
            let f = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            let v = expNonPositive((Vector(f) - mv) * sv)
            UnsafeMutableRawPointer(out + i).storeBytes(of: v, as: Vector.self)
            i += 8
        }
        if i < count {
            var f = SIMD8<Float>(repeating: -.infinity)
            for l in 0..<(count - i) { f[l] = x[i + l] }
            let v = expNonPositive((Vector(f) - mv) * sv)
            for l in 0..<(count - i) { out[i + l] = v[l] }
        }
    }

    /// Σ_j exp((x_j − m)·invS) over one 64-wide block (or a shorter last block), summed lane-wise then across lanes.
    @inline(__always)
    static func blockSum(_ x: UnsafePointer<Float>, count: Int, max m: Double, scale invS: Double) -> Double {
        let mv = Vector(repeating: m), sv = Vector(repeating: invS)
        var acc = Vector(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let f = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
            acc += expNonPositive((Vector(f) - mv) * sv)
            i += 8
        }
        if i < count {
            var f = SIMD8<Float>(repeating: -.infinity)
            for l in 0..<(count - i) { f[l] = x[i + l] }
            acc += expNonPositive((Vector(f) - mv) * sv)
        }
        return acc.sum()
    }
}
