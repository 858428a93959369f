/// Whole-row operations used on vocabulary-wide rows (softmax, log-sum-exp) and on activations.
extension FastMath {
    /// The largest element, or -inf for an empty row. NaN is not propagated; call `allFinite` first where it matters.
    @inlinable
    public static func max(_ x: UnsafeBufferPointer<Float>) -> Float {
        let n = x.count
        guard n > 0, let base = x.baseAddress else { return -.infinity }
        var i = 0
        var m = Vector(repeating: -.infinity)
        while i + width <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: Vector.self)
            m.replace(with: v, where: v .> m)  // (pointwiseMax is not inlined and is much slower)
            i += width
        }
        var s = m.max()
        while i < n { s = Swift.max(s, base[i]); i += 1 }
        return s
    }

    /// True when every element is finite (no NaN, no ±inf).
    @inlinable
    public static func allFinite(_ x: UnsafeBufferPointer<Float>) -> Bool {
        let n = x.count
        guard n > 0, let base = x.baseAddress else { return true }
        var i = 0
        // x - x is 0 for finite x and NaN for NaN/inf; accumulate and test once.
        var acc = Vector(repeating: 0)
        while i + width <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: Vector.self)
            acc += v - v
            i += width
        }
        var s = acc.sum()
        while i < n { s += base[i] - base[i]; i += 1 }
        return s == 0
    }

    /// Σ exp(x_i − shift), without writing anything.
    @inlinable
    public static func sumExp(_ x: UnsafeBufferPointer<Float>, minus shift: Float) -> Float {
        let n = x.count
        guard n > 0, let base = x.baseAddress else { return 0 }
        var i = 0
        var acc = Vector(repeating: 0)
        let sv = Vector(repeating: shift)
        while i + width <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: Vector.self)
            acc += exp(v - sv)
            i += width
        }
        var s = acc.sum()
        if i < n {
            var tail = Vector(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = base[i + j] }
            s += exp(tail - sv).sum()
        }
        return s
    }

    /// log Σ exp(x_i), computed stably. Returns -inf for an empty row.
    @inlinable
    public static func logSumExp(_ x: UnsafeBufferPointer<Float>) -> Float {
        let m = max(x)
        guard m.isFinite else { return m }
        return m + log(sumExp(x, minus: m))
    }

    /// y_i = exp(x_i − shift) in place; returns Σ y_i.
    @inlinable
    @discardableResult
    public static func expInPlace(_ x: UnsafeMutableBufferPointer<Float>, minus shift: Float = 0) -> Float {
        let n = x.count
        guard n > 0, let base = x.baseAddress else { return 0 }
        var i = 0
        var acc = Vector(repeating: 0)
        let sv = Vector(repeating: shift)
        while i + width <= n {
            let raw = UnsafeMutableRawPointer(base + i)
            let e = exp(raw.loadUnaligned(as: Vector.self) - sv)
            raw.storeBytes(of: e, as: Vector.self)
            acc += e
            i += width
        }
        var s = acc.sum()
        while i < n { let e = exp(base[i] - shift); base[i] = e; s += e; i += 1 }
        return s
    }

    /// x_i ← softmax(x)_i in place. Returns log Σ exp(x) of the input (the log-normaliser),
    /// so a caller can recover any log-probability as x_i − logZ.
    @inlinable
    @discardableResult
    public static func softmaxInPlace(_ x: UnsafeMutableBufferPointer<Float>) -> Float {
        let m = max(UnsafeBufferPointer(x))
        let z = expInPlace(x, minus: m)
        scale(x, by: 1 / z)
        return m + log(z)
    }

    /// x_i ← a · x_i.
    @inlinable
    public static func scale(_ x: UnsafeMutableBufferPointer<Float>, by a: Float) {
        let n = x.count
        guard n > 0, let base = x.baseAddress else { return }
        var i = 0
        while i + width <= n {
            let raw = UnsafeMutableRawPointer(base + i)
            raw.storeBytes(of: raw.loadUnaligned(as: Vector.self) * a, as: Vector.self)
            i += width
        }
        while i < n { base[i] *= a; i += 1 }
    }
}
