import Foundation
import LogitStore
import XCTest
@testable import Teacher

/// One teacher pass feeding several stores (top-p-k and sampled): the bits do not depend on --workers, on which
/// stores share the pass, or on resume, and each store resumes on its own.
final class DumpMultiStoreTests: XCTestCase {
    nonisolated(unsafe) static var shared: TeacherModel?
    func teacher() throws -> TeacherModel {
        if let t = Self.shared { return t }
        let t = try TeacherModel(path: TestModel.path())
        Self.shared = t
        return t
    }

    let policies: [TruncationPolicy] = [TruncationPolicy(topP: 0.95, topK: 16), .sample(samples: 32, seed: 5),
                                        .sample(samples: 16, sampleTemperature: 2, seed: 5)]

    /// A directory with 61 raw tokens: 7 sequences of 8 and a last one of 5.
    func input() throws -> String {
        let dir = NSTemporaryDirectory() + "dump-multi-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let tokens: [UInt32] = (0..<61).map { UInt32(($0 * 104_729 + 17) % 49_152) }
        try Data(tokens.flatMap { x in withUnsafeBytes(of: x.littleEndian) { Array($0) } }).write(to: URL(fileURLWithPath: dir + "/t.u32"))
        return dir
    }

    func job(_ dir: String, workers: Int = 1, maxTokens: Int? = nil) throws -> DumpJob {
        try DumpJob(teacher: try teacher(), options: DumpOptions(input: dir + "/t.u32", format: .u32, seqLen: 8, maxTokens: maxTokens,
                                                                 batch: 2, workers: workers))
    }

    func assertSameStores(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try StoreReader(directory: a), y = try StoreReader(directory: b)
        XCTAssertEqual(x.manifest.truncation, y.manifest.truncation, file: file, line: line)
        XCTAssertEqual(x.sequenceCount, y.sequenceCount, file: file, line: line)
        for s in 0..<min(x.sequenceCount, y.sequenceCount) {
            let p = try x.sequence(s), q = try y.sequence(s)
            XCTAssertEqual(p.tokens, q.tokens, "sequence \(s)", file: file, line: line)
            XCTAssertEqual(p.offsets, q.offsets, "sequence \(s)", file: file, line: line)
            XCTAssertEqual(p.ids, q.ids, "sequence \(s)", file: file, line: line)
            XCTAssertEqual(p.probs.map(\.bitPattern), q.probs.map(\.bitPattern), "sequence \(s)", file: file, line: line)
            XCTAssertEqual(p.targetLogprobs?.map(\.bitPattern), q.targetLogprobs?.map(\.bitPattern), "sequence \(s)", file: file, line: line)
        }
    }

    func testOnePassFeedsEveryStoreAndWorkersDoNotChangeTheBits() throws {
        let dir = try input()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func outputs(_ tag: String) -> [DumpOutput] { policies.enumerated().map { DumpOutput(store: dir + "/\(tag)-\($0.offset)", policy: $0.element) } }
        let one = try job(dir, workers: 1).run(outputs: outputs("w1"))
        let two = try job(dir, workers: 2).run(outputs: outputs("w2"))
        XCTAssertEqual(one.workers, 1); XCTAssertEqual(two.workers, 2)
        XCTAssertEqual(one.stores.map(\.sequencesWritten), [8, 8, 8])
        XCTAssertEqual(one.tokensProcessed, 61, "one forward pass for three stores")
        for k in policies.indices { try assertSameStores(dir + "/w1-\(k)", dir + "/w2-\(k)") }
        // Each store alone (its own pass) stores the same bits as when it shares the pass.
        for k in [0, 2] {
            _ = try job(dir).run(outputs: [DumpOutput(store: dir + "/alone-\(k)", policy: policies[k])])
            try assertSameStores(dir + "/w1-\(k)", dir + "/alone-\(k)")
        }
        let sampled = try StoreReader(directory: dir + "/w1-1")
        XCTAssert(sampled.manifest.truncation.isSampled)
        let rec = try sampled.sequence(3)
        for j in 0..<rec.tokens.count {
            let probs = rec.probs[rec.offsets[j]..<rec.offsets[j + 1]]
            XCTAssertEqual(probs.reduce(0.0) { $0 + Double($1) }, 1, "counts weights sum to exactly 1")
        }
        // The sampled and top-p-k stores record the same target log-probs.
        XCTAssertEqual(try StoreReader(directory: dir + "/w1-0").sequence(3).targetLogprobs?.map(\.bitPattern),
                       rec.targetLogprobs?.map(\.bitPattern))
    }

    func testEachStoreResumesOnItsOwnAndResumeDoesNotChangeTheBits() throws {
        let dir = try input()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fresh = policies.indices.map { DumpOutput(store: dir + "/fresh-\($0)", policy: policies[$0]) }
        _ = try job(dir, workers: 2).run(outputs: fresh)
        let stores = policies.indices.map { DumpOutput(store: dir + "/resumed-\($0)", policy: policies[$0]) }
        // Runs killed right after a commit: store 1 got 3 sequences (mid-batch), store 2 got 5; store 0 none yet.
        for (k, n) in [(1, 3), (2, 5)] {
            let killed = try job(dir, workers: 2)
            killed.stopAfterSequences = n
            _ = try killed.run(outputs: [stores[k]])
            XCTAssertEqual(try StoreReader(directory: stores[k].store).sequenceCount, n)
        }
        let resumed = try job(dir, workers: 2).run(outputs: stores)
        XCTAssertEqual(resumed.stores.map(\.skippedSequences), [0, 3, 5])
        XCTAssertEqual(resumed.stores.map(\.sequencesWritten), [8, 5, 3])
        XCTAssertEqual(resumed.skippedSequences, 0)
        for k in policies.indices { try assertSameStores(fresh[k].store, stores[k].store) }
        // All complete: nothing to do, nothing written.
        let again = try job(dir).run(outputs: stores)
        XCTAssertEqual(again.tokensProcessed, 0)
        XCTAssertEqual(again.stores.map(\.sequencesWritten), [0, 0, 0])
    }

    func testAResumedStoreWhoseSequencesDifferIsRefusedAndTheSameStoreTwiceIsRefused() throws {
        let dir = try input()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = DumpOutput(store: dir + "/s", policy: policies[1])
        _ = try job(dir, maxTokens: 16).run(outputs: [store])
        var other: [UInt32] = (0..<61).map { UInt32(($0 * 104_729 + 17) % 49_152) }
        other[9] = 1  // in the second committed sequence
        try Data(other.flatMap { x in withUnsafeBytes(of: x.littleEndian) { Array($0) } }).write(to: URL(fileURLWithPath: dir + "/t.u32"))
        XCTAssertThrowsError(try job(dir).run(outputs: [DumpOutput(store: dir + "/new", policy: policies[0]), store])) {
            XCTAssert("\($0)".contains("differs from what this input gives"), "\($0)")
        }
        XCTAssertThrowsError(try job(dir).run(outputs: [store, DumpOutput(store: dir + "/./s", policy: policies[0])])) {
            XCTAssert("\($0)".contains("more than once"), "\($0)")
        }
    }
}
