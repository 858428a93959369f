import Foundation
import XCTest
import LogitStore
import NumPyFiles
import StoreInterchange

/// Import and export through the library (what `logitstore import` / `export` call).
final class InterchangeTests: XCTestCase {
    let tmp = TemporaryDirectory()

    /// Random pre-truncated rows: descending float16 probabilities, distinct ids per position below `vocab`.
    struct Sparse {
        var tokens: [UInt32] = [], lengths: [Int64] = [], counts: [UInt32] = [], ids: [UInt32] = [], probs: [Float16] = [], tl: [Float] = []
    }

    func makeSparse(lengths: [Int], vocab: Int, k: Int, seed: UInt64) -> Sparse {
        var rng = TestRNG(seed: seed)
        var d = Sparse()
        d.lengths = lengths.map(Int64.init)
        for len in lengths {
            for j in 0..<len {
                d.tokens.append(UInt32(rng.next() % UInt64(vocab)))
                let c = 1 + Int(rng.next() % UInt64(k))
                d.counts.append(UInt32(c))
                var chosen = Set<UInt32>()
                while chosen.count < c { chosen.insert(UInt32(rng.next() % UInt64(vocab))) }
                d.ids += chosen.shuffled(using: &rng)
                // Descending weights scaled to a kept mass in [0.3, 0.9]: a valid truncated distribution (Σ ≤ 1, Spec §5.1).
                let mass = Double(rng.next() % 1000) / 1000 * 0.6 + 0.3
                var w: [Double] = [], x = 1.0
                for _ in 0..<c { w.append(x); x *= Double(rng.next() % 90 + 5) / 100 }
                let total = w.reduce(0, +)
                for x in w { d.probs.append(Float16(x / total * mass)) }
                d.tl.append(j == len - 1 ? .nan : -Float(rng.next() % 10_000) / 1000)
            }
        }
        return d
    }

    func writeSparse(_ d: Sparse, countsType: NPYScalarType, withTargets: Bool, dir: String) throws -> ImportSource {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try NPYWriter.write(d.tokens, to: dir + "/tokens.npy")
        try NPYWriter.write(d.lengths, to: dir + "/sequence_lengths.npy")
        switch countsType {
        case .uint8: try NPYWriter.write(d.counts.map { UInt8($0) }, to: dir + "/counts.npy")
        case .uint16: try NPYWriter.write(d.counts.map { UInt16($0) }, to: dir + "/counts.npy")
        default: try NPYWriter.write(d.counts, to: dir + "/counts.npy")
        }
        try NPYWriter.write(d.ids, to: dir + "/ids.npy")
        try NPYWriter.write(d.probs, to: dir + "/probs.npy")
        if withTargets { try NPYWriter.write(d.tl, to: dir + "/target_logprobs.npy") }
        return ImportSource(tokens: dir + "/tokens.npy", sequenceLengths: dir + "/sequence_lengths.npy",
                            rows: .truncated(ids: dir + "/ids.npy", probs: dir + "/probs.npy", counts: dir + "/counts.npy",
                                             targetLogprobs: withTargets ? dir + "/target_logprobs.npy" : nil))
    }

    func bytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

    func testTruncatedImportExportIsBitExactForEveryCountsTypeAndCodec() throws {
        let d = makeSparse(lengths: [300, 1, 77, 1024], vocab: 49_152, k: 60, seed: 7)
        for (i, (ct, codec)) in [(NPYScalarType.uint8, Codec.zstd(level: 3)), (.uint16, .lz4), (.uint32, .none)].enumerated() {
            let input = tmp.file("in\(i)"), store = tmp.file("store\(i)"), out = tmp.file("out\(i)")
            let src = try writeSparse(d, countsType: ct, withTargets: i != 1, dir: input)
            let summary = try StoreImporter(source: src, settings: ImportSettings(vocabSize: 49_152, topK: 60, codec: codec)).run(into: store)
            XCTAssertEqual([summary.sequences, summary.positions, summary.entries, summary.resumedSequences, summary.vocabSize],
                           [4, d.tokens.count, d.ids.count, 0, 49_152])
            let ex = try StoreExporter.export(store: store, to: out, countsType: ct)
            XCTAssertEqual(ex.positions, d.tokens.count)
            var files = ["tokens.npy", "sequence_lengths.npy", "counts.npy", "ids.npy", "probs.npy"]
            if i != 1 { files.append("target_logprobs.npy") } else {
                XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/target_logprobs.npy"))
            }
            XCTAssertEqual(ex.files, files)
            for f in files { XCTAssertEqual(bytes(out + "/" + f), bytes(input + "/" + f), "\(f) differs (counts \(ct), codec \(codec))") }
        }
    }

