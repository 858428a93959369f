import Foundation
import XCTest
@testable import Teacher

final class CorpusInputTests: XCTestCase {
    func tempDir() throws -> String {
        let d = NSTemporaryDirectory() + "corpus-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
    func write(_ path: String, _ bytes: [UInt8]) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
    func le<T: FixedWidthInteger>(_ v: [T]) -> [UInt8] { v.flatMap { x in withUnsafeBytes(of: x.littleEndian) { Array($0) } } }

    func testRawTokensAreTakenAsTheyAre() throws {
        let d = try tempDir()
        try write(d + "/a.u32", le([UInt32(5), 7, 49_151, 0, 1]))
        XCTAssertEqual(try CorpusInput.readTokens(path: d + "/a.u32", format: .u32, vocabSize: 49_152), [5, 7, 49_151, 0, 1])
        try write(d + "/b.u16", le([UInt16(3), 65_535, 9]))
        XCTAssertEqual(try CorpusInput.readTokens(path: d + "/b.u16", format: .u16, vocabSize: 70_000), [3, 65_535, 9])
        XCTAssertThrowsError(try CorpusInput.readTokens(path: d + "/b.u16", format: .u16, vocabSize: 49_152)) {
            XCTAssertTrue("\($0)".contains("token 1 is 65535, outside the teacher's vocabulary of 49152"), "\($0)")
        }
        try write(d + "/odd.u32", [1, 2, 3, 4, 5, 6])
        XCTAssertThrowsError(try CorpusInput.readTokens(path: d + "/odd.u32", format: .u32, vocabSize: 10)) {
            XCTAssertTrue("\($0)".contains("not a multiple of 4"), "\($0)")
        }
        let p = try PackedSequences.raw(path: d + "/a.u32", format: .u32, vocabSize: 49_152, seqLen: 2)
        XCTAssertEqual(p.count, 3)
        XCTAssertEqual(Array(p.sequence(0)), [5, 7]); XCTAssertEqual(Array(p.sequence(2)), [1])
        XCTAssertThrowsError(try CorpusInput.readTokens(path: d + "/missing.u32", format: .u32, vocabSize: 10)) {
            XCTAssertTrue("\($0)".contains("no such file"), "\($0)")
        }
    }

    /// A Megatron indexed dataset written by hand to the MMapIndexedDataset layout (uint16 tokens, 3 sequences).
    func testMegatronIndexedDataset() throws {
        let d = try tempDir()
        let seqs: [[UInt16]] = [[10, 11, 12], [20], [30, 31]]
        var bin: [UInt8] = [], pointers: [Int64] = []
        for s in seqs { pointers.append(Int64(bin.count)); bin += le(s) }
        var idx = Array("MMIDIDX".utf8) + [0, 0] + le([UInt64(1)]) + [8] + le([UInt64(3), UInt64(4)])
        idx += le(seqs.map { Int32($0.count) }) + le(pointers) + le([Int64(0), 1, 2, 3])
        try write(d + "/ds_text_document.bin", bin)
        try write(d + "/ds_text_document.idx", idx)
        for path in [d + "/ds_text_document", d + "/ds_text_document.idx", d + "/ds_text_document.bin"] {
            XCTAssertEqual(try CorpusInput.readTokens(path: path, format: .megatron, vocabSize: 100), [10, 11, 12, 20, 30, 31])
        }
        // A pointer past the end of .bin is an error naming the sequence.
        var bad = idx
        bad.replaceSubrange((34 + 12 + 16)..<(34 + 12 + 24), with: le([Int64(1000)]))
        try write(d + "/bad.idx", bad); try write(d + "/bad.bin", bin)
        XCTAssertThrowsError(try CorpusInput.readTokens(path: d + "/bad", format: .megatron, vocabSize: 100)) {
            XCTAssertTrue("\($0)".contains("sequence 2"), "\($0)")
        }
        try write(d + "/nomagic.idx", Array(repeating: 0, count: 64)); try write(d + "/nomagic.bin", [])
        XCTAssertThrowsError(try CorpusInput.readTokens(path: d + "/nomagic", format: .megatron, vocabSize: 100)) {
            XCTAssertTrue("\($0)".contains("bad magic"), "\($0)")
        }
    }

    func testDocumentsAndJSONL() throws {
        let d = try tempDir()
        try FileManager.default.createDirectory(atPath: d + "/docs", withIntermediateDirectories: true)
        try write(d + "/docs/b.txt", Array("second".utf8))
        try write(d + "/docs/a.txt", Array("first".utf8))
        try write(d + "/docs/.hidden", Array("skip".utf8))
        var docs: [String] = []
        try CorpusInput.forEachDocument(path: d + "/docs", format: .text) { docs.append($0) }
        XCTAssertEqual(docs, ["first", "second"])

        try write(d + "/c.jsonl", Array("{\"text\": \"one\"}\n\n{\"text\": \"two\", \"id\": 2}\n".utf8))
        docs = []
        try CorpusInput.forEachDocument(path: d + "/c.jsonl", format: .jsonl) { docs.append($0) }
        XCTAssertEqual(docs, ["one", "two"])
        try write(d + "/bad.jsonl", Array("{\"text\": \"one\"}\n{\"body\": 1}\n".utf8))
        XCTAssertThrowsError(try CorpusInput.forEachDocument(path: d + "/bad.jsonl", format: .jsonl) { _ in }) {
            XCTAssertTrue("\($0)".hasSuffix("bad.jsonl: line 2 has no string field \"text\""), "\($0)")
        }
        try write(d + "/latin1.txt", [0x63, 0x61, 0x66, 0xE9])
        XCTAssertThrowsError(try CorpusInput.forEachDocument(path: d + "/latin1.txt", format: .text) { _ in }) {
            XCTAssertTrue("\($0)".contains("not valid UTF-8"), "\($0)")
        }
    }

    func testPackingPutsEOSBetweenDocumentsAndCutsFixedLengths() throws {
        let d = try tempDir()
        try write(d + "/c.jsonl", Array("{\"text\": \"hello\"}\n{\"text\": \"hello hello\"}\n".utf8))
        let tok = try tinyTokenizer()
        let hello = tok.encode("hello"), helloHello = tok.encode("hello hello")
        let p = try PackedSequences.pack(path: d + "/c.jsonl", format: .jsonl, tokenizer: tok, eos: 999, seqLen: 2)
        XCTAssertEqual(p.tokens, hello + [999] + helloHello + [999])
        XCTAssertEqual(p.documentCount, 2)
        XCTAssertEqual(p.count, (p.tokens.count + 1) / 2)
        XCTAssertEqual(p.sequence(0).count, 2)
        let capped = try PackedSequences.pack(path: d + "/c.jsonl", format: .jsonl, tokenizer: tok, eos: 999, seqLen: 2, maxTokens: 3)
        XCTAssertEqual(capped.tokens, Array(p.tokens.prefix(3)))
    }
}
