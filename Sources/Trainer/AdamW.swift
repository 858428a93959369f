import Foundation

/// AdamW (decoupled weight decay) over one flat parameter buffer, with global-norm gradient clipping.
public final class AdamW {
    /// Hyper-parameters (saved with the run's options).
    public struct Settings: Codable, Equatable, Sendable {
        /// First-moment decay.
        public var beta1: Float = 0.9
        /// Second-moment decay.
        public var beta2: Float = 0.95
        /// Added to √v̂ in the denominator.
        public var epsilon: Float = 1e-8
        /// Decoupled weight decay (matrices only).
        public var weightDecay: Float = 0.1
        /// Clip the gradient to this global L2 norm (≤ 0 disables clipping).
        public var clipNorm: Float = 1.0
        /// The defaults above.
        public init() {}
    }

    /// The hyper-parameters.
    public let settings: Settings
    /// Parameters updated.
    public let count: Int
    /// First and second moments (saved with checkpoints for resume).
    public let m: UnsafeMutableBufferPointer<Float>
    /// Second moments.
    public let v: UnsafeMutableBufferPointer<Float>
    /// Updates taken so far (bias correction uses it).
    public var t: Int = 0
    /// Ranges of the buffer that get weight decay (matrices); the rest (norm gains) do not.
    let decayed: [Range<Int>]

    /// An optimiser for `count` parameters with zero moments; `decayedRanges` get weight decay.
    public init(count: Int, settings: Settings = Settings(), decayedRanges: [Range<Int>]) {
        self.count = count; self.settings = settings; self.decayed = decayedRanges
        m = .allocate(capacity: count); m.initialize(repeating: 0)
        v = .allocate(capacity: count); v.initialize(repeating: 0)
    }
    deinit { m.deallocate(); v.deallocate() }

    /// Global L2 norm of a gradient buffer (accumulated in Double).
    public static func norm(_ g: UnsafeBufferPointer<Float>) -> Double {
        var s = 0.0
        var i = 0
        let n = g.count
        // Blocks of float sums keep it vectorisable without losing much precision.
        while i < n {
            let e = Swift.min(i + 4096, n)
            var b: Float = 0
            for j in i..<e { b += g[j] * g[j] }
            s += Double(b)
            i = e
        }
        return s.squareRoot()
    }

    /// One update with learning rate `lr`; returns the gradient norm before clipping.
    @discardableResult
    public func step(parameters p: UnsafeMutableBufferPointer<Float>, gradients g: UnsafeMutableBufferPointer<Float>, lr: Float) -> Double {
        precondition(p.count == count && g.count == count)
        let gn = Self.norm(UnsafeBufferPointer(g))
        var gscale: Float = 1
        if settings.clipNorm > 0, gn > Double(settings.clipNorm) { gscale = Float(Double(settings.clipNorm) / (gn + 1e-6)) }
        t += 1
        let b1 = settings.beta1, b2 = settings.beta2, eps = settings.epsilon
        let c1 = 1 / (1 - pow(b1, Float(t))), c2 = 1 / (1 - pow(b2, Float(t)))
        let pp = p.baseAddress!, gp = g.baseAddress!, mp = m.baseAddress!, vp = v.baseAddress!
        func update(_ r: Range<Int>, decay: Float) {
            for i in r {
                let gi = gp[i] * gscale
                let mi = b1 * mp[i] + (1 - b1) * gi
                let vi = b2 * vp[i] + (1 - b2) * gi * gi
                mp[i] = mi; vp[i] = vi
                pp[i] -= lr * ((mi * c1) / ((vi * c2).squareRoot() + eps) + decay * pp[i])
            }
        }
        var cursor = 0
        for r in decayed.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if cursor < r.lowerBound { update(cursor..<r.lowerBound, decay: 0) }
            update(r, decay: settings.weightDecay)
            cursor = r.upperBound
        }
        if cursor < count { update(cursor..<count, decay: 0) }
        return gn
    }
}
