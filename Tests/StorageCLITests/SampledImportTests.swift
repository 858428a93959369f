import Foundation
import XCTest
import LogitStore
import NumPyFiles
import StoreInterchange

/// `import` under a sample policy: logits are sampled by the writer (ordinal = sequence index), pre-sampled rows
/// are checked against the policy before anything is written.
final class SampledImportTests: XCTestCase {
    let tmp = TemporaryDirectory()

    func testLogitsImportUnderASamplePolicyStoresTheSamplersDraws() throws {
        let v = 200, lengths = [6, 3, 9], n = lengths.reduce(0, +)
        var rng = TestRNG(seed: 5)
        let logits = (0..<(n * v)).map { _ in Float(Int(rng.next() % 20_000) - 10_000) / 3000 }
        let tokens = (0..<n).map { _ in UInt32(rng.next() % UInt64(v)) }
        let dir = tmp.file("in")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try NPYWriter.write(tokens, to: dir + "/tokens.npy")
        try NPYWriter.write(lengths.map(Int64.init), to: dir + "/sequence_lengths.npy")
        try NPYWriter.write(logits, shape: [n, v], to: dir + "/logits.npy")
        let policy = try PolicySpelling.parse("sample:32", sampleSeed: 11)
        let src = ImportSource(tokens: dir + "/tokens.npy", sequenceLengths: dir + "/sequence_lengths.npy", rows: .logits(dir + "/logits.npy"))
        let store = tmp.file("s")
        _ = try StoreImporter(source: src, settings: ImportSettings(policy: policy)).run(into: store)
        let reader = try StoreReader(directory: store)
        XCTAssertEqual(reader.manifest.truncation, policy)
        let sampler = try Sampler(vocabSize: v, policy: policy, writerID: "import")
        var start = 0
        for (s, len) in lengths.enumerated() {
            var rows = TruncatedRows()
            try logits.withUnsafeBufferPointer {
                try sampler.sample(rows: UnsafeBufferPointer(rebasing: $0[(start * v)..<((start + len) * v)]), sequenceOrdinal: s, into: &rows)
            }
            let rec = try reader.sequence(s)
            XCTAssertEqual(rec.ids, rows.ids, "sequence \(s)")
            XCTAssertEqual(rec.probs, rows.probs, "sequence \(s)")
            start += len
        }
    }

    func testPresampledRowsAreCheckedAgainstThePolicyBeforeAnythingIsWritten() throws {
        let dir = tmp.file("pre")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Two sequences of 2 positions, N = 4: counts {2,1,1}, {4}, {3,1}, then a bad last one.
        func write(lastProbs: [Float16]) throws -> ImportSource {
            let probs: [Float16] = [0.5, 0.25, 0.25, 1, 0.75, 0.25] + lastProbs
            try NPYWriter.write([UInt32](repeating: 1, count: 4), to: dir + "/tokens.npy")
            try NPYWriter.write([Int64(2), 2], to: dir + "/sequence_lengths.npy")
            try NPYWriter.write([UInt32(3), 1, 2, UInt32(lastProbs.count)], to: dir + "/counts.npy")
            try NPYWriter.write((0..<probs.count).map { UInt32($0 + 10) }, to: dir + "/ids.npy")
            try NPYWriter.write(probs, to: dir + "/probs.npy")
            return ImportSource(tokens: dir + "/tokens.npy", sequenceLengths: dir + "/sequence_lengths.npy",
                                rows: .truncated(ids: dir + "/ids.npy", probs: dir + "/probs.npy", counts: dir + "/counts.npy", targetLogprobs: nil))
        }
        let policy = TruncationPolicy.sample(samples: 4, seed: 0)
        let good = try write(lastProbs: [0.5, 0.5])
        _ = try StoreImporter(source: good, settings: ImportSettings(vocabSize: 100, policy: policy)).run(into: tmp.file("ok"))
        XCTAssertEqual(try StoreReader(directory: tmp.file("ok")).sequenceCount, 2)
        let bad = try write(lastProbs: [0.5, 0.375])
        XCTAssertThrowsError(try StoreImporter(source: bad, settings: ImportSettings(vocabSize: 100, policy: policy))) {
            XCTAssert("\($0)".contains("sequence 1"), "\($0)")
            XCTAssert("\($0)".contains("whole count"), "\($0)")
        }
    }
}
