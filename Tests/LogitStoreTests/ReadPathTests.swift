import XCTest
import Foundation
@testable import LogitStore

/// Read-time targets, shuffled iteration and merge.
final class ReadPathTests: XCTestCase {
    // MARK: Targets

    /// Straightforward Double reference of Spec/FORMAT.md §7.2.
    func reference(_ probs: [Float], p: Double, k: Int, tau: Double, bucket: Bool) -> ([Double], Double?) {
        var m = 0, mass = 0.0
        for q in probs { if m >= k { break }; mass += Double(q); m += 1; if mass >= p { break } }
        let w = probs.prefix(m).map { Foundation.pow(Double($0), 1 / tau) }
        let sw = w.reduce(0, +)
        let kept = min(1, max(0, mass))
        if bucket { return (tau == 1 ? probs.prefix(m).map(Double.init) : w.map { kept * $0 / sw }, 1 - kept) }
        return (w.map { $0 / sw }, nil)
    }

    func testTargetsMatchReference() throws {
        let (tokens, rows) = syntheticRows(positions: 60, vocab: 1000, kmax: 30, seed: 5)
        let rec = record(tokens, rows)
        for p in [1.0, 0.9, 0.5, 0.05] {
            for k in [Int.max, 30, 7, 1] {
                for tau in [1.0, 2.0, 0.5] {
                    for bucket in [false, true] {
                        let t = try rec.targets(TargetOptions(topP: p, topK: k, temperature: tau, droppedMassBucket: bucket))
                        XCTAssertEqual(t.offsets.count, rec.positionCount + 1)
                        for j in 0..<rec.positionCount {
                            let a = rec.offsets[j], b = rec.offsets[j + 1]
                            let (want, drop) = reference(rec.probs[a..<b].map(Float.init), p: p, k: k, tau: tau, bucket: bucket)
                            let got = Array(t.probs[t.offsets[j]..<t.offsets[j + 1]])
                            XCTAssertEqual(got.count, want.count, "p \(p) k \(k) τ \(tau) position \(j)")
                            XCTAssertEqual(Array(t.ids[t.offsets[j]..<t.offsets[j + 1]]), Array(rec.ids[a..<(a + want.count)]))
                            for (g, w) in zip(got, want) { XCTAssertEqual(Double(g), w, accuracy: 1e-6 + 1e-6 * w) }
                            if bucket {
                                XCTAssertEqual(Double(t.droppedMass![j]), drop!, accuracy: 1e-6)
                                XCTAssertEqual(got.reduce(0, +) + t.droppedMass![j], 1, accuracy: 1e-5)
                            } else {
                                XCTAssertNil(t.droppedMass)
                                XCTAssertEqual(got.reduce(0, +), 1, accuracy: 1e-5)
                            }
                        }
                    }
                }
            }
        }
    }

    func testTemperatureSharpensAndFlattens() throws {
        let rec = SequenceRecord(tokens: [0], offsets: [0, 3], ids: [5, 6, 7], probs: [0.5, 0.3, 0.1])
        let hot = try rec.targets(TargetOptions(temperature: 2)).probs, cold = try rec.targets(TargetOptions(temperature: 0.5)).probs
        let plain = try rec.targets(TargetOptions()).probs
        XCTAssertLessThan(hot[0], plain[0]); XCTAssertGreaterThan(cold[0], plain[0])
        XCTAssertEqual(Double(plain[0]), 0.5 / 0.9, accuracy: 1e-3)
    }

    // MARK: Shuffled iteration

