import XCTest
import Foundation
@testable import LogitStore

/// The normative RNG of sampled stores, pinned against an independent computation.
///
/// Expected values from this Python script (python 3.11, `pip install xxhash` 4.x, whose xxh3_64 is xxHash's
/// XXH3_64bits_withSeed); SplitMix64 is written out from its definition (with state 1234567 its first output is
/// 6457827717110365317, the value published with the generator):
///
///     import struct, xxhash
///     M = (1 << 64) - 1
///     def key(seed, wid, ordinal, pos):
///         return xxhash.xxh3_64_intdigest(wid.encode() + struct.pack('<QQ', ordinal, pos), seed=seed)
///     def stream(s, n):
///         out = []
///         for _ in range(n):
///             s = (s + 0x9E3779B97F4A7C15) & M
///             z = s
///             z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
///             z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
///             out.append(z ^ (z >> 31))
///         return out
///     for args in [(0, "w0", 0, 0), (12345, "dump-a", 7, 3), (2**53 - 1, "w0", 1 << 40, 511)]:
///         k = key(*args); o = stream(k, 4)
///         print(args, hex(k), [hex(v) for v in o], [(v >> 11) * 2**-53 for v in o[:2]])
final class SamplerDrawsTests: XCTestCase {
    struct Pinned {
        let seed: UInt64, writer: String, ordinal: UInt64, position: UInt64
        let key: UInt64, outputs: [UInt64], uniforms: [Double]
    }

    let pinned = [
        Pinned(seed: 0, writer: "w0", ordinal: 0, position: 0, key: 0xc29d562ad71240d9,
               outputs: [0x71d8e29da7fa78ae, 0x4b6a44692b0b7554, 0xe1eb6406ecb6fe5b, 0xa3fd9c3c0be4897c],
               uniforms: [0.44471565579440575, 0.2945902592428362]),
        Pinned(seed: 12345, writer: "dump-a", ordinal: 7, position: 3, key: 0x0ccebcdc884c8515,
               outputs: [0x76394bbe8979af0c, 0x649884442230a2c5, 0x0273821b01a7cad2, 0xe8a0771f1c6ae0e6],
               uniforms: [0.46181176568777593, 0.3929522196141897]),
        Pinned(seed: (1 << 53) - 1, writer: "w0", ordinal: 1 << 40, position: 511, key: 0xb73d01d5461c32dc,
               outputs: [0x65caf6f0799af850, 0xfca41ddb0cd7387b, 0xeb8c0d376a320ff7, 0xe5d747568352993b],
               uniforms: [0.39762824412319364, 0.986879220942538]),
    ]

    func testKeysAndFirstOutputsMatchTheIndependentComputation() {
        for p in pinned {
            var d = SampleDraws(seed: p.seed, writerID: p.writer, sequenceOrdinal: p.ordinal, position: p.position)
            XCTAssertEqual(d.state, p.key, "key of \(p.writer)/\(p.ordinal)/\(p.position)")
            XCTAssertEqual((0..<4).map { _ in d.next() }, p.outputs)
            var u = SampleDraws(seed: p.seed, writerID: p.writer, sequenceOrdinal: p.ordinal, position: p.position)
            XCTAssertEqual(u.nextUniform(), p.uniforms[0])
            XCTAssertEqual(u.nextUniform(), p.uniforms[1])
        }
    }

    func testSplitMix64MatchesItsPublishedFirstOutput() {
        var d = SampleDraws(state: 1_234_567)
        XCTAssertEqual(d.next(), 6_457_827_717_110_365_317)
    }

    func testTheWritersKeyBufferGivesTheSameStreams() {
        for p in pinned {
            var buffer = SampleKeyBuffer(seed: p.seed, writerID: p.writer)
            _ = buffer.draws(sequenceOrdinal: 99, position: 98)  // reuse must not leave stale bytes
            var d = buffer.draws(sequenceOrdinal: p.ordinal, position: p.position)
            XCTAssertEqual(d.state, p.key)
            XCTAssertEqual(d.next(), p.outputs[0])
        }
    }

    func testUniformsLieInTheUnitInterval() {
        var d = SampleDraws(seed: 5, writerID: "x", sequenceOrdinal: 0, position: 0)
        for _ in 0..<10_000 {
            let u = d.nextUniform()
            XCTAssert(u >= 0 && u < 1)
        }
    }

    func testTheProposalExpIsAccurateInDoublePrecision() {
        var rng = SplitMix64(seed: 3)
        var worst = 0.0
        for _ in 0..<2_000 {
            var v = ProposalExp.Vector()
            for l in 0..<8 { v[l] = -Double(rng.next(below: 1 << 40)) / Double(1 << 40) * 708 }
            let y = ProposalExp.expNonPositive(v)
            for l in 0..<8 {
                let ref = Foundation.exp(v[l])
                worst = max(worst, abs(y[l] - ref) / ref)
            }
        }
        XCTAssertLessThan(worst, 4 * Double.ulpOfOne, "relative error against libm")
        let edge = ProposalExp.expNonPositive(ProposalExp.Vector(0, -0.0, -1e-300, -708, -708.5, -1000, -.infinity, -.nan))
        XCTAssertEqual(edge[0], 1); XCTAssertEqual(edge[1], 1); XCTAssertEqual(edge[2], 1)
        XCTAssertEqual(edge[3], Foundation.exp(-708), accuracy: 4 * Double.ulpOfOne * Foundation.exp(-708))
        XCTAssertEqual(edge[4], 0); XCTAssertEqual(edge[5], 0); XCTAssertEqual(edge[6], 0); XCTAssertEqual(edge[7], 0)
    }
}
