import XCTest

/// Central finite differences of L(inputs) = Σ_i wOut_i · f(inputs)_i in Double, one tensor at a time.
func finiteDifferenceGradients(_ inputs: [[Double]], wOut: [Double], h: Double = 1e-5,
                               _ f: ([[Double]]) -> [Double]) -> [[Double]] {
    func loss(_ x: [[Double]]) -> Double {
        let y = f(x)
        precondition(y.count == wOut.count)
        var s = 0.0
        for i in 0..<y.count { s += y[i] * wOut[i] }
        return s
    }
    var grads: [[Double]] = []
    var x = inputs
    for t in 0..<inputs.count {
        var g = [Double](repeating: 0, count: inputs[t].count)
        for i in 0..<inputs[t].count {
            let v = x[t][i]
            x[t][i] = v + h; let lp = loss(x)
            x[t][i] = v - h; let lm = loss(x)
            x[t][i] = v
            g[i] = (lp - lm) / (2 * h)
        }
        grads.append(g)
    }
    return grads
}

/// Random values that are exactly representable as Float (so Float and Double sides see the same input).
func randomFloats(_ n: Int, _ rng: inout TestRNG, scale: Double = 1, offset: Double = 0) -> [Double] {
    (0..<n).map { _ in Double(Float(offset + scale * rng.uniform())) }
}

extension Array where Element == Double {
    var floats: [Float] { map { Float($0) } }
}

extension Array where Element == Float {
    var doubles: [Double] { map { Double($0) } }
}

func assertGradient(_ analytic: [Float], _ numeric: [Double], tolerance: Double = 1e-4, _ what: String,
                    file: StaticString = #filePath, line: UInt = #line) {
    let err = maxRelativeError(analytic.doubles, numeric)
    XCTAssertLessThan(err, tolerance, "\(what): max relative error \(err)", file: file, line: line)
    // Guard against a vacuous check: the numeric gradient must not be all zeros.
    XCTAssertGreaterThan(numeric.map(abs).max() ?? 0, 1e-6, "\(what): numeric gradient is zero", file: file, line: line)
}
