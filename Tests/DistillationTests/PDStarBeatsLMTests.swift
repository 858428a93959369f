import XCTest
import Foundation
import LogitStore
import Teacher
import Trainer

/// End to end on a small real dump: the real default teacher (SmolLM2-135M-Instruct Q4_1, fetched with
/// Tools/fetch-teacher) dumps real English text that was not written for the project (the GPL-3 text that
/// ships with every Debian system, /usr/share/common-licenses/GPL-3) into a store; two students of the same
/// shape, seed and token budget are trained on it, one LM-only and one PD*; PD* must reach a lower
/// held-out cross-entropy on the store's last sequences. PD* uses the default temperature convention (τ on the
/// teacher only, arXiv 2410.16215 Eq. 3–4).
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

    /// A real dump of 40 sequences of 128 tokens under `policy`.
    func dump(_ policy: TruncationPolicy, into dir: String) throws -> String {
        guard FileManager.default.fileExists(atPath: Self.text) else { throw XCTSkip("\(Self.text) is missing (not a Debian system)") }
        let store = dir + "/store-" + (policy.isSampled ? "sample" : "top-p-k")
        let teacher = try TeacherModel(path: try teacherPath())
        let options = DumpOptions(input: Self.text, format: .text, seqLen: 128, policy: policy, maxTokens: 40 * 128, batch: 4)
        let summary = try DumpJob(teacher: teacher, options: options).run(out: store)
        XCTAssertEqual(summary.sequences, 40)
        return store
    }

    /// The same student, seed and token budget (three passes over the 34 training sequences; last 6 held out).
    func train(_ preset: String, store: String, dir: String, adjust: (inout TrainingOptions) -> Void = { _ in }) throws -> EvalResult {
        var o = TrainingOptions()
        o.lr = LRSchedule(kind: .cosine, peak: 4e-3, minimum: 4e-4, warmup: 0.05)
        try o.apply(preset: preset)
        adjust(&o)
        o.batchSize = 4; o.seqLen = 128; o.seed = 1
        o.maxTokens = 34 * 128 * 3
        o.holdoutSequences = 6
        let run = try TrainingRun(storePath: store, student: Self.student, options: o, outDir: dir + "/" + preset + "-" + UUID().uuidString)
        return try run.run()
    }

    /// PD* with the default (paper's) convention, τ = 2 on the teacher only, beats LM-only.
    func testPDStarBeatsLMOnlyOnHeldOutCrossEntropy() throws {
        let dir = NSTemporaryDirectory() + "pd-e2e-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The PD* storage setting top-0.95-50.
        let store = try dump(TruncationPolicy(topP: 0.95, topK: 50), into: dir)
        var preset = TrainingOptions()
        try preset.apply(preset: "pd-star")
        XCTAssertEqual(preset.kdTemperatureOn, .teacherOnly)
        XCTAssertFalse(preset.tauSquared)
        let lm = try train("lm", store: store, dir: dir)
        let pd = try train("pd-star", store: store, dir: dir)
        print("held-out CE: LM-only \(lm.crossEntropy), PD* (τ on teacher) \(pd.crossEntropy) over \(pd.positions) positions")
        XCTAssertEqual(lm.positions, pd.positions)
        XCTAssertLessThan(pd.crossEntropy, lm.crossEntropy - 0.05, "PD* \(pd.crossEntropy) vs LM-only \(lm.crossEntropy)")
    }
}
