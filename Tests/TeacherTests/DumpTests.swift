import Foundation
import LogitStore
import XCTest
@testable import Teacher

/// End to end on the real teacher: text and raw inputs, the stored sequences, the stored distributions against
/// the teacher's own softmax, resume, identity in the manifest, and bad input.
final class DumpTests: XCTestCase {
    nonisolated(unsafe) static var shared: TeacherModel?
    func teacher() throws -> TeacherModel {
        if let t = DumpTests.shared { return t }
        let t = try TeacherModel(path: TestModel.path())
        DumpTests.shared = t
        return t
    }
    func tempDir() -> String { NSTemporaryDirectory() + "dump-\(UUID().uuidString)" }

    func testTextDumpStoresPackedSequencesAndTheTeachersDistributions() throws {
        let t = try teacher()
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "{\"text\": \"The capital of France is Paris.\"}\n{\"text\": \"It is a truth universally acknowledged.\"}\n"
            .write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let job = try DumpJob(teacher: t, options: DumpOptions(input: dir + "/in.jsonl", format: .jsonl, seqLen: 8,
                                                               policy: TruncationPolicy(topP: 0.95, topK: 20)))
        let s = try job.run(out: dir + "/store")
        let expected = t.tokenizer.encode("The capital of France is Paris.") + [2] + t.tokenizer.encode("It is a truth universally acknowledged.") + [2]
        XCTAssertEqual(s.positions, expected.count)
        let r = try StoreReader(directory: dir + "/store")
        XCTAssertEqual(r.sequenceCount, (expected.count + 7) / 8)
        var all: [UInt32] = []
        for i in 0..<r.sequenceCount { all += try r.sequence(i).tokens }
        XCTAssertEqual(all, expected)
        XCTAssertEqual(r.manifest.teacher.weightsHash, t.weightsHash)
        XCTAssertEqual(r.manifest.teacher.tokenizerHash, "xxh3:" + t.tokenizer.identityHash)
        XCTAssertEqual(r.manifest.truncation, TruncationPolicy(topP: 0.95, topK: 20))

        // Position 5 of sequence 0 ("The capital of France is" → next) against the teacher's own softmax.
        let rec = try r.sequence(0)
        let p = try t.nextTokenDistribution(after: Array(rec.tokens[0...4]))
        let sorted = p.indices.sorted { p[$0] > p[$1] }
        let kept = rec.offsets[4]..<rec.offsets[5]
        XCTAssertGreaterThan(kept.count, 0)
        for (rank, e) in kept.enumerated() {
            XCTAssertEqual(Int(rec.ids[e]), sorted[rank])
            XCTAssertEqual(Double(rec.probs[e]), p[sorted[rank]], accuracy: 2e-3)
        }
        XCTAssertEqual(try t.tokenizer.decode([rec.ids[kept.lowerBound]]), " Paris")
    }

    func testRawTokensResumeAndRefusals() throws {
        let t = try teacher()
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tokens: [UInt32] = (0..<40).map { UInt32(($0 * 7919) % 49_152) }
        try Data(tokens.flatMap { x in withUnsafeBytes(of: x.littleEndian) { Array($0) } }).write(to: URL(fileURLWithPath: dir + "/t.u32"))
        func job(_ max: Int?) throws -> DumpJob {
            try DumpJob(teacher: t, options: DumpOptions(input: dir + "/t.u32", format: .u32, seqLen: 16,
                                                         policy: TruncationPolicy(topP: 0.9, topK: 8), maxTokens: max))
        }
        // A first, interrupted run committed 2 sequences; the re-run skips them and adds the rest.
        let first = try job(32).run(out: dir + "/store")
        XCTAssertEqual(first.tokensProcessed, 32)
        let second = try job(nil).run(out: dir + "/store")
        XCTAssertEqual(second.skippedSequences, 2)
        XCTAssertEqual(second.tokensProcessed, 8)
        let fresh = try job(nil).run(out: dir + "/fresh")
        XCTAssertEqual(fresh.tokensProcessed, 40)
        let a = try StoreReader(directory: dir + "/store"), b = try StoreReader(directory: dir + "/fresh")
        XCTAssertEqual(a.sequenceCount, 3)
        for i in 0..<3 { XCTAssertEqual(try a.sequence(i), try b.sequence(i)) }
        XCTAssertEqual(try (0..<3).flatMap { try a.sequence($0).tokens }, tokens)

        // Resuming with an input that differs from what was stored is refused.
        var other = tokens; other[3] = 1   // inside the first committed sequence (every committed sequence is compared)
        try Data(other.flatMap { x in withUnsafeBytes(of: x.littleEndian) { Array($0) } }).write(to: URL(fileURLWithPath: dir + "/t.u32"))
        XCTAssertThrowsError(try job(48).run(out: dir + "/store")) { XCTAssertTrue("\($0)".contains("differs from what this input gives"), "\($0)") }
        // A different truncation policy is refused by the store.
        let k4 = try DumpJob(teacher: t, options: DumpOptions(input: dir + "/t.u32", format: .u32, seqLen: 16, policy: TruncationPolicy(topP: 0.9, topK: 4)))
        XCTAssertThrowsError(try k4.run(out: dir + "/store"))
        // Tokens outside the vocabulary.
        try Data([0xFF, 0xFF, 0xFF, 0x00]).write(to: URL(fileURLWithPath: dir + "/big.u32"))
        let big = try DumpJob(teacher: t, options: DumpOptions(input: dir + "/big.u32", format: .u32, seqLen: 16))
        XCTAssertThrowsError(try big.run(out: dir + "/big")) { XCTAssertTrue("\($0)".contains("outside the teacher's vocabulary"), "\($0)") }
    }

