import XCTest
import CXXHash
@testable import LogitStore

/// The normative draw key and SplitMix64 stream of Spec §1.3, implemented here from the Spec's text alone, against
/// the pinned values the Spec lists (computed independently by the Swift sampler and with Python's xxhash).
final class SpecRNGTests: XCTestCase {
    /// key = XXH3-64 with seed over writer_id ‖ u64le(ordinal) ‖ u64le(position).
    func key(seed: UInt64, writer: String, ordinal: UInt64, position: UInt64) -> UInt64 {
        var bytes = Array(writer.utf8)
        for v in [ordinal, position] { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) } }
        return bytes.withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress, $0.count, seed) }
    }

    /// One SplitMix64 step as §1.3 writes it.
    func next(_ s: inout UInt64) -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    func testPinnedKeysAndFirstOutputs() {
        var s = key(seed: 0, writer: "w0", ordinal: 0, position: 0)
        XCTAssertEqual(s, 0xc29d_562a_d712_40d9)
        let z = next(&s)
        XCTAssertEqual(z, 0x71d8_e29d_a7fa_78ae)
        XCTAssertEqual(Double(z >> 11) * 0x1p-53, 0.44471565579440575)
        var t = key(seed: 12345, writer: "dump-a", ordinal: 7, position: 3)
        XCTAssertEqual(t, 0x0cce_bcdc_884c_8515)
        XCTAssertEqual(next(&t), 0x7639_4bbe_8979_af0c)
    }
}
