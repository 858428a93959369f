import XCTest
import Foundation
import LogitStore
import Teacher
import Trainer

/// End to end on a small real dump: the real default teacher (SmolLM2-135M-Instruct Q4_1, fetched with
/// Tools/fetch-teacher) dumps real English text that was not written for the project (the GPL-3 text that
/// ships with every Debian system, /usr/share/common-licenses/GPL-3) into a store; two students of the same
/// shape, seed and token budget are trained on it, one LM-only and one PD*; PD* must reach a lower
/// held-out cross-entropy on the store's last sequences.
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

    func testPDStarBeatsLMOnlyOnHeldOutCrossEntropy() throws {
        let text = "/usr/share/common-licenses/GPL-3"
        guard FileManager.default.fileExists(atPath: text) else { throw XCTSkip("\(text) is missing (not a Debian system)") }
        let dir = NSTemporaryDirectory() + "pd-e2e-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = dir + "/store"

        // 1. A real dump: 40 sequences of 128 tokens at the PD* storage setting top-0.95-50.
        let teacher = try TeacherModel(path: try teacherPath())
        let dump = DumpOptions(input: text, format: .text, seqLen: 128, policy: TruncationPolicy(topP: 0.95, topK: 50),
                               maxTokens: 40 * 128, batch: 4)
        let summary = try DumpJob(teacher: teacher, options: dump).run(out: store)
        XCTAssertEqual(summary.sequences, 40)

        // 2. The same student trained LM-only and PD*, equal tokens, equal seed; last 6 sequences held out.
        let student = StudentConfig(layers: 2, dim: 64, heads: 4, kvHeads: 2, ffnDim: 192, tiedEmbeddings: true)
        func train(_ preset: String) throws -> EvalResult {
            var o = TrainingOptions()
            o.lr = LRSchedule(kind: .cosine, peak: 4e-3, minimum: 4e-4, warmup: 0.05)
            try o.apply(preset: preset)
            o.batchSize = 4; o.seqLen = 128; o.seed = 1
            o.maxTokens = 34 * 128 * 3            // three passes over the training part
            o.holdoutSequences = 6
            let run = try TrainingRun(storePath: store, student: student, options: o, outDir: dir + "/" + preset)
            return try run.run()
        }
        let lm = try train("lm")
        let pd = try train("pd-star")
        print("held-out CE: LM-only \(lm.crossEntropy), PD* \(pd.crossEntropy) over \(pd.positions) positions")
        XCTAssertEqual(lm.positions, pd.positions)
        XCTAssertLessThan(pd.crossEntropy, lm.crossEntropy - 0.05, "PD* \(pd.crossEntropy) vs LM-only \(lm.crossEntropy)")
    }
}
