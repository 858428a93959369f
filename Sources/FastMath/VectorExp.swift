/// Vectorised exponential for `SIMD16<Float>`.
///
/// Range reduction: x = n·ln2 + r with |r| ≤ ln2/2, exp(r) by a degree-6 polynomial
/// (Taylor coefficients; relative error below 2e-7 on the reduced range), then the
/// result is scaled by 2^n through the exponent bits. Inputs below -87.3 give 0,
/// inputs above 88.7 give +inf, NaN stays NaN.
public enum FastMath {
    public typealias Vector = SIMD16<Float>
    public static let width = 16

    @inlinable @inline(__always)
    public static func exp(_ x: Vector) -> Vector {
        let log2e: Float = 1.442_695_040_888_963_4
        let ln2hi: Float = 0.693_359_375
        let ln2lo: Float = -2.121_944_400_546_905_8e-4
        let lo = Vector(repeating: -87.336_544_750_553_1)
        let hi = Vector(repeating: 88.722_839_052_068_35)
        let xc = x.clamped(lowerBound: lo, upperBound: hi)
        let n = (xc * log2e).rounded(.toNearestOrEven)
        var r = xc - n * ln2hi
        r = r - n * ln2lo
        var p = Vector(repeating: 1.0 / 720.0)
        p = p * r + (1.0 / 120.0)
        p = p * r + (1.0 / 24.0)
        p = p * r + (1.0 / 6.0)
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        // 2^n via the exponent field; n is in [-126, 128] after clamping.
        let ni = SIMD16<Int32>(n) &+ 127
        let scale = Vector(bitPattern: SIMD16<UInt32>(truncatingIfNeeded: ni) &<< 23)
        var y = p * scale
        // Exact edges: underflow to 0, overflow to inf, NaN propagates.
        y.replace(with: 0, where: x .< lo)
        y.replace(with: .infinity, where: x .> hi)
        y.replace(with: x, where: x .!= x)
        return y
    }

    /// Scalar exponential with the same algorithm, for tails and tests.
    @inlinable
    public static func exp(_ x: Float) -> Float {
        exp(Vector(repeating: x))[0]
    }
}

extension SIMD16 where Scalar == Float {
    @inlinable @inline(__always)
    init(bitPattern u: SIMD16<UInt32>) {
        self = unsafeBitCast(u, to: SIMD16<Float>.self)
    }
}
