import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
@testable import LogitStore

/// Crash + resume, bad input, incompatible re-opens and write failures.
final class WriterSafetyTests: XCTestCase {
    let vocab = 400
    func options(_ id: String = "w0", shardTarget: Int = 3000) -> WriterOptions {
        WriterOptions(vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 10),
                      teacher: TeacherIdentity(name: "t", weightsHash: "W", tokenizerHash: "T"),
                      writerID: id, shardTargetBytes: shardTarget, blockTargetBytes: 1024, recordTargetLogprobs: true)
    }
    func data(_ n: Int) -> [([UInt32], TruncatedRows)] {
        (0..<n).map { syntheticRows(positions: 20 + $0 % 7, vocab: vocab, kmax: 10, seed: UInt64(500 + $0), targets: true) }
    }

    func testCrashThenResume() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let all = data(20)
        var committedAtCrash = 0
        do {
            let w = try StoreWriter(directory: dir, options: options())
            for (t, r) in all.prefix(13) { try w.append(tokens: t, truncated: r) }
            committedAtCrash = w.committedSequenceCount
            XCTAssertGreaterThan(committedAtCrash, 0, "some shards should have been committed")
            XCTAssertGreaterThan(w.pendingSequenceCount, 0, "some sequences should still be pending")
            // "Crash": the writer goes away without finish(); its open shard stays a temp file.
        }
        // Leftovers a crash can leave: a temp file and a renamed-but-unlisted shard.
        _ = FileManager.default.createFile(atPath: dir + "/.w0-000077.lgs.tmp", contents: Data([1, 2, 3]))
        _ = FileManager.default.createFile(atPath: dir + "/w0-000078.lgs", contents: Data([4, 5, 6]))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".tmp") }
        XCTAssertFalse(leftovers.isEmpty)

        // Readers see exactly the committed sequences, intact.
        let r = try StoreReader(directory: dir)
        XCTAssertEqual(r.sequenceCount, committedAtCrash)
        for i in 0..<committedAtCrash { XCTAssertEqual(try r.sequence(i), record(all[i].0, all[i].1)) }
        // verify names the renamed-but-unlisted shard (a crash leftover) and nothing else.
        let crashReport = try r.verify()
        XCTAssertEqual(crashReport.problems.count, 1, "\(crashReport.problems)")
        XCTAssertTrue(crashReport.problems.first?.contains("w0-000078.lgs") ?? false, "\(crashReport.problems)")
        XCTAssertEqual(crashReport.unlistedFiles, ["w0-000078.lgs"])

        // Resume: same writer id, skip committed sequences, append the rest.
        let w = try StoreWriter(directory: dir, options: options())
        XCTAssertEqual(w.committedSequenceCount, committedAtCrash)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        XCTAssertFalse(names.contains { $0.hasSuffix(".tmp") }, "temp files should be cleaned: \(names)")
        XCTAssertFalse(names.contains("w0-000078.lgs"), "uncommitted shard should be cleaned")
        for (t, rows) in all.dropFirst(w.committedSequenceCount) { try w.append(tokens: t, truncated: rows) }
        try w.finish()
        let r2 = try StoreReader(directory: dir)
        XCTAssertEqual(r2.sequenceCount, all.count)
        for i in 0..<all.count { XCTAssertEqual(try r2.sequence(i), record(all[i].0, all[i].1)) }
        XCTAssertTrue(try r2.verify().ok)
    }

    func testSecondLiveWriterWithSameIdRefused() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = try StoreWriter(directory: dir, options: options("a"))
        XCTAssertThrowsError(try StoreWriter(directory: dir, options: options("a"))) { XCTAssertTrue("\($0)".contains("in use"), "\($0)") }
        // A different id may share the directory; both commit into one manifest.
        let b = try StoreWriter(directory: dir, options: options("b"))
        let d = data(4)
        try a.append(tokens: d[0].0, truncated: d[0].1)
        try b.append(tokens: d[1].0, truncated: d[1].1)
        try b.finish()
        try a.append(tokens: d[2].0, truncated: d[2].1)
        try a.finish()
        let r = try StoreReader(directory: dir)
        XCTAssertEqual(r.sequenceCount, 3)
        XCTAssertEqual(Set(r.manifest.shards.map(\.writerID)), ["a", "b"])
        XCTAssertEqual(try r.sequence(0), record(d[1].0, d[1].1))  // b committed first
    }

    func testIncompatibleReopenRefused() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try StoreWriter(directory: dir, options: options()).finish()
        var o = options(); o.vocabSize = 401
        XCTAssertThrowsError(try StoreWriter(directory: dir, options: o)) { XCTAssertTrue("\($0)".contains("vocabulary"), "\($0)") }
        o = options(); o.policy.topK = 11
        XCTAssertThrowsError(try StoreWriter(directory: dir, options: o)) { XCTAssertTrue("\($0)".contains("truncation"), "\($0)") }
        o = options(); o.teacher.tokenizerHash = "other"
        XCTAssertThrowsError(try StoreWriter(directory: dir, options: o)) { XCTAssertTrue("\($0)".contains("tokenizer"), "\($0)") }
        o = options(); o.recordTargetLogprobs = false
        XCTAssertThrowsError(try StoreWriter(directory: dir, options: o))
        // The rest of the store descriptor (§3.3): teacher name, a weights hash present on one side only.
        o = options(); o.teacher.name = "another"
        XCTAssertThrowsError(try StoreWriter(directory: dir, options: o)) { XCTAssertTrue("\($0)".contains("teacher_name"), "\($0)") }
        o = options(); o.teacher.weightsHash = nil
        XCTAssertThrowsError(try StoreWriter(directory: dir, options: o)) { XCTAssertTrue("\($0)".contains("weights_hash"), "\($0)") }
        XCTAssertNoThrow(try StoreWriter(directory: dir, options: options()).finish())
    }

    func testBadInputRejectedAndNothingCommitted() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try StoreWriter(directory: dir, options: options(shardTarget: 1 << 30))
        let good = data(2)
        try w.append(tokens: good[0].0, truncated: good[0].1)
        let (t, r) = syntheticRows(positions: 5, vocab: vocab, kmax: 10, seed: 9, targets: true)
        func expectReject(_ what: String, _ tokens: [UInt32], _ rows: TruncatedRows, _ fragment: String) {
            XCTAssertThrowsError(try w.append(tokens: tokens, truncated: rows), what) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(what): \(e)")
                guard case StoreError.invalidInput = e else { return XCTFail("\(what): \(e) is not invalidInput") }
            }
        }
        var x = r; x.ids[0] = UInt32(vocab); expectReject("id = vocab", t, x, "not below the vocabulary")
        x = r; x.probs[0] = Float16(1.5); expectReject("prob > 1", t, x, "outside [0, 1]")
        x = r; x.probs[0] = Float16(-0.1); expectReject("prob < 0", t, x, "outside [0, 1]")
        x = r; x.probs[0] = .nan; expectReject("prob NaN", t, x, "outside [0, 1]")
        let j = r.counts.firstIndex { $0 >= 2 }!
        let e0 = r.counts[..<j].reduce(0) { $0 + Int($1) }
        x = r; x.probs[e0] = 0.001; x.probs[e0 + 1] = 0.002; expectReject("not descending", t, x, "not descending")
        x = r; x.counts.removeLast(); expectReject("rows ≠ tokens", t, x, "rows of counts")
        x = r; x.counts[0] += 1; expectReject("counts sum", t, x, "counts sum")
        x = r; x.counts[0] = 11; expectReject("count > k", t, x, "more than top-k")
        x = r; x.targetLogprobs![0] = 0.5; expectReject("positive target", t, x, "positive")
        x = r; x.targetLogprobs!.removeLast(); expectReject("targets count", t, x, "target log-probs")
        var badTokens = t; badTokens[2] = UInt32(vocab); expectReject("token = vocab", badTokens, r, "token")
        expectReject("empty", [], TruncatedRows(), "no positions")
        // Logits: wrong width, NaN, ±Inf.
        let logits = [Float](repeating: 0.5, count: 3 * vocab)
        XCTAssertThrowsError(try logits.withUnsafeBufferPointer { try w.append(tokens: [1, 2], logits: $0) }) { XCTAssertTrue("\($0)".contains("width"), "\($0)") }
        for bad in [Float.nan, .infinity, -.infinity] {
            var l = logits; l[vocab + 3] = bad
            XCTAssertThrowsError(try l.withUnsafeBufferPointer { try w.append(tokens: [1, 2, 3], logits: $0) }) { e in
                XCTAssertTrue("\(e)".contains("non-finite") && "\(e)".contains("row 1"), "\(e)")
            }
        }
        // The writer is still usable; only the good sequences end up in the store.
        try w.append(tokens: good[1].0, truncated: good[1].1)
        try logits.withUnsafeBufferPointer { try w.append(tokens: [1, 2, 3], logits: $0) }
        try w.finish()
        let reader = try StoreReader(directory: dir)
        XCTAssertEqual(reader.sequenceCount, 3)
        XCTAssertEqual(try reader.sequence(0), record(good[0].0, good[0].1))
        XCTAssertEqual(try reader.sequence(1), record(good[1].0, good[1].1))
        XCTAssertEqual(try reader.sequence(2).tokens, [1, 2, 3])
        XCTAssertEqual(reader.positionCount, good[0].0.count + good[1].0.count + 3)
    }

    func testWriteFailureKeepsCommittedDataAndReportsIt() throws {
        // Simulate a full disk with a file-size limit: writes past it fail with EFBIG.
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try StoreWriter(directory: dir, options: options(shardTarget: 1 << 30))
        let d = data(3)
        try w.append(tokens: d[0].0, truncated: d[0].1)
        try w.commit()
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        signal(SIGXFSZ, SIG_IGN)
        var lim = old; lim.rlim_cur = 300
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &lim)
        var failure: Error?
        do {
            let (t, r) = syntheticRows(positions: 400, vocab: vocab, kmax: 10, seed: 77, targets: true)
            try w.append(tokens: t, truncated: r)
            try w.commit()
        } catch { failure = error }
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let e = try XCTUnwrap(failure)
        guard case StoreError.io = e else { return XCTFail("expected an I/O error, got \(e)") }
        XCTAssertTrue("\(e)".contains("write"), "\(e)")
        XCTAssertThrowsError(try w.append(tokens: d[1].0, truncated: d[1].1)) { XCTAssertEqual($0 as? StoreError, .writerClosed) }
        let r = try StoreReader(directory: dir)
        XCTAssertEqual(r.sequenceCount, 1)
        XCTAssertEqual(try r.sequence(0), record(d[0].0, d[0].1))
        XCTAssertTrue(try r.verify().ok)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: dir).contains { $0.hasSuffix(".lgs.tmp") })
    }
}
