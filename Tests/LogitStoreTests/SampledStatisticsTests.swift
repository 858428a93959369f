import XCTest
import Foundation
@testable import LogitStore

/// `inspect`'s numbers for a sampled store: the policy, bytes per token, distinct ids per position.
final class SampledStatisticsTests: XCTestCase {
    func testStatisticsDescribeTheSampledPolicyAndDistinctIDs() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vocab = 250
        let policy = TruncationPolicy.sample(samples: 16, sampleTemperature: 2, seed: 4)
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: vocab, policy: policy, writerID: "w0"))
        var positions = 0, entries = 0
        for s in 0..<5 {
            let len = 6 + s
            let logits = teacherLikeRows(rows: len, vocab: vocab, spread: 1, seed: UInt64(s))
            try logits.withUnsafeBufferPointer { try w.append(tokens: [UInt32](repeating: 1, count: len), logits: $0) }
            positions += len
        }
        try w.finish()
        let reader = try StoreReader(directory: dir)
        for s in 0..<reader.sequenceCount { entries += try reader.sequence(s).ids.count }
        let stats = try reader.statistics()
        XCTAssertEqual(stats.policy, "sample")
        XCTAssertEqual(stats.samples, 16); XCTAssertEqual(stats.sampleTemperature, 2); XCTAssertEqual(stats.seed, 4)
        XCTAssertEqual(stats.weights, "importance")
        XCTAssertEqual(stats.policyLabel, policy.label)
        XCTAssertEqual(stats.bytesPerToken, Double(stats.bytes) / Double(positions))
        XCTAssertEqual(stats.distinctIdsPerPosition!, Double(entries) / Double(positions), accuracy: 1e-12)
        let hist = try XCTUnwrap(stats.distinctIdsHistogram)
        XCTAssertEqual(hist.reduce(0, +), positions)
        XCTAssertEqual(hist.enumerated().reduce(0) { $0 + $1.offset * $1.element }, entries)
        XCTAssertEqual(hist.first, 0, "a sampled position keeps at least one id")
        XCTAssertEqual(stats.meanKeptMass, 1, accuracy: 16 * 0x1p-11)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(stats)) as! [String: Any]
        for key in ["policy", "policy_label", "samples", "sample_temperature", "seed", "weights", "bytes_per_token",
                    "distinct_ids_per_position", "distinct_ids_histogram"] { XCTAssertNotNil(json[key], key) }
    }

    func testTopPKStoresHaveNoSampledFields() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: 100, policy: TruncationPolicy(topP: 0.9, topK: 5)))
        let (t, r) = syntheticRows(positions: 12, vocab: 100, kmax: 5, seed: 1)
        try w.append(tokens: t, truncated: r)
        try w.finish()
        let stats = try StoreReader(directory: dir).statistics()
        XCTAssertEqual(stats.policy, "top-p-k")
        XCTAssertNil(stats.samples); XCTAssertNil(stats.distinctIdsPerPosition); XCTAssertNil(stats.distinctIdsHistogram)
        XCTAssertEqual(stats.bytesPerToken, stats.bytesPerPosition)
    }
}
