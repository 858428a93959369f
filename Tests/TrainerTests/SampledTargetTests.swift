import XCTest
import Foundation
import LogitStore
@testable import Trainer

/// `--preset rs-kd` and the rules for sampled stores: targets as stored, no re-truncation, no τ.
final class SampledTargetTests: XCTestCase {
    func options(_ preset: String) throws -> TrainingOptions {
        var o = TrainingOptions()
        o.batchSize = 2; o.seqLen = 16; o.maxTokens = 2 * 16 * 6; o.seed = 3; o.holdoutSequences = 2
        try o.apply(preset: preset)
        return o
    }

    func run(_ store: String, _ o: TrainingOptions) throws -> TrainingRun {
        try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: TinyStore.temporaryDirectory("rs") + "/run")
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    func testRSKDPresetSettings() throws {
        let o = try options("rs-kd")
        XCTAssertEqual(o.kdLoss, .kld)
        XCTAssertEqual(o.temperature, .fixed(1))
        XCTAssertEqual(o.targetTopP, 1); XCTAssertEqual(o.targetTopK, .max)
        XCTAssertFalse(o.droppedMassBucket)
        XCTAssertTrue(o.requireSampledTargets)
        let pd = try options("pd-star")
        XCTAssertEqual(o.alpha, pd.alpha)
        XCTAssertEqual(o.lr, pd.lr)
    }

    func testRSKDRefusesATopPKStore() throws {
        let store = try TinyStore.make(sequences: 4, length: 16)
        let m = message { _ = try run(store, try options("rs-kd")) }
        XCTAssertTrue(m.contains("needs a sampled store"), m)
        XCTAssertFalse(m.contains("--"), "library messages name fields, not flags: \(m)")
    }

    func testSampledStoreRefusesReTruncationAndTemperature() throws {
        let store = try TinyStore.makeSampled(sequences: 4, length: 16)
        let pd = message { _ = try run(store, try options("pd-star")) }
        XCTAssertTrue(pd.contains("re-truncate a sampled store"), pd)
        var k = try options("rs-kd"); k.targetTopK = 4
        XCTAssertTrue(message { _ = try run(store, k) }.contains("re-truncate"))
        for mode in [TemperatureMode.fixed(2), .wttm(2), .paperAdaKDEntropy, .normKD(tNorm: 1)] {
            var t = try options("rs-kd"); t.temperature = mode
            XCTAssertTrue(message { _ = try run(store, t) }.contains("sampled targets are used at τ = 1"), mode.label)
        }
        // The bucket is allowed (it is 0), and LM-only ignores targets altogether.
        var b = try options("rs-kd"); b.droppedMassBucket = true
        XCTAssertNoThrow(try run(store, b))
        XCTAssertNoThrow(try run(store, try options("lm")))
    }

    /// rs-kd trains on the stored c/N targets unchanged, and its KD loss falls.
    func testRSKDTrainsOnStoredTargets() throws {
        let store = try TinyStore.makeSampled(sequences: 6, length: 32, samples: 16)
        let reader = try StoreReader(directory: store)
        XCTAssertTrue(reader.manifest.truncation.isSampled)
        let record = try reader.sequence(0)
        let src = try WindowSource(reader: reader, sequences: [0], seqLen: 32, shuffledWithSeed: nil, targets: TargetOptions())
        var batch = Batch()
        try src.fill(&batch, windows: 1)
        for e in 0..<record.ids.count {
            XCTAssertEqual(batch.probs[e] * 16, (batch.probs[e] * 16).rounded(), "c/N with N = 16")
            XCTAssertEqual(batch.ids[e], record.ids[e])
        }
        var o = try options("rs-kd")
        o.batchSize = 4; o.seqLen = 32; o.maxTokens = 4 * 32 * 120; o.holdoutSequences = 1
        o.lr = LRSchedule(kind: .wsd, peak: 1e-2, minimum: 1e-3, warmup: 0.02, decay: 0.1)
        let r = try run(store, o)
        var first: StepReport?
        var last: StepReport?
        while !r.finished { let s = try r.trainStep(); if first == nil, s.alpha > 0 { first = s }; last = s }
        XCTAssertLessThan(last!.kd, first!.kd * 0.7, "KD \(first!.kd) → \(last!.kd)")
    }
}
