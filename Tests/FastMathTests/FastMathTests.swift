import XCTest
import Foundation
@testable import FastMath

final class FastMathTests: XCTestCase {
    func testVectorExpMatchesLibmAcrossRange() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let got = FastMath.exp(x)
            let want = Foundation.exp(Double(x))
            let rel = Float(abs(Double(got) - want) / want)
            worst = max(worst, rel)
            x += 0.0137
        }
        XCTAssertLessThan(worst, 4e-7, "worst relative error \(worst)")
    }

    func testExpNonPositiveMatchesLibmAndFloorsTheTail() {
        var worst: Double = 0
        var x: Float = -87
        while x <= 0 {
            let got = FastMath.expNonPositive(FastMath.Vector(repeating: x))[0]
            let want = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(got) - want) / want)
            x += 0.0071
        }
        XCTAssertLessThan(worst, 1e-5, "worst relative error \(worst)")
        XCTAssertEqual(FastMath.expNonPositive(FastMath.Vector(repeating: 0))[0], 1, accuracy: 1e-6)
        for v: Float in [-100, -1000, -.infinity] {
            let e = FastMath.expNonPositive(FastMath.Vector(repeating: v))[0]
            XCTAssertTrue(e >= 0 && e < 2e-38, "\(v) gave \(e)")
        }
    }

    func testHorizontalMaxIsTheLargestLane() {
        var state: UInt32 = 12345
        for trial in 0..<200 {
            let v = SIMD16<Float>((0..<16).map { _ in
                state = state &* 1_664_525 &+ 1_013_904_223
                return Float(state >> 22) - 512
            })
            let w = trial == 0 ? SIMD16<Float>(repeating: -.infinity) : v
            XCTAssertEqual(FastMath.horizontalMax(w), (0..<16).map { w[$0] }.max()!, "trial \(trial)")
        }
    }

    func testExpEdges() {
        XCTAssertEqual(FastMath.exp(-200), 0)
        XCTAssertEqual(FastMath.exp(200), .infinity)
        XCTAssertEqual(FastMath.exp(-.infinity), 0)
        XCTAssertTrue(FastMath.exp(Float.nan).isNaN)
        XCTAssertEqual(FastMath.exp(0), 1)
    }

    func testSoftmaxAndLogSumExpAgainstDoubleReference() {
        var rng = SystemRandomNumberGenerator()
        for n in [1, 7, 16, 33, 1000, 49_152] {
            var x = (0..<n).map { _ in Float.random(in: -20...20, using: &rng) }
            let m = Double(x.max()!)
            let z = x.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) }
            let lse = x.withUnsafeBufferPointer { FastMath.logSumExp($0) }
            XCTAssertEqual(Double(lse), m + Foundation.log(z), accuracy: 1e-4)
            let ref = x.map { Foundation.exp(Double($0) - m) / z }
            let logZ = x.withUnsafeMutableBufferPointer { FastMath.softmaxInPlace($0) }
            XCTAssertEqual(Double(logZ), m + Foundation.log(z), accuracy: 1e-4)
            for i in 0..<n { XCTAssertEqual(Double(x[i]), ref[i], accuracy: 1e-6 + 1e-5 * ref[i]) }
        }
    }

    func testAllFiniteAndMax() {
        var x = [Float](repeating: 1, count: 37)
        x[20] = 5
        XCTAssertEqual(x.withUnsafeBufferPointer { FastMath.max($0) }, 5)
        XCTAssertTrue(x.withUnsafeBufferPointer { FastMath.allFinite($0) })
        for bad in [Float.nan, .infinity, -.infinity] {
            for pos in [3, 36] {
                var y = x; y[pos] = bad
                XCTAssertFalse(y.withUnsafeBufferPointer { FastMath.allFinite($0) })
            }
        }
    }

    func testHalfConversions() {
        let src: [Float] = [0, 1, -2.5, 65504, 1e-8, 0.1]
        var h = [Float16](repeating: 0, count: src.count)
        src.withUnsafeBufferPointer { s in h.withUnsafeMutableBufferPointer { FastMath.narrow(s, into: $0) } }
        var back = [Float](repeating: 0, count: src.count)
        h.withUnsafeBufferPointer { s in back.withUnsafeMutableBufferPointer { FastMath.widen(s, into: $0) } }
        for i in 0..<src.count { XCTAssertEqual(back[i], Float(Float16(src[i]))) }
        let bf: [UInt16] = [0x3F80, 0xC000]
        var out = [Float](repeating: 0, count: 2)
        bf.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { FastMath.widenBFloat16(s, into: $0) } }
        XCTAssertEqual(out, [1, -2])
    }
}
