import XCTest
import Foundation
@testable import LogitStore

/// Decodes every store under Spec/vectors and compares it, bit for bit, with its JSON.
final class SpecVectorTests: XCTestCase {
    static let vectorsDir: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/Spec/vectors"
    }()

    func testVectorsDecodeExactly() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.vectorsDir).filter { $0.hasSuffix(".json") }.sorted()
        XCTAssertGreaterThanOrEqual(names.count, 6, "spec vectors missing")
        XCTAssertTrue(names.contains("sample.json"), "the sampled-policy vector is missing")
        for name in names {
            let data = try Data(contentsOf: URL(fileURLWithPath: Self.vectorsDir + "/" + name))
            let doc = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            let store = Self.vectorsDir + "/" + (doc["name"] as! String)
            let r = try StoreReader(directory: store)
            XCTAssertEqual(r.vocabSize, doc["vocab_size"] as? Int, name)
            XCTAssertEqual(r.positionCount, doc["positions"] as? Int, name)
            XCTAssertEqual(r.entryCount, doc["entries"] as? Int, name)
            XCTAssertEqual(r.hasTargetLogprobs, doc["target_logprobs"] as? Bool, name)
            XCTAssertEqual(String(decoding: StoreDescriptor.bytes(of: r.manifest), as: UTF8.self), doc["descriptor"] as? String, name)
            XCTAssertEqual(Checksum.hex(r.manifest.descriptorHash), doc["descriptor_xxh3"] as? String, name)
            let policy = doc["truncation"] as! [String: Any]
            XCTAssertEqual(r.manifest.truncation.kind.rawValue, policy["policy"] as? String, name)
            let seqs = doc["sequences"] as! [[String: Any]]
            XCTAssertEqual(r.sequenceCount, seqs.count, name)
            for (i, s) in seqs.enumerated() {
                let got = try r.sequence(i)
                XCTAssertEqual(got.tokens.map(Int.init), s["tokens"] as! [Int], "\(name) seq \(i) tokens")
                XCTAssertEqual((0..<got.positionCount).map { got.count(at: $0) }, s["counts"] as! [Int], "\(name) seq \(i) counts")
                XCTAssertEqual(got.ids.map(Int.init), s["ids"] as! [Int], "\(name) seq \(i) ids")
                XCTAssertEqual(got.probs.map { Int($0.bitPattern) }, s["probs_f16_bits"] as! [Int], "\(name) seq \(i) probs")
                XCTAssertEqual(got.targetLogprobs?.map { Int($0.bitPattern) }, s["target_logprobs_f32_bits"] as? [Int], "\(name) seq \(i) target log-probs")
                if r.manifest.truncation.isSampled && r.manifest.truncation.weights == .counts {
                    // count/N weights: exact multiples of 1/64 summing to exactly 1, by descending count then lower id.
                    let n = Float(r.manifest.truncation.samples!)
                    for j in 0..<got.positionCount {
                        let range = got.offsets[j]..<got.offsets[j + 1]
                        let counts = range.map { Float(got.probs[$0]) * n }
                        XCTAssertEqual(counts.reduce(0, +), n, "\(name) seq \(i) position \(j)")
                        XCTAssertEqual(counts, counts.map { $0.rounded() }, "\(name) seq \(i) position \(j)")
                        for k in range.dropFirst() {
                            XCTAssertTrue(got.probs[k] < got.probs[k - 1] || (got.probs[k] == got.probs[k - 1] && got.ids[k] > got.ids[k - 1]),
                                          "\(name) seq \(i) position \(j): entries out of order")
                        }
                    }
                } else {
                    for j in 0..<got.positionCount {
                        let sum = (got.offsets[j]..<got.offsets[j + 1]).reduce(0.0) { $0 + Double(got.probs[$1]) }
                        XCTAssertLessThanOrEqual(sum, 1 + Double(got.count(at: j)) * 0x1p-11, "\(name) seq \(i) position \(j): kept mass above 1")
                    }
                }
                if let bits = s["logits_f32_bits"] as? [Int] {
                    // The truncation itself: re-run it on the stored logits and compare with the store.
                    let logits = bits.map { Float(bitPattern: UInt32($0)) }
                    let t = try logits.withUnsafeBufferPointer { rows -> TruncatedRows in
                        if r.manifest.truncation.isSampled {
                            // The normative draws (Spec §1.3): writer "v", ordinal = the sequence's index (one writer).
                            var out = TruncatedRows()
                            let sampler = try Sampler(vocabSize: r.vocabSize, rowWidth: r.vocabSize, policy: r.manifest.truncation, writerID: "v")
                            try sampler.sample(rows: rows, sequenceOrdinal: i, into: &out)
                            return out
                        }
                        return try Truncation.topPTopK(logits: rows, vocabSize: r.vocabSize, policy: r.manifest.truncation, tokens: got.tokens)
                    }
                    XCTAssertEqual(t.ids, got.ids, "\(name) seq \(i) truncation ids")
                    XCTAssertEqual(t.probs.map(\.bitPattern), got.probs.map(\.bitPattern), "\(name) seq \(i) truncation probs")
                }
            }
            let report = try r.verify()
            XCTAssertTrue(report.ok, "\(name): \(report.problems)")
        }
    }
}
