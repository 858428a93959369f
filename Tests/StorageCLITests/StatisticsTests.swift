import Foundation
import XCTest
import LogitStore

/// `inspect`'s numbers on a small store whose every figure is computed by hand here.
final class StatisticsTests: XCTestCase {
    let tmp = TemporaryDirectory()

    func testStatisticsOfAHandMadeStore() throws {
        let store = tmp.file("s")
        let w = try StoreWriter(directory: store, options: WriterOptions(vocabSize: 1000, policy: TruncationPolicy(topP: 0.9, topK: 3),
                                                                         teacher: TeacherIdentity(name: "hand"), writerID: "t"))
        // Sequence 0: counts 1, 3, 2. Sequence 1: counts 3, 3. Probabilities exact in float16.
        try w.append(tokens: [10, 11, 12], truncated: TruncatedRows(
            counts: [1, 3, 2], ids: [5, 6, 7, 8, 9, 10],
            probs: [0.9375, 0.5, 0.25, 0.125, 0.75, 0.1875],
            targetLogprobs: [-1, -2, .nan]))
        try w.append(tokens: [13, 14], truncated: TruncatedRows(
            counts: [3, 3], ids: [1, 2, 3, 4, 5, 6],
            probs: [0.5, 0.25, 0.125, 0.625, 0.25, 0.0625],
            targetLogprobs: [-0.5, .nan]))
        try w.finish()

        let reader = try StoreReader(directory: store)
        let s = try reader.statistics()
        XCTAssertEqual(s.positions, 5)
        XCTAssertEqual(s.sequences, 2)
        XCTAssertEqual(s.entries, 12)
        XCTAssertEqual(s.shards, 1)
        XCTAssertEqual(s.topK, 3)
        XCTAssertEqual(s.teacher, "hand")
        XCTAssertEqual(s.entryHistogram, [0, 1, 1, 3])
        XCTAssertEqual(s.positionsAtCap, 3)
        let masses = [0.9375, 0.875, 0.9375, 0.875, 0.9375]
        XCTAssertEqual(s.meanKeptMass, masses.reduce(0, +) / 5, accuracy: 1e-12)
        XCTAssertEqual(s.teacherPerplexity!, Foundation.exp(3.5 / 3), accuracy: 1e-9)
        XCTAssertEqual(s.perplexityPositions, 3)

        // Bytes: the shard files on disk, split into parts that add up.
        let onDisk = try FileManager.default.contentsOfDirectory(atPath: store).filter { $0.hasSuffix(".lgs") }
            .reduce(0) { $0 + ((try FileManager.default.attributesOfItem(atPath: store + "/" + $1)[.size] as? Int) ?? 0) }
        XCTAssertEqual(s.bytes, onDisk)
        XCTAssertEqual(s.split.reduce(0) { $0 + $1.bytes }, s.bytes)
        XCTAssertEqual(Set(s.split.map(\.part)), ["tokens", "counts", "ids", "probs", "target_logprobs", "block headers", "shard headers", "index"])
        XCTAssertEqual(s.split.reduce(0) { $0 + $1.fraction }, 1, accuracy: 1e-9)
        XCTAssertEqual(s.bytesPerEntry, Double(onDisk) / 12, accuracy: 1e-12)
        XCTAssertEqual(s.bytesPerPosition, Double(onDisk) / 5, accuracy: 1e-12)
        XCTAssertEqual(s.ratioVsRaw, 72 / Double(onDisk), accuracy: 1e-12)
        XCTAssertEqual(s.ratioVsFullFloat32, 5 * 1000 * 4 / Double(onDisk), accuracy: 1e-9)
        XCTAssertEqual(s.projectedBytes(tokens: 1e11), Double(onDisk) / 5 * 1e11, accuracy: 1)

        // The JSON form carries the keys the issue names.
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(s)) as! [String: Any]
        for key in ["positions", "sequences", "entries", "bytes", "bytes_per_entry", "bytes_per_position"] { XCTAssertNotNil(json[key], key) }

        // Histogram bins for display.
        let bins = s.histogramBins(10)
        XCTAssertEqual(bins.map(\.range), [1...1, 2...2, 3...3])
        XCTAssertEqual(bins.map(\.positions), [1, 1, 3])
    }

    func testStoreWithoutTargetStreamHasNoPerplexity() throws {
        let store = tmp.file("s")
        let w = try StoreWriter(directory: store, options: WriterOptions(vocabSize: 100, policy: TruncationPolicy(topP: 0.95, topK: 100),
                                                                         writerID: "t", recordTargetLogprobs: false))
        try w.append(tokens: [1, 2], truncated: TruncatedRows(counts: [1, 2], ids: [3, 4, 5], probs: [1, 0.5, 0.5]))
        try w.finish()
        let s = try StoreReader(directory: store).statistics()
        XCTAssertNil(s.teacherPerplexity)
        XCTAssertFalse(s.split.contains { $0.part == "target_logprobs" })
        XCTAssertEqual(s.meanKeptMass, 1, accuracy: 1e-12)
        let bins = s.histogramBins(10)
        XCTAssertEqual(bins.reduce(0) { $0 + $1.positions }, 2)
        XCTAssertEqual(bins.first?.range.lowerBound, 1)
        XCTAssertEqual(bins.last?.range.upperBound, 100)
    }

    func testTokenCountParsing() {
        XCTAssertEqual(TokenCount.parse("100B"), 1e11)
        XCTAssertEqual(TokenCount.parse("2.5T"), 2.5e12)
        XCTAssertEqual(TokenCount.parse("750m"), 7.5e8)
        XCTAssertEqual(TokenCount.parse("64K"), 64_000)
        XCTAssertEqual(TokenCount.parse("1G"), 1e9)
        XCTAssertEqual(TokenCount.parse("12345"), 12345)
        for bad in ["", "B", "-1B", "1X", "abc", "1e999", "nan"] { XCTAssertNil(TokenCount.parse(bad), bad) }
        XCTAssertEqual(TokenCount.format(1e11), "100B")
        XCTAssertEqual(TokenCount.format(2.5e12), "2.5T")
        XCTAssertEqual(TokenCount.format(999), "999")
    }
}
