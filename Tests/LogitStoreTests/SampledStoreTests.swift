import XCTest
import Foundation
@testable import LogitStore

/// Sampled-target stores (Spec §1.3): read-time re-truncation and temperature are refused, the bucket is 0, and
/// verify checks the sums (and, with counts weights, multiples of 1/N).
final class SampledStoreTests: XCTestCase {
    func makeSampledStore(_ name: String = #function, policy: TruncationPolicy, rows: TruncatedRows, tokens: [UInt32]) throws -> String {
        let dir = makeTempDir(name)
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: 50, policy: policy, recordTargetLogprobs: false))
        try w.append(tokens: tokens, truncated: rows)
        try w.finish()
        return dir
    }

    /// N = 4, counts weights: position 0 drew id 3 three times and id 5 once; position 1 drew id 7 four times.
    var countsRows: TruncatedRows { TruncatedRows(counts: [2, 1], ids: [3, 5, 7], probs: [0.75, 0.25, 1]) }

    func testSampledTargetsRefuseRetruncationAndTemperature() throws {
        let dir = try makeSampledStore(policy: .sample(samples: 4), rows: countsRows, tokens: [1, 2])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try StoreReader(directory: dir)
        XCTAssertTrue(r.manifest.truncation.isSampled)
        let rec = try r.sequence(0)
        XCTAssertEqual(rec.truncation?.kind, .sample)
        let plain = try rec.targets(TargetOptions())
        XCTAssertEqual(plain.probs, [0.75, 0.25, 1])
        XCTAssertEqual(try rec.targets(TargetOptions(topK: 2)).probs, plain.probs, "k' ≥ every stored count is allowed")
        let bucket = try rec.targets(TargetOptions(droppedMassBucket: true))
        XCTAssertEqual(bucket.droppedMass, [0, 0])
        XCTAssertEqual(bucket.probs, plain.probs)
        for (o, field) in [(TargetOptions(topP: 0.9), "top_p"), (TargetOptions(topK: 1), "top_k"), (TargetOptions(temperature: 2), "temperature")] {
            XCTAssertThrowsError(try rec.targets(o)) { e in
                guard case StoreError.invalidInput(let s) = e else { return XCTFail("\(e)") }
                XCTAssertTrue(s.contains(field) && s.contains("sampled"), s)
            }
        }
        XCTAssertTrue(try r.verify().ok)
    }

    func testTopPKRecordsStillRetruncate() throws {
        // A hand-built record (no policy) and a top-p-k record both accept p' < 1 and τ' ≠ 1.
        let rec = SequenceRecord(tokens: [1], offsets: [0, 2], ids: [3, 4], probs: [0.5, 0.25])
        XCTAssertEqual(try rec.targets(TargetOptions(topP: 0.4)).ids, [3])
        XCTAssertNoThrow(try rec.targets(TargetOptions(temperature: 2)))
    }

    func testSampledImportanceWeightsAreRenormalisedWithZeroBucket() throws {
        // Importance weights that sum to 1 − 2^-12 (float16 rounding): the targets renormalise, the bucket stays 0.
        let rows = TruncatedRows(counts: [2], ids: [3, 5], probs: [Float16(0.6), Float16(0.3999)])
        let dir = try makeSampledStore(policy: .sample(samples: 8, sampleTemperature: 2), rows: rows, tokens: [1])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try StoreReader(directory: dir)
        let t = try r.sequence(0).targets(TargetOptions(droppedMassBucket: true))
        XCTAssertEqual(Double(t.probs.reduce(0, +)), 1, accuracy: 1e-6)
        XCTAssertEqual(t.droppedMass, [0])
        let report = try r.verify()
        XCTAssertTrue(report.ok, "\(report.problems)")
    }

    func testSampledTargetsKeepEntriesAfterTheStoredMassReachesOne() throws {
        // Importance weights whose float16 values reach 1 before the last entry (Σ = 1 + 2^-11 ≤ 1 + n·2^-11):
        // every entry is part of the target, none is cut by the top_p = 1 prefix rule.
        let rows = TruncatedRows(counts: [3], ids: [3, 5, 9], probs: [Float16(0.5), Float16(0.5), Float16(0.00048828125)])
        let dir = try makeSampledStore(policy: .sample(samples: 8, sampleTemperature: 2), rows: rows, tokens: [1])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let t = try StoreReader(directory: dir).sequence(0).targets(TargetOptions())
        XCTAssertEqual(t.ids, [3, 5, 9])
        XCTAssertEqual(Double(t.probs.reduce(0, +)), 1, accuracy: 1e-6)
    }

    func testWriterRefusesRowsThatBreakTheSampledRules() throws {
        for (policy, probs) in [(TruncationPolicy.sample(samples: 4), [Float16(0.7), Float16(0.3)]),
                                (.sample(samples: 4), [Float16(0.5), Float16(0.25)]),
                                (.sample(samples: 8, sampleTemperature: 2), [Float16(0.5), Float16(0.25)])] {
            XCTAssertThrowsError(try makeSampledStore(policy: policy, rows: TruncatedRows(counts: [2], ids: [3, 5], probs: probs), tokens: [1])) { e in
                guard case StoreError.invalidInput = e else { return XCTFail("\(e)") }
            }
        }
    }

    func testWriterRefusesTopPKRowsAboveOneAndRepeatedIds() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: 50, policy: TruncationPolicy(topP: 1, topK: 4), recordTargetLogprobs: false))
        XCTAssertThrowsError(try w.append(tokens: [1], truncated: TruncatedRows(counts: [2], ids: [3, 4], probs: [0.75, 0.75])))
        XCTAssertThrowsError(try w.append(tokens: [1], truncated: TruncatedRows(counts: [2], ids: [3, 3], probs: [0.5, 0.25])))
        XCTAssertThrowsError(try w.append(tokens: [1], truncated: TruncatedRows(counts: [1], ids: [3], probs: [Float16(bitPattern: 0x8000)])))
        XCTAssertNoThrow(try w.append(tokens: [1], truncated: TruncatedRows(counts: [2], ids: [3, 4], probs: [0.5, 0])))
    }
}