    func testDefaultCountsTypeIsNarrowestForTopK() throws {
        XCTAssertEqual(StoreExporter.defaultCountsType(topK: 100), .uint8)
        XCTAssertEqual(StoreExporter.defaultCountsType(topK: 255), .uint8)
        XCTAssertEqual(StoreExporter.defaultCountsType(topK: 256), .uint16)
        XCTAssertEqual(StoreExporter.defaultCountsType(topK: 65_535), .uint16)
        let d = makeSparse(lengths: [10], vocab: 1000, k: 5, seed: 1)
        let src = try writeSparse(d, countsType: .uint32, withTargets: false, dir: tmp.file("in"))
        _ = try StoreImporter(source: src, settings: ImportSettings(vocabSize: 1000, topK: 300)).run(into: tmp.file("s"))
        _ = try StoreExporter.export(store: tmp.file("s"), to: tmp.file("o"))
        let counts = try NPYFile(path: tmp.file("o/counts.npy"))
        XCTAssertEqual(counts.dtype.scalar, .uint16)
        XCTAssertEqual(try counts.unsignedIntegers(), d.counts.map(UInt64.init))
    }

    /// Brute force: softmax in Double, order by probability then id, shortest prefix reaching p, at most k.
    func bruteForce(_ row: ArraySlice<Float>, p: Double, k: Int) -> (ids: [UInt32], probs: [Double]) {
        let m = Double(row.max()!)
        let e = row.map { Foundation.exp(Double($0) - m) }
        let z = e.reduce(0, +)
        let order = e.indices.sorted { e[$0] != e[$1] ? e[$0] > e[$1] : $0 < $1 }
        var ids: [UInt32] = [], probs: [Double] = [], mass = 0.0
        for i in order {
            ids.append(UInt32(i)); probs.append(e[i] / z); mass += e[i] / z
            if mass >= p || ids.count == k { break }
        }
        return (ids, probs)
    }

    func testLogitsImportMatchesBruteForceTruncationAndTargetLogprobs() throws {
        let v = 300, lengths = [7, 1, 12], n = lengths.reduce(0, +)
        var rng = TestRNG(seed: 3)
        var logits = (0..<(n * v)).map { _ in Float(Int(rng.next() % 20_000) - 10_000) / 1500 }
        for r in 0..<n where r % 3 == 0 { logits[r * v + Int(rng.next() % UInt64(v))] += 12 }   // some confident rows
        let tokens = (0..<n).map { _ in UInt32(rng.next() % UInt64(v)) }
        let dir = tmp.file("in")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try NPYWriter.write(tokens, to: dir + "/tokens.npy")
        try NPYWriter.write(lengths.map(Int64.init), to: dir + "/sequence_lengths.npy")
        try NPYWriter.write(logits, shape: [n, v], to: dir + "/logits.npy")
        try NPYWriter.write(logits.map { Float16($0) }, shape: [n, v], to: dir + "/logits16.npy")
        for (name, file) in [("f32", "logits.npy"), ("f16", "logits16.npy")] {
            let src = ImportSource(tokens: dir + "/tokens.npy", sequenceLengths: dir + "/sequence_lengths.npy", rows: .logits(dir + "/" + file))
            let store = tmp.file("store-" + name)
            let summary = try StoreImporter(source: src, settings: ImportSettings(topP: 0.9, topK: 10)).run(into: store)
            XCTAssertEqual(summary.vocabSize, v)
            let reader = try StoreReader(directory: store)
            XCTAssertEqual(reader.sequenceCount, 3)
            XCTAssertTrue(reader.hasTargetLogprobs)
            let rec = try reader.positions(0..<n)
            XCTAssertEqual(rec.tokens, tokens)
            var start = 0
            for len in lengths {
                for j in 0..<len {
                    let r = start + j
                    let row = name == "f32" ? logits[(r * v)..<((r + 1) * v)] : ArraySlice(logits[(r * v)..<((r + 1) * v)].map { Float(Float16($0)) })
                    let want = bruteForce(row, p: 0.9, k: 10)
                    let a = rec.offsets[r], b = rec.offsets[r + 1]
                    XCTAssertEqual(Array(rec.ids[a..<b]), want.ids, "row \(r) (\(name))")
                    for (got, w) in zip(rec.probs[a..<b], want.probs) { XCTAssertEqual(Double(got), w, accuracy: w * 1e-3 + 1e-7) }
                    let tl = rec.targetLogprobs![r]
                    if j == len - 1 { XCTAssertTrue(tl.isNaN, "last position of a sequence has no next token") } else {
                        let m = Double(row.max()!)
                        let lse = m + Foundation.log(row.reduce(0.0) { $0 + Foundation.exp(Double($1) - m) })
                        XCTAssertEqual(Double(tl), Double(row[row.startIndex + Int(tokens[r + 1])]) - lse, accuracy: 1e-4)
                    }
                }
                start += len
            }
        }
    }

