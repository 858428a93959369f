import XCTest
import Foundation
import LogitStore
import Teacher
import Trainer

/// End to end on a small real dump: the real default teacher (SmolLM2-135M-Instruct Q4_1, fetched with
/// Tools/fetch-teacher) dumps real English text that was not written for the project (the GPL-3 text that
/// ships with every Debian system, /usr/share/common-licenses/GPL-3) into two stores in one pass (top-0.95-50 and
/// sample:64); three students of the same shape, seed and token budget are trained, LM-only, PD* (the default
/// temperature convention, τ on the teacher only, arXiv 2410.16215 Eq. 3–4) and RS-KD; both KD students must reach
/// a lower held-out cross-entropy on the stores' last sequences.
///
/// This target depends on both Teacher and Trainer so that neither module imports the other.
final class PDStarBeatsLMTests: XCTestCase {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func teacherPath() throws -> String {
        if ProcessInfo.processInfo.environment["LOGITSTORE_OFFLINE"] == "1" {
            throw XCTSkip("LOGITSTORE_OFFLINE=1: skipping a test that needs the real teacher model")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.repoRoot + "/Tools/fetch-teacher")
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "Tools/fetch-teacher failed")
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let text = "/usr/share/common-licenses/GPL-3"
    static let student = StudentConfig(layers: 2, dim: 64, heads: 4, kvHeads: 2, ffnDim: 192, tiedEmbeddings: true)

    /// The same student, seed and token budget (three passes over the 34 training sequences; last 6 held out).
    func train(_ preset: String, store: String, dir: String) throws -> EvalResult {
        var o = TrainingOptions()
        o.lr = LRSchedule(kind: .cosine, peak: 4e-3, minimum: 4e-4, warmup: 0.05)
        try o.apply(preset: preset)
        o.batchSize = 4; o.seqLen = 128; o.seed = 1
        o.maxTokens = 34 * 128 * 3
        o.holdoutSequences = 6
        let run = try TrainingRun(storePath: store, student: Self.student, options: o, outDir: dir + "/" + preset)
        return try run.run()
    }

    /// One teacher pass over 40 × 128 tokens feeds a top-0.95-50 store (PD*'s storage setting) and a sample:64 store.
    /// PD* with the default convention (τ = 2 on the teacher only) and RS-KD (counts/64 targets) each beat LM-only.
    func testPDStarAndRSKDBeatLMOnlyOnHeldOutCrossEntropy() throws {
        guard FileManager.default.fileExists(atPath: Self.text) else { throw XCTSkip("\(Self.text) is missing (not a Debian system)") }
        let dir = NSTemporaryDirectory() + "pd-e2e-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let topPK = dir + "/top-p-k", sampled = dir + "/sample"
        let teacher = try TeacherModel(path: try teacherPath())
        let options = DumpOptions(input: Self.text, format: .text, seqLen: 128, policy: TruncationPolicy(topP: 0.95, topK: 50),
                                  maxTokens: 40 * 128, batch: 4)
        let summary = try DumpJob(teacher: teacher, options: options).run(outputs: [
            DumpOutput(store: topPK, policy: TruncationPolicy(topP: 0.95, topK: 50)),
            DumpOutput(store: sampled, policy: .sample(samples: 64, seed: 0)),
        ])
        XCTAssertEqual(summary.sequences, 40)

        // The sampled store holds counts/64 that sum to 1 at every position.
        let reader = try StoreReader(directory: sampled)
        XCTAssertTrue(reader.manifest.truncation.isSampled)
        let record = try reader.sequence(0)
        for j in 0..<record.tokens.count {
            let probs = record.probs[record.offsets[j]..<record.offsets[j + 1]].map { Double(Float($0)) }
            XCTAssertEqual(probs.reduce(0, +), 1, accuracy: 1e-9, "counts/N sum to 1")
            for p in probs { XCTAssertEqual(p * 64, (p * 64).rounded(), "a multiple of 1/64") }
        }

        var preset = TrainingOptions()
        try preset.apply(preset: "pd-star")
        XCTAssertEqual(preset.kdTemperatureOn, .teacherOnly)
        XCTAssertFalse(preset.tauSquared)
        let lm = try train("lm", store: topPK, dir: dir)
        let pd = try train("pd-star", store: topPK, dir: dir)
        let rs = try train("rs-kd", store: sampled, dir: dir)
        print("held-out CE over \(lm.positions) positions: LM-only \(lm.crossEntropy), PD* (τ on teacher) \(pd.crossEntropy), RS-KD \(rs.crossEntropy)")
        XCTAssertEqual(lm.positions, pd.positions)
        XCTAssertEqual(lm.positions, rs.positions)
        XCTAssertLessThan(pd.crossEntropy, lm.crossEntropy - 0.05, "PD* \(pd.crossEntropy) vs LM-only \(lm.crossEntropy)")
        XCTAssertLessThan(rs.crossEntropy, lm.crossEntropy - 0.05, "RS-KD \(rs.crossEntropy) vs LM-only \(lm.crossEntropy)")
    }
}