    func testOrderIsDeterministicPermutationPartitionedAndResumable() {
        let n = 103
        var a = SequenceOrder(sequenceCount: n, seed: 42), b = SequenceOrder(sequenceCount: n, seed: 42), c = SequenceOrder(sequenceCount: n, seed: 43)
        let ea = (0..<n).map { _ in a.next() }, eb = (0..<n).map { _ in b.next() }, ec = (0..<n).map { _ in c.next() }
        XCTAssertEqual(ea, eb)
        XCTAssertNotEqual(ea, ec)
        XCTAssertEqual(Set(ea).count, n, "one epoch visits every sequence once")
        XCTAssertEqual(a.state, IterationState(epoch: 0, cursor: n))
        let next = (0..<n).map { _ in a.next() }
        XCTAssertEqual(Set(next).count, n)
        XCTAssertNotEqual(next, ea, "a new epoch reshuffles")
        XCTAssertEqual(a.state.epoch, 1)

        // Ranks: disjoint, equal share, together cover all but N mod W.
        let world = 4
        var seen = Set<Int>()
        for rank in 0..<world {
            var o = SequenceOrder(sequenceCount: n, seed: 7, rank: rank, worldSize: world)
            XCTAssertEqual(o.sequencesPerEpoch, n / world)
            let mine = (0..<o.sequencesPerEpoch).map { _ in o.next() }
            XCTAssertTrue(seen.isDisjoint(with: mine))
            seen.formUnion(mine)
        }
        XCTAssertEqual(seen.count, n / world * world)

        // Resume from a saved state (through JSON) continues identically.
        var full = SequenceOrder(sequenceCount: n, seed: 9, rank: 1, worldSize: 2)
        for _ in 0..<70 { _ = full.next() }
        let saved = try! JSONEncoder().encode(full.state)
        let rest = (0..<80).map { _ in full.next() }
        var resumed = SequenceOrder(sequenceCount: n, seed: 9, rank: 1, worldSize: 2)
        resumed.state = try! JSONDecoder().decode(IterationState.self, from: saved)
        XCTAssertEqual((0..<80).map { _ in resumed.next() }, rest)
    }

    // MARK: Merge

    func writeStore(_ dir: String, id: String, seeds: Range<Int>, vocab: Int = 300, topK: Int = 8, tokenizer: String = "T") throws -> [SequenceRecord] {
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: topK),
                                                                       teacher: TeacherIdentity(name: "t", tokenizerHash: tokenizer),
                                                                       writerID: id, shardTargetBytes: 2000, recordTargetLogprobs: false))
        var out: [SequenceRecord] = []
        for s in seeds {
            let (t, r) = syntheticRows(positions: 30, vocab: vocab, kmax: topK, seed: UInt64(s))
            try w.append(tokens: t, truncated: r); out.append(record(t, r))
        }
        try w.finish()
        return out
    }

    func testMergeIsMetadataOnlyAndRefusesMismatches() throws {
        let root = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let a = try writeStore(root + "/a", id: "a", seeds: 0..<5)
        let b = try writeStore(root + "/b", id: "b", seeds: 10..<14)
        try StoreMerge.merge(output: root + "/out", inputs: [root + "/a", root + "/b"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/out"), ["manifest.json"], "merge must not copy data")
        let r = try StoreReader(directory: root + "/out")
        XCTAssertEqual(r.sequenceCount, 9)
        for (i, e) in (a + b).enumerated() { XCTAssertEqual(try r.sequence(i), e) }
        XCTAssertTrue(try r.verify().ok)
        XCTAssertTrue(r.manifest.shards.allSatisfy { $0.file.hasPrefix("../") })

        _ = try writeStore(root + "/v", id: "v", seeds: 0..<1, vocab: 301)
        _ = try writeStore(root + "/k", id: "k", seeds: 0..<1, topK: 9)
        _ = try writeStore(root + "/t", id: "t", seeds: 0..<1, tokenizer: "other")
        for (bad, why) in [("v", "vocabulary"), ("k", "truncation"), ("t", "tokenizer")] {
            XCTAssertThrowsError(try StoreMerge.merge(output: root + "/x" + bad, inputs: [root + "/a", root + "/" + bad])) {
                XCTAssertTrue("\($0)".contains(why), "\($0)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/x" + bad + "/manifest.json"))
        }
        XCTAssertThrowsError(try StoreMerge.merge(output: root + "/out", inputs: [root + "/a"])) { XCTAssertTrue("\($0)".contains("already")) }
        XCTAssertThrowsError(try StoreMerge.merge(output: root + "/dup", inputs: [root + "/a", root + "/a"])) { XCTAssertTrue("\($0)".contains("twice")) }
    }
}