    func testPaddedLogitsWidthAndVocabChecks() throws {
        let dir = tmp.file("in")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try NPYWriter.write([UInt32](repeating: 1, count: 4), to: dir + "/tokens.npy")
        try NPYWriter.write([Int64(4)], to: dir + "/sequence_lengths.npy")
        var logits = [Float](repeating: 0, count: 4 * 64)
        for r in 0..<4 { logits[r * 64 + 60] = 50 }   // huge logit in a padded column: must be ignored
        try NPYWriter.write(logits, shape: [4, 64], to: dir + "/logits.npy")
        let src = ImportSource(tokens: dir + "/tokens.npy", sequenceLengths: dir + "/sequence_lengths.npy", rows: .logits(dir + "/logits.npy"))
        _ = try StoreImporter(source: src, settings: ImportSettings(vocabSize: 50, topK: 5)).run(into: tmp.file("s"))
        let rec = try StoreReader(directory: tmp.file("s")).positions(0..<4)
        XCTAssertTrue(rec.ids.allSatisfy { $0 < 50 })
        XCTAssertThrowsError(try StoreImporter(source: src, settings: ImportSettings(vocabSize: 65)))
    }

    func assertRefused(_ src: ImportSource, _ settings: ImportSettings, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        let store = tmp.file("refused-" + UUID().uuidString)
        do {
            _ = try StoreImporter(source: src, settings: settings).run(into: store)
            XCTFail("accepted bad input (\(text))", file: file, line: line)
        } catch {
            let message = "\(error)"
            XCTAssertTrue(message.contains(text), "message '\(message)' lacks '\(text)'", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), file: file, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: store), "a refused import created \(store)", file: file, line: line)
    }

    func testBadTruncatedInputIsRefusedBeforeAnythingIsWritten() throws {
        let good = makeSparse(lengths: [5, 6], vocab: 1000, k: 8, seed: 11)
        let ok = ImportSettings(vocabSize: 1000, topK: 8)
        func variant(_ name: String, _ edit: (inout Sparse) -> Void, counts: NPYScalarType = .uint8) throws -> ImportSource {
            var d = good
            edit(&d)
            return try writeSparse(d, countsType: counts, withTargets: true, dir: tmp.file(name))
        }
        assertRefused(try variant("len", { $0.lengths[1] = 7 }), ok, contains: "sequence lengths sum to 12 but")
        assertRefused(try variant("len0", { $0.lengths = [0, 11] }), ok, contains: "sequence_lengths[0] is 0")
        assertRefused(try variant("cnt", { $0.counts[0] += 1 }), ok, contains: "counts sum to")
        assertRefused(try variant("id", { $0.ids[3] = 1000 }), ok, contains: "entry 3 is id 1000, not below the vocabulary size 1000")
        assertRefused(try variant("desc", { d in d.probs[d.counts.prefix(2).reduce(0) { $0 + Int($1) }] = 0.0001; d.probs[Int(d.counts[0]) + Int(d.counts[1]) + 1] = 0.9 }, counts: .uint16),
                      ok, contains: "not in descending order")
        assertRefused(try variant("big", { $0.probs[0] = 1.5 }), ok, contains: "outside [0, 1]")
        assertRefused(try variant("nan", { $0.probs[0] = .nan }), ok, contains: "outside [0, 1]")
        assertRefused(try variant("neg", { d in d.probs[Int(d.counts[0]) - 1] = -0.25 }), ok, contains: "outside [0, 1]")
        let src = try variant("fine", { _ in })
        assertRefused(src, ImportSettings(vocabSize: 1000, topK: 3), contains: "more than top-k 3")
        assertRefused(src, ImportSettings(vocabSize: nil, topK: 8), contains: "the vocabulary size is required")
        assertRefused(src, ImportSettings(vocabSize: 1000, topP: 1.5, topK: 8), contains: "top_p")
        var wrongTokens = src
        try NPYWriter.write(good.tokens.map(Int64.init), to: tmp.file("tokens64.npy"))
        wrongTokens.tokens = tmp.file("tokens64.npy")
        assertRefused(wrongTokens, ok, contains: "expected dtype uint32, found int64")
        var missing = src
        missing.sequenceLengths = tmp.file("nope.npy")
        assertRefused(missing, ok, contains: "nope.npy: cannot open")
        var shortTL = src
        try NPYWriter.write([Float](repeating: 0, count: 3), to: tmp.file("tl3.npy"))
        if case let .truncated(i, p, c, _) = src.rows { shortTL.rows = .truncated(ids: i, probs: p, counts: c, targetLogprobs: tmp.file("tl3.npy")) }
        assertRefused(shortTL, ok, contains: "expected shape (11,)")
    }

    func testNaNLogitsAreRefusedWholeBeforeTheFirstSequenceIsWritten() throws {
        let v = 40, n = 6
        var logits = (0..<(n * v)).map { Float($0 % 7) }
        logits[4 * v + 3] = .nan   // second sequence (positions 3..<6)
        let dir = tmp.file("in")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try NPYWriter.write([UInt32](repeating: 2, count: n), to: dir + "/tokens.npy")
        try NPYWriter.write([Int64(3), 3], to: dir + "/sequence_lengths.npy")
        try NPYWriter.write(logits, shape: [n, v], to: dir + "/logits.npy")
        let src = ImportSource(tokens: dir + "/tokens.npy", sequenceLengths: dir + "/sequence_lengths.npy", rows: .logits(dir + "/logits.npy"))
        assertRefused(src, ImportSettings(), contains: "logit [4, 3] is nan; every logit must be finite")
    }

    func testReRunningAnImportResumesAndExportRefusesToOverwrite() throws {
        let d = makeSparse(lengths: [4, 4, 4], vocab: 500, k: 6, seed: 5)
        let src = try writeSparse(d, countsType: .uint8, withTargets: false, dir: tmp.file("in"))
        let settings = ImportSettings(vocabSize: 500, topK: 6)
        _ = try StoreImporter(source: src, settings: settings).run(into: tmp.file("s"))
        let again = try StoreImporter(source: src, settings: settings).run(into: tmp.file("s"))
        XCTAssertEqual(again.resumedSequences, 3)
        XCTAssertEqual(again.sequences, 0)
        XCTAssertEqual(try StoreReader(directory: tmp.file("s")).positionCount, 12)
        XCTAssertThrowsError(try StoreImporter(source: src, settings: ImportSettings(vocabSize: 501, topK: 6)).run(into: tmp.file("s")))

        _ = try StoreExporter.export(store: tmp.file("s"), to: tmp.file("o"))
        XCTAssertThrowsError(try StoreExporter.export(store: tmp.file("s"), to: tmp.file("o"))) { error in
            XCTAssertEqual(error as? InterchangeError, .outputExists(tmp.file("o") + "/tokens.npy"))
        }
        XCTAssertNoThrow(try StoreExporter.export(store: tmp.file("s"), to: tmp.file("o"), overwrite: true))
        XCTAssertEqual(try NPYFile(path: tmp.file("o/ids.npy")).toArray(UInt32.self), d.ids)
        XCTAssertThrowsError(try StoreExporter.export(store: tmp.file("missing"), to: tmp.file("o2")))
    }
}

/// SplitMix64, for reproducible test data.
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