    /// Several workers (each with its own model replica, OpenBLAS single-threaded) store exactly what one worker
    /// stores, bit for bit and in the same order. (A different --batch changes the product shapes, and with them
    /// the float32 rounding in the last bits; the worker count does not.)
    func testWorkersAndBatchesStoreTheSameAsOneWorker() throws {
        let t = try teacher()
        let dir = tempDir()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tokens: [UInt32] = (0..<61).map { UInt32(($0 * 104_729 + 17) % 49_152) }
        try Data(tokens.flatMap { x in withUnsafeBytes(of: x.littleEndian) { Array($0) } }).write(to: URL(fileURLWithPath: dir + "/t.u32"))
        func run(workers: Int, batch: Int) throws -> (DumpSummary, StoreReader) {
            let out = dir + "/w\(workers)b\(batch)"
            let job = try DumpJob(teacher: t, options: DumpOptions(input: dir + "/t.u32", format: .u32, seqLen: 8,
                                                                   policy: TruncationPolicy(topP: 0.95, topK: 16), batch: batch, workers: workers))
            return (try job.run(out: out), try StoreReader(directory: out))
        }
        let (s1, one) = try run(workers: 1, batch: 2)
        let (s3, three) = try run(workers: 3, batch: 2)
        XCTAssertEqual(s1.workers, 1)
        XCTAssertEqual(s3.workers, 3)
        XCTAssertEqual(one.sequenceCount, 8)   // 7 full sequences of 8 and a last one of 5
        XCTAssertEqual(three.sequenceCount, 8)
        for i in 0..<8 { XCTAssertEqual(try one.sequence(i), try three.sequence(i), "sequence \(i)") }
        XCTAssertEqual(try (0..<8).flatMap { try three.sequence($0).tokens }, tokens)
        // The LM head in chunks of 3 rows (the chunks straddle sequence ends and target log-probs) stores the same.
        let chunked = try DumpJob(teacher: t, options: DumpOptions(input: dir + "/t.u32", format: .u32, seqLen: 8,
                                                                   policy: TruncationPolicy(topP: 0.95, topK: 16), batch: 2, workers: 2))
        chunked.headRows = 3
        _ = try chunked.run(out: dir + "/chunked")
        let c3 = try StoreReader(directory: dir + "/chunked")
        // Other product shapes round differently in the last float32 bits, so compare as distributions.
        for i in 0..<8 {
            let a = try one.sequence(i), b = try c3.sequence(i)
            XCTAssertEqual(a.tokens, b.tokens)
            for j in 0..<a.tokens.count {
                let ra = a.offsets[j]..<a.offsets[j + 1], rb = b.offsets[j]..<b.offsets[j + 1]
                XCTAssertLessThanOrEqual(abs(ra.count - rb.count), 1, "sequence \(i) position \(j)")
                XCTAssertEqual(a.ids[ra.lowerBound], b.ids[rb.lowerBound], "sequence \(i) position \(j)")
                var pb: [UInt32: Float] = [:]
                for e in rb { pb[b.ids[e]] = Float(b.probs[e]) }
                for e in ra { if let q = pb[a.ids[e]] { XCTAssertEqual(Float(a.probs[e]), q, accuracy: 1e-3) } }
                XCTAssertEqual(a.targetLogprobs![j].isNaN, b.targetLogprobs![j].isNaN)
                if !a.targetLogprobs![j].isNaN { XCTAssertEqual(a.targetLogprobs![j], b.targetLogprobs![j], accuracy: 1e-3) }
            }
        }
        XCTAssertThrowsError(try DumpJob(teacher: t, options: DumpOptions(input: dir + "/t.u32", format: .u32, workers: 0))) {
            XCTAssertEqual($0 as? TeacherError, .invalidOption("workers must be at least 1"), "\($0)")
        }
    }

    func testUnsupportedArchitectureIsRefused() throws {
        var b = GGUFBuilder()
        b.add("general.architecture", string: "gpt2")
        XCTAssertThrowsError(try TeacherModel(path: try b.write())) {
            XCTAssertEqual("\($0)", "unsupported model architecture 'gpt2' (supported: llama)")
        }
    }
}
