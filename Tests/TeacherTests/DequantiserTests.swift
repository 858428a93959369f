import XCTest
@testable import Teacher

/// Hand-made blocks with values worked out from the ggml block layouts.
final class DequantiserTests: XCTestCase {
    func run(_ type: GGMLType, _ bytes: [UInt8], count: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        bytes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { Dequantiser.dequantise(type: type, source: src, into: $0) } }
        return out
    }

    func testF16AndBF16() {
        XCTAssertEqual(run(.f16, f16Bits(1.5) + f16Bits(-0.25), count: 2), [1.5, -0.25])
        // bf16 0x3FC0 = 1.5, 0xC080 = -4
        XCTAssertEqual(run(.bf16, [0xC0, 0x3F, 0x80, 0xC0], count: 2), [1.5, -4])
    }

    func testQ8_0() {
        let q: [Int8] = (0..<32).map { Int8($0 - 16) }
        let x = run(.q8_0, f16Bits(0.5) + q.map { UInt8(bitPattern: $0) }, count: 32)
        XCTAssertEqual(x, q.map { 0.5 * Float($0) })
    }

    func testQ4_0() {
        // byte j holds element j in the low nibble and element j+16 in the high nibble; values are (q - 8)·d
        let qs: [UInt8] = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let x = run(.q4_0, f16Bits(2) + qs, count: 32)
        for j in 0..<16 {
            XCTAssertEqual(x[j], 2 * Float(j - 8))
            XCTAssertEqual(x[j + 16], 2 * Float(15 - j - 8))
        }
    }

    func testQ4_1() {
        let qs: [UInt8] = (0..<16).map { UInt8($0) | UInt8(($0 * 3) % 16) << 4 }
        let x = run(.q4_1, f16Bits(0.5) + f16Bits(-1) + qs, count: 32)
        for j in 0..<16 {
            XCTAssertEqual(x[j], 0.5 * Float(j) - 1)
            XCTAssertEqual(x[j + 16], 0.5 * Float((j * 3) % 16) - 1)
        }
    }

    func testQ4_K() {
        // Scales/mins: sub-blocks 0..3 in the low 6 bits of bytes 0..3 / 4..7; sub-blocks 4..7 take 4 bits from
        // bytes 8..11 and their top 2 bits from the high bits of bytes 0..3 (scale) / 4..7 (min).
        let sc: [UInt8] = [1, 2, 3, 4, 33, 50, 7, 63]
        let mn: [UInt8] = [5, 6, 7, 8, 40, 1, 17, 62]
        var scales = [UInt8](repeating: 0, count: 12)
        for j in 0..<4 { scales[j] = sc[j]; scales[j + 4] = mn[j] }
        for j in 4..<8 {
            scales[j + 4] = (sc[j] & 0x0F) | (mn[j] & 0x0F) << 4
            scales[j - 4] |= (sc[j] >> 4) << 6
            scales[j] |= (mn[j] >> 4) << 6
        }
        let qs: [UInt8] = (0..<128).map { UInt8($0 % 16) | UInt8(($0 / 8) % 16) << 4 }
        let d: Float = 0.25, dmin: Float = 0.125
        let x = run(.q4_K, f16Bits(d) + f16Bits(dmin) + scales + qs, count: 256)
        // element e: 64-chunk c = e/64; within it, the first 32 use the low nibbles of qs[32c..<32c+32] with
        // sub-block 2c, the next 32 the high nibbles with sub-block 2c+1.
        for e in 0..<256 {
            let c = e / 64, l = e % 32, high = (e % 64) >= 32
            let sub = 2 * c + (high ? 1 : 0)
            let byte = qs[32 * c + l]
            let q = Float(high ? byte >> 4 : byte & 0x0F)
            XCTAssertEqual(x[e], d * Float(sc[sub]) * q - dmin * Float(mn[sub]), "element \(e)")
        }
    }

    func testQ6_K() {
        let ql: [UInt8] = (0..<128).map { UInt8(($0 * 7) % 256) }
        let qh: [UInt8] = (0..<64).map { UInt8(($0 * 13 + 5) % 256) }
        let scales: [Int8] = (0..<16).map { Int8($0 * 9 - 70) }
        let d: Float = 0.0625
        let x = run(.q6_K, ql + qh + scales.map { UInt8(bitPattern: $0) } + f16Bits(d), count: 256)
        // element e: half h = e/128, r = e%128, quarter k = r/32, l = r%32; low 4 bits from ql[64h + l + 32(k&1)]
        // (low nibble for k<2, high for k>=2), high 2 bits from qh[32h + l] >> 2k; scale scales[8h + l/16 + 2k].
        for e in 0..<256 {
            let h = e / 128, r = e % 128, k = r / 32, l = r % 32
            let lowByte = ql[64 * h + l + 32 * (k & 1)]
            let low = k < 2 ? lowByte & 0x0F : lowByte >> 4
            let high = (qh[32 * h + l] >> (2 * k)) & 3
            let q = Int(low | high << 4) - 32
            let s = scales[8 * h + l / 16 + 2 * k]
            XCTAssertEqual(x[e], d * Float(s) * Float(q), "element \(e)")
        }
    }
}
