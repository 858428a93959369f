import XCTest
import Foundation
@testable import LogitStore

/// The manifest cannot lie (issue 10 item 2): every store-level or shard-list change that would alter what a reader
/// returns, or which checks run, is refused on open or reported by verify. Error lines stay short.
final class ManifestValidationTests: XCTestCase {
    let vocab = 300

    /// A 2-shard store of writer w0 (target log-probs on), with tokenizer hash "T" and teacher "t".
    func makeStore(_ name: String = #function, targets: Bool = true) throws -> String {
        let dir = makeTempDir(name)
        let w = try StoreWriter(directory: dir, options: WriterOptions(
            vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 10),
            teacher: TeacherIdentity(name: "t", weightsHash: "W", tokenizerHash: "T"),
            shardTargetBytes: 1500, blockTargetBytes: 1024, recordTargetLogprobs: targets))
        for s in 0..<6 {
            let (t, r) = syntheticRows(positions: 30, vocab: vocab, kmax: 10, seed: UInt64(40 + s), targets: targets)
            try w.append(tokens: t, truncated: r)
        }
        try w.finish()
        XCTAssertGreaterThanOrEqual(try Manifest.load(directory: dir).shards.count, 2)
        return dir
    }

    var manifestPath: (String) -> String { { $0 + "/manifest.json" } }

    func text(_ dir: String) throws -> String { try String(contentsOfFile: manifestPath(dir), encoding: .utf8) }

    /// Replaces `old` (which must occur) by `new` in the manifest text.
    func replace(_ dir: String, _ old: String, _ new: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let t = try text(dir)
        XCTAssertTrue(t.contains(old), "manifest lacks \(old)", file: file, line: line)
        try t.replacingOccurrences(of: old, with: new).write(toFile: manifestPath(dir), atomically: false, encoding: .utf8)
    }

    /// Opening (and reading everything from) the store fails with a one-line error of at most 300 characters
    /// containing `fragment`.
    func assertRefused(_ dir: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            let r = try StoreReader(directory: dir)
            for i in 0..<r.sequenceCount { _ = try r.sequence(i) }
            XCTFail("store was accepted; expected an error containing \"\(fragment)\"", file: file, line: line)
        } catch {
            let s = "\(error)"
            XCTAssertTrue(s.contains(fragment), "error \"\(s)\" lacks \"\(fragment)\"", file: file, line: line)
            XCTAssertLessThanOrEqual(s.count, 300, "error line too long: \(s.count)", file: file, line: line)
            XCTAssertFalse(s.contains("\n"), "error is not one line", file: file, line: line)
        }
    }

    func withStore(_ name: String = #function, targets: Bool = true, _ body: (String) throws -> Void) throws {
        let dir = try makeStore(name, targets: targets)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    // MARK: The manifest lies of issue 10

    func testTopPAboveOneRefused() throws {
        try withStore { dir in try replace(dir, "\"top_p\" : 0.9", "\"top_p\" : 1.5"); assertRefused(dir, "top_p") }
    }

    func testTopKZeroAndTwoToThe32Refused() throws {
        try withStore { dir in try replace(dir, "\"top_k\" : 10", "\"top_k\" : 0"); assertRefused(dir, "top_k") }
        try withStore { dir in try replace(dir, "\"top_k\" : 10", "\"top_k\" : 4294967296"); assertRefused(dir, "top_k") }
        try withStore { dir in try replace(dir, "\"top_k\" : 10", "\"top_k\" : 4294967295"); assertRefused(dir, "top_k") }
    }

    func testNegativeTemperatureRefused() throws {
        try withStore { dir in try replace(dir, "\"temperature\" : 1", "\"temperature\" : -1"); assertRefused(dir, "temperature") }
    }

    func testPaddedVocabularyBelowVocabularyRefused() throws {
        try withStore { dir in
            try replace(dir, "\"vocab_size\" : 300", "\"padded_vocab_size\" : 200,\n  \"vocab_size\" : 300")
            assertRefused(dir, "padded_vocab_size")
        }
    }

    func testTargetLogprobsFalseWithTheStreamPresentRefused() throws {
        try withStore { dir in
            try replace(dir, "\"target_logprobs\" : true", "\"target_logprobs\" : false")
            assertRefused(dir, "manifest does not match shard")
        }
    }

    func testSameShardListedTwiceRefused() throws {
        try withStore { dir in
            var m = try Manifest.load(directory: dir)
            m.shards.append(m.shards[0])
            try m.save(directory: dir)
            assertRefused(dir, "listed twice")
        }
    }

    func testEmptyShardListNextToAShardFileFailsVerify() throws {
        try withStore { dir in
            var m = try Manifest.load(directory: dir)
            let files = m.shards.map(\.file)
            m.shards = []
            try m.save(directory: dir)
            let r = try StoreReader(directory: dir)
            XCTAssertEqual(r.sequenceCount, 0)
            let report = try r.verify()
            XCTAssertFalse(report.ok)
            for f in files { XCTAssertTrue(report.problems.contains { $0.contains(f) && $0.contains("not in the manifest") }, "\(report.problems)") }
        }
    }

    func testNulInFileNameRefused() throws {
        try withStore { dir in
            try replace(dir, "\"file\" : \"w0-000000.lgs\"", "\"file\" : \"w0-000000.lgs\\u0000junk\"")
            assertRefused(dir, "NUL")
        }
    }

    func testChangedTeacherNameRefused() throws {
        try withStore { dir in try replace(dir, "\"name\" : \"t\"", "\"name\" : \"another\""); assertRefused(dir, "manifest does not match shard") }
    }

    func testLostTokenizerHashRefused() throws {
        try withStore { dir in
            try replace(dir, "\"tokenizer_hash\" : \"T\",", "")
            assertRefused(dir, "manifest does not match shard")
        }
    }

    func testChangedPolicyFieldsRefusedByTheDescriptor() throws {
        // Values that are valid on their own but differ from what the shards were written under.
        try withStore { dir in try replace(dir, "\"top_p\" : 0.9", "\"top_p\" : 0.8"); assertRefused(dir, "manifest does not match shard") }
        try withStore { dir in try replace(dir, "\"top_k\" : 10", "\"top_k\" : 11"); assertRefused(dir, "manifest does not match shard") }
        try withStore { dir in try replace(dir, "\"weights_hash\" : \"W\"", "\"weights_hash\" : \"X\""); assertRefused(dir, "manifest does not match shard") }
    }

    // MARK: Typing and path rules

    func testVersionOneRefusedWithOneLine() throws {
        try withStore { dir in
            try replace(dir, "\"format_version\" : 2", "\"format_version\" : 1")
            assertRefused(dir, "format version 1")
        }
    }

    func testMissingPolicyRefused() throws {
        try withStore { dir in try replace(dir, "\"policy\" : \"top-p-k\",", ""); assertRefused(dir, "truncation.policy is missing") }
    }

    func testDuplicateKeyAndNonIntegerIntegersRefused() throws {
        try withStore { dir in try replace(dir, "\"vocab_size\" : 300", "\"vocab_size\" : 300,\n  \"vocab_size\" : 300"); assertRefused(dir, "duplicate key") }
        try withStore { dir in try replace(dir, "\"vocab_size\" : 300", "\"vocab_size\" : 300.0"); assertRefused(dir, "vocab_size") }
        try withStore { dir in try replace(dir, "\"top_k\" : 10", "\"top_k\" : 1e1"); assertRefused(dir, "top_k") }
    }

    func testPathRulesEnforced() throws {
        let bad = ["/tmp/w0-000000.lgs": "absolute", "sub/../w0-000000.lgs": "'..'", "./w0-000000.lgs": "'.' component",
                   "w0-000000.lgs.bak": "<writer_id>-<6 digits>.lgs", "w1-000000.lgs": "<writer_id>-<6 digits>.lgs",
                   "a\\\\w0-000000.lgs": "backslash", "a//w0-000000.lgs": "empty"]
        for (file, fragment) in bad {
            try withStore { dir in
                try replace(dir, "\"file\" : \"w0-000000.lgs\"", "\"file\" : \"\(file)\"")
                assertRefused(dir, fragment)
            }
        }
    }

    func testWriterIdCharsetEnforced() throws {
        try withStore { dir in
            let t = try text(dir).replacingOccurrences(of: "\"writer_id\" : \"w0\"", with: "\"writer_id\" : \"w 0\"")
                .replacingOccurrences(of: "w0-0000", with: "w 0-0000")
            try t.write(toFile: manifestPath(dir), atomically: false, encoding: .utf8)
            assertRefused(dir, "writer_id")
        }
    }

    func testSerialsMustIncreaseAndHashesBeUnique() throws {
        try withStore { dir in
            var m = try Manifest.load(directory: dir)
            m.shards.swapAt(0, 1)
            try m.save(directory: dir)
            assertRefused(dir, "does not follow")
        }
        try withStore { dir in
            var m = try Manifest.load(directory: dir)
            m.shards[1].xxh3 = m.shards[0].xxh3
            try m.save(directory: dir)
            assertRefused(dir, "listed twice")
        }
    }

    func testHugeStringIsElidedInTheError() throws {
        try withStore { dir in
            let huge = String(repeating: "x", count: 1 << 20)
            try replace(dir, "\"writer_id\" : \"w0\"", "\"writer_id\" : \"\(huge)\"")
            assertRefused(dir, "…")
        }
    }

    func testDeepNestingAndTrailingBytesRefused() throws {
        try withStore { dir in
            try replace(dir, "\"vocab_size\" : 300", "\"x\" : " + String(repeating: "[", count: 100_000) + ",\n  \"vocab_size\" : 300")
            assertRefused(dir, "nesting")
        }
        try withStore { dir in
            try (try text(dir) + "{}").write(toFile: manifestPath(dir), atomically: false, encoding: .utf8)
            assertRefused(dir, "after the JSON value")
        }
    }

    func testUnknownKeysAreIgnored() throws {
        try withStore { dir in
            try replace(dir, "\"vocab_size\" : 300", "\"x_future\" : {\"a\" : [1, 2.5, null]},\n  \"vocab_size\" : 300")
            let r = try StoreReader(directory: dir)
            XCTAssertTrue(try r.verify().ok)
        }
    }

    // MARK: Shard header

    func testShardMajorVersionOneRefused() throws {
        try withStore { dir in
            let m = try Manifest.load(directory: dir)
            let path = dir + "/" + m.shards[0].file
            var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual(bytes[8], 2)
            bytes[8] = 1
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            assertRefused(dir, "format version 1")
        }
    }

    func testHeaderCarriesTheDescriptorHash() throws {
        try withStore { dir in
            let m = try Manifest.load(directory: dir)
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + m.shards[0].file)))
            let stored = bytes[24..<32].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            XCTAssertEqual(stored, m.descriptorHash)
            XCTAssertNotEqual(stored, 0)
        }
    }

    func testDescriptorBytesAreCanonical() throws {
        var m = Manifest(vocabSize: 300, paddedVocabSize: nil, truncation: TruncationPolicy(topP: 0.95, topK: 100),
                         teacher: TeacherIdentity(name: "tëacher", tokenizerHash: "T"), targetLogprobs: false)
        let expected = """
            logitstore-store-descriptor 2
            vocab_size=300
            padded_vocab_size=300
            policy=top-p-k
            top_p=3fee666666666666
            top_k=100
            temperature=3ff0000000000000
            samples=-
            sample_temperature=-
            seed=-
            weights=-
            target_logprobs=0
            teacher_name=8:tëacher
            weights_hash=-
            tokenizer_hash=1:T

            """
        XCTAssertEqual(String(decoding: StoreDescriptor.bytes(of: m), as: UTF8.self), expected)
        m.truncation = .sample(samples: 64, sampleTemperature: 2, seed: 7)
        let s = String(decoding: StoreDescriptor.bytes(of: m), as: UTF8.self)
        XCTAssertTrue(s.contains("policy=sample\ntop_p=3ff0000000000000\ntop_k=64\n"), s)
        XCTAssertTrue(s.contains("samples=64\nsample_temperature=4000000000000000\nseed=7\nweights=importance\n"), s)
    }

    // MARK: Writers

    func testWriterRemovesStaleManifestTemporaries() throws {
        try withStore { dir in
            let stale = dir + "/.manifest.json.99999.tmp"
            XCTAssertTrue(FileManager.default.createFile(atPath: stale, contents: Data("{".utf8)))
            let w = try StoreWriter(directory: dir, options: WriterOptions(
                vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 10),
                teacher: TeacherIdentity(name: "t", weightsHash: "W", tokenizerHash: "T"), writerID: "w1"))
            XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "stale manifest temp file left behind")
            try w.finish()
        }
    }

    func testWriterRefusesCountZero() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = try StoreWriter(directory: dir, options: WriterOptions(vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 10)))
        let rows = TruncatedRows(counts: [1, 0], ids: [5], probs: [0.5])
        XCTAssertThrowsError(try w.append(tokens: [1, 2], truncated: rows)) { e in
            XCTAssertTrue("\(e)".contains("at least 1"), "\(e)")
        }
    }

    func testMergeRequiresIdenticalDescriptors() throws {
        let a = try makeStore("mergeA"), b = makeTempDir("mergeB"), out = makeTempDir("mergeOut") + "/m"
        defer { for d in [a, b, out] { try? FileManager.default.removeItem(atPath: d) } }
        let w = try StoreWriter(directory: b, options: WriterOptions(
            vocabSize: vocab, policy: TruncationPolicy(topP: 0.9, topK: 10),
            teacher: TeacherIdentity(name: "other teacher", weightsHash: "W", tokenizerHash: "T"), writerID: "w1", recordTargetLogprobs: true))
        let (t, r) = syntheticRows(positions: 10, vocab: vocab, kmax: 10, seed: 3, targets: true)
        try w.append(tokens: t, truncated: r)
        try w.finish()
        XCTAssertThrowsError(try StoreMerge.merge(output: out, inputs: [a, b])) { e in
            XCTAssertTrue("\(e)".contains("descriptor"), "\(e)")
        }
    }
}
