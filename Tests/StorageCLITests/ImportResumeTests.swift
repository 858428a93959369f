import Foundation
import XCTest
import LogitStore
import NumPyFiles
import StoreInterchange

/// Import resume and the whole-input checks: a re-run only continues what the same input committed, and bad
/// logits, tokens or target log-probs are refused before anything is written.
extension InterchangeTests {
    /// The store directory's files and their bytes (lock files excluded), to show that nothing changed.
    func snapshot(_ dir: String) -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !name.hasSuffix("lock") {
            out[name] = bytes(dir + "/" + name)
        }
        return out
    }

    func logitsSource(lengths: [Int], vocab: Int, seed: UInt64, dir: String, edit: (inout [Float], inout [UInt32]) -> Void = { _, _ in }) throws -> ImportSource {
        let n = lengths.reduce(0, +)
        var rng = TestRNG(seed: seed), tokenRNG = TestRNG(seed: seed ^ 0xABCD)   // a longer input extends a shorter one
        var logits = (0..<(n * vocab)).map { _ in Float(Int(rng.next() % 20_000) - 10_000) / 1500 }
        var tokens = (0..<n).map { _ in UInt32(tokenRNG.next() % UInt64(vocab)) }
        edit(&logits, &tokens)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try NPYWriter.write(tokens, to: dir + "/tokens.npy")
        try NPYWriter.write(lengths.map(Int64.init), to: dir + "/sequence_lengths.npy")
        try NPYWriter.write(logits, shape: [n, vocab], to: dir + "/logits.npy")
        return ImportSource(tokens: dir + "/tokens.npy", sequenceLengths: dir + "/sequence_lengths.npy", rows: .logits(dir + "/logits.npy"))
    }

    /// The case: import 2 sequences, then 4 different ones into the same directory. Before the fix this
    /// exited 0 with the old 2 followed by the new input's sequences 2–3.
    func testResumeWithDifferentTruncatedInputIsRefusedAndWritesNothing() throws {
        let settings = ImportSettings(vocabSize: 500, topK: 6)
        let first = makeSparse(lengths: [4, 4], vocab: 500, k: 6, seed: 5)
        let store = tmp.file("s")
        _ = try StoreImporter(source: try writeSparse(first, countsType: .uint8, withTargets: true, dir: tmp.file("a")), settings: settings).run(into: store)
        let before = snapshot(store)
        let other = makeSparse(lengths: [4, 4, 4, 4], vocab: 500, k: 6, seed: 6)
        let src = try writeSparse(other, countsType: .uint8, withTargets: true, dir: tmp.file("b"))
        XCTAssertThrowsError(try StoreImporter(source: src, settings: settings).run(into: store)) { error in
            XCTAssertEqual(error as? InterchangeError, .resumeMismatch(store: store, sequence: 0, field: "tokens"))
            XCTAssertFalse("\(error)".contains("\n"))
        }
        XCTAssertEqual(snapshot(store), before, "a refused resume changed the store")
        XCTAssertEqual(try StoreReader(directory: store).sequenceCount, 2)

        // Same tokens, one probability changed in the second sequence: still refused, naming the field.
        var probsOnly = first
        probsOnly.lengths = [4, 4, 4]
        let extra = makeSparse(lengths: [4], vocab: 500, k: 6, seed: 9)
        probsOnly.tokens += extra.tokens; probsOnly.counts += extra.counts; probsOnly.ids += extra.ids
        probsOnly.probs += extra.probs; probsOnly.tl += extra.tl
        let p = probsOnly.counts[0..<4].reduce(0) { $0 + Int($1) }
        probsOnly.probs[p + Int(probsOnly.counts[4]) - 1] = 0
        let src2 = try writeSparse(probsOnly, countsType: .uint8, withTargets: true, dir: tmp.file("c"))
        XCTAssertThrowsError(try StoreImporter(source: src2, settings: settings).run(into: store)) { error in
            XCTAssertEqual(error as? InterchangeError, .resumeMismatch(store: store, sequence: 1, field: "probs"))
        }
        XCTAssertEqual(snapshot(store), before)

        // The same input extended by a sequence resumes, and equals a fresh import of it.
        var extended = first
        extended.lengths = [4, 4, 4]
        extended.tokens += extra.tokens; extended.counts += extra.counts; extended.ids += extra.ids
        extended.probs += extra.probs; extended.tl += extra.tl
        let src3 = try writeSparse(extended, countsType: .uint8, withTargets: true, dir: tmp.file("d"))
        let resumed = try StoreImporter(source: src3, settings: settings).run(into: store)
        XCTAssertEqual([resumed.resumedSequences, resumed.sequences], [2, 1])
        let fresh = tmp.file("fresh")
        _ = try StoreImporter(source: src3, settings: settings).run(into: fresh)
        let a = try StoreReader(directory: store), b = try StoreReader(directory: fresh)
        XCTAssertEqual(a.sequenceCount, 3)
        for s in 0..<3 { XCTAssertEqual(try a.sequence(s), try b.sequence(s)) }
    }

    func testResumeOfLogitsImportComparesTheTruncatedRows() throws {
        let store = tmp.file("s")
        let settings = ImportSettings(topP: 0.9, topK: 8)
        _ = try StoreImporter(source: try logitsSource(lengths: [5, 6], vocab: 90, seed: 1, dir: tmp.file("a")), settings: settings).run(into: store)
        let before = snapshot(store)
        // Same tokens, one logit of the first sequence raised so its top entry changes.
        let changed = try logitsSource(lengths: [5, 6, 3], vocab: 90, seed: 1, dir: tmp.file("b")) { logits, _ in logits[2 * 90 + 7] += 40 }
        XCTAssertThrowsError(try StoreImporter(source: changed, settings: settings).run(into: store)) { error in
            guard case let .resumeMismatch(_, sequence, field)? = error as? InterchangeError else { return XCTFail("\(error)") }
            XCTAssertEqual(sequence, 0)
            XCTAssertTrue(["ids", "counts", "probs"].contains(field), field)
        }
        XCTAssertEqual(snapshot(store), before)
        // The first input's rows are a prefix of this one's: resumes.
        let extended = try logitsSource(lengths: [5, 6], vocab: 90, seed: 1, dir: tmp.file("c"))
        XCTAssertEqual(try StoreImporter(source: extended, settings: settings).run(into: store).resumedSequences, 2)
    }

    func testTwoWriterIDsShareAStoreAndEachResumesItsOwnSequences() throws {
        let store = tmp.file("s")
        let d1 = makeSparse(lengths: [3, 3], vocab: 400, k: 5, seed: 21), d2 = makeSparse(lengths: [2, 2, 2], vocab: 400, k: 5, seed: 22)
        let s1 = try writeSparse(d1, countsType: .uint8, withTargets: false, dir: tmp.file("a"))
        let s2 = try writeSparse(d2, countsType: .uint8, withTargets: false, dir: tmp.file("b"))
        _ = try StoreImporter(source: s1, settings: ImportSettings(vocabSize: 400, topK: 5, writerID: "left")).run(into: store)
        _ = try StoreImporter(source: s2, settings: ImportSettings(vocabSize: 400, topK: 5, writerID: "right")).run(into: store)
        XCTAssertEqual(try StoreImporter(source: s1, settings: ImportSettings(vocabSize: 400, topK: 5, writerID: "left")).run(into: store).resumedSequences, 2)
        let reader = try StoreReader(directory: store)
        XCTAssertEqual(reader.sequenceCount, 5)
        XCTAssertEqual(Set(reader.manifest.shards.map(\.writerID)), ["left", "right"])
    }

    func testNonFiniteLogitsAndBadTokensAreRefusedBeforeAnythingIsWritten() throws {
        for (name, value) in [("nan", Float.nan), ("inf", Float.infinity), ("-inf", -Float.infinity)] {
            let src = try logitsSource(lengths: [3, 3], vocab: 40, seed: 2, dir: tmp.file("in-" + name)) { logits, _ in logits[4 * 40 + 3] = value }
            assertRefused(src, ImportSettings(), contains: "logit [4, 3] is")
        }
        // A non-finite value in a padded column is ignored, as the truncation ignores it.
        let padded = try logitsSource(lengths: [3], vocab: 40, seed: 3, dir: tmp.file("pad")) { logits, _ in logits[39] = .nan }
        XCTAssertNoThrow(try StoreImporter(source: padded, settings: ImportSettings(vocabSize: 39)).run(into: tmp.file("pad-store")))

        let badToken = try logitsSource(lengths: [3, 3], vocab: 40, seed: 4, dir: tmp.file("tok")) { _, tokens in tokens[5] = 40 }
        assertRefused(badToken, ImportSettings(), contains: "token 40 at position 5 is not below the vocabulary size 40")

        var sparse = makeSparse(lengths: [5, 6], vocab: 1000, k: 8, seed: 11)
        sparse.tl[7] = 0.5
        assertRefused(try writeSparse(sparse, countsType: .uint8, withTargets: true, dir: tmp.file("tl")),
                      ImportSettings(vocabSize: 1000, topK: 8), contains: "target log-prob 0.5 at position 7 is positive")
        sparse = makeSparse(lengths: [5, 6], vocab: 1000, k: 8, seed: 11)
        sparse.tokens[9] = 1000
        assertRefused(try writeSparse(sparse, countsType: .uint8, withTargets: true, dir: tmp.file("tok2")),
                      ImportSettings(vocabSize: 1000, topK: 8), contains: "token 1000 at position 9")
    }
}
