#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) func _log(_ x: Double) -> Double { log(x) }
@inline(__always) func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) func _cos(_ x: Double) -> Double { cos(x) }

/// exp(x) for 16 lanes with x ≤ 0 (attention scores minus their row maximum): 2^(x·log2 e) split into a rounded
/// integer part (magic-number rounding, so no float→int conversion) and a fraction in [−½, ½] whose 2^f is a
/// degree-5 polynomial; relative error below 1e-5. Lanes below about −87 give about 1e-38, −inf gives 0-ish
/// (clamped at 2^−126), which sums to nothing at float precision.
@inline(__always)
func expNonPositive(_ x: SIMD16<Float>) -> SIMD16<Float> {
    typealias V = SIMD16<Float>
    var y = x * V(repeating: 1.442_695_040_888_963_4)
    y.replace(with: V(repeating: -126), where: y .< V(repeating: -126))
    let magic = V(repeating: 12_582_912)
    let t = y + magic
    let f = y - (t - magic)
    var p = V(repeating: 1.333_355_814_642_844_3e-3)
    p = V(repeating: 9.618_129_107_628_477_2e-3).addingProduct(p, f)
    p = V(repeating: 5.550_410_866_482_158_0e-2).addingProduct(p, f)
    p = V(repeating: 0.240_226_506_959_100_71).addingProduct(p, f)
    p = V(repeating: 0.693_147_180_559_945_31).addingProduct(p, f)
    p = V(repeating: 1).addingProduct(p, f)
    let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self)
    return p * unsafeBitCast((bits &+ SIMD16<UInt32>(repeating: 127)) &<< SIMD16<UInt32>(repeating: 23), to: V.self)
}
