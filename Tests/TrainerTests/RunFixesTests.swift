import XCTest
import Foundation
import LogitStore
@testable import Trainer

/// Regression tests for the review findings on the run directory, the data split and the loop.
final class RunFixesTests: XCTestCase {
    func smallOptions() throws -> TrainingOptions {
        var o = TrainingOptions()
        o.batchSize = 2; o.seqLen = 8; o.maxTokens = 2 * 8 * 10; o.seed = 5; o.holdoutSequences = 1
        try o.apply(preset: "pd-star")
        return o
    }

    func logSteps(_ dir: String) throws -> [Int] {
        try String(contentsOfFile: dir + "/log.jsonl", encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return o["type"] == nil ? (o["step"] as! NSNumber).intValue : nil
        }
    }

    /// A run killed after its checkpoint at step 4 had logged steps 5 and 6; the resumed run re-trains them and
    /// the log holds each step once (and so does the plot).
    func testResumedRunDoesNotDuplicateLogLines() throws {
        let store = try TinyStore.make(sequences: 5, length: 16)
        let o = try smallOptions()
        let out = TinyStore.temporaryDirectory("dup") + "/run"
        do {
            let first = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out)
            for _ in 0..<4 { _ = try first.trainStep() }
            try first.checkpoint()
            _ = try first.evaluate()                        // logged at step 4: kept
            for _ in 0..<2 { _ = try first.trainStep() }    // logged, then "killed" before the next checkpoint
            _ = try first.evaluate()                        // logged at step 6: dropped
        }
        // A torn last line, as a kill mid-write leaves it.
        let h = FileHandle(forWritingAtPath: out + "/log.jsonl")!
        h.seekToEndOfFile(); h.write(Data("{\"step\": 7, \"tok".utf8)); try h.close()
        XCTAssertEqual(try logSteps(out).count, 6)
        let resumed = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out, resume: true)
        XCTAssertEqual(try logSteps(out), [1, 2, 3, 4])
        _ = try resumed.run()
        XCTAssertEqual(try logSteps(out), Array(1...resumed.totalSteps))
        let c = resumed.directory.curves()
        XCTAssertEqual(c.loss.count, resumed.totalSteps)
        XCTAssertEqual(c.heldOut.map(\.x), [Double(4 * 16), Double(resumed.tokens)])
    }

    /// The progress after a resume counts only this process's tokens.
    func testProgressAfterResumeCountsOnlyNewTokens() throws {
        let store = try TinyStore.make(sequences: 5, length: 16)
        let o = try smallOptions()
        let out = TinyStore.temporaryDirectory("progress") + "/run"
        do {
            let first = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out)
            for _ in 0..<4 { _ = try first.trainStep() }
            try first.checkpoint()
        }
        let resumed = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out, resume: true)
        let r = try resumed.trainStep()
        XCTAssertEqual(r.tokens, 5 * 16)
        let p = resumed.progress(after: r)
        XCTAssertEqual(p.done, 16)
        XCTAssertEqual(p.total, (resumed.totalSteps - 4) * 16)
    }

    /// `eval` never silently scores trained-on sequences.
    func testEvalRequiresAHeldOutChoice() throws {
        let store = try TinyStore.make(sequences: 5, length: 16)
        let other = try TinyStore.make(sequences: 2, length: 16, seed: 9)
        var o = try smallOptions(); o.holdoutSequences = 2
        let out = TinyStore.temporaryDirectory("eval") + "/run"
        _ = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out).run()
        let split = try RunDirectory.split(ofRun: out)
        XCTAssertEqual(split?.holdoutSequences, 2)
        let reader = try StoreReader(directory: store), otherReader = try StoreReader(directory: other)
        func msg(_ c: HeldOutChoice, _ path: String, _ r: StoreReader, _ s: DataSplit?) -> String {
            do { _ = try c.sequences(storePath: path, reader: r, split: s); return "" } catch { return "\(error)" }
        }
        XCTAssertTrue(msg(.unspecified, store, reader, split).contains("training store"))
        XCTAssertTrue(msg(.allSequences, store, reader, split).contains("training store"))
        XCTAssertTrue(msg(.lastSequences(3), store, reader, split).contains("trained-on"))
        XCTAssertEqual(try HeldOutChoice.lastSequences(2).sequences(storePath: store, reader: reader, split: split), [3, 4])
        XCTAssertEqual(try HeldOutChoice.unspecified.sequences(storePath: other, reader: otherReader, split: split), [0, 1])
        // The same store through another spelling of its path is still the training store.
        XCTAssertTrue(msg(.unspecified, store + "/../store", reader, split).contains("training store"))
        // An old run directory (no data.json): an explicit choice is required.
        XCTAssertTrue(msg(.unspecified, other, otherReader, nil).contains("held-out choice is needed"))
        XCTAssertEqual(try HeldOutChoice.allSequences.sequences(storePath: other, reader: otherReader, split: nil), [0, 1])
        for m in [msg(.unspecified, store, reader, split), msg(.lastSequences(3), store, reader, split)] {
            XCTAssertFalse(m.contains("--"), "library messages name fields, not flags: \(m)")
        }
    }

    /// A config's `vocab_size` that differs from the store is an error (absent or equal is fine).
    func testConfigVocabSizeMustMatchTheStore() throws {
        let store = try TinyStore.make(sequences: 3, length: 16)
        let base = #"{"layers": 1, "dim": 16, "heads": 2, "kv_heads": 1, "ffn_dim": 24, "tied_embeddings": true"#
        func config(_ extra: String) throws -> StudentConfig {
            try JSONDecoder().decode(StudentConfig.self, from: Data((base + extra + "}").utf8))
        }
        var o = TrainingOptions(); o.batchSize = 1; o.maxTokens = 16; o.holdoutSequences = 1
        func open(_ c: StudentConfig) throws { _ = try TrainingRun(storePath: store, student: c, options: o, outDir: TinyStore.temporaryDirectory("v") + "/run") }
        XCTAssertThrowsError(try open(try config(#", "vocab_size": 100"#))) { e in
            XCTAssertTrue("\(e)".contains("vocab_size 100 differs from the store's vocabulary 64"), "\(e)")
        }
        XCTAssertNoThrow(try open(try config(#", "vocab_size": 64"#)))
        XCTAssertNoThrow(try open(try config("")))
        XCTAssertEqual(try config(#", "vocab_size": 100"#), try config(""))   // not part of the shape
    }

    /// The step-1 loss is logged with full Double precision (the PyTorch mirror compares it exactly).
    func testLogKeepsFullPrecision() throws {
        let store = try TinyStore.make(sequences: 3, length: 16)
        var o = try smallOptions(); o.holdoutSequences = 0
        let out = TinyStore.temporaryDirectory("prec") + "/run"
        let run = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out)
        let r = try run.trainStep()
        let line = try String(contentsOfFile: out + "/log.jsonl", encoding: .utf8).split(separator: "\n")[0]
        let o1 = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        XCTAssertEqual((o1["loss"] as! NSNumber).doubleValue, r.loss)
        XCTAssertEqual((o1["lm_ce"] as! NSNumber).doubleValue, r.lmCE)
    }

    /// Resuming with different options names the fields that differ.
    func testResumeMismatchNamesTheFields() throws {
        let store = try TinyStore.make(sequences: 5, length: 16)
        let o = try smallOptions()
        let out = TinyStore.temporaryDirectory("mismatch") + "/run"
        do {
            let first = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out)
            _ = try first.trainStep(); try first.checkpoint()
        }
        var other = o; other.kdTemperatureOn = .both; other.seed = 9
        XCTAssertThrowsError(try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: other, outDir: out, resume: true)) { e in
            XCTAssertTrue("\(e)".contains("kdTemperatureOn, seed"), "\(e)")
        }
    }
}
