import XCTest
@testable import Teacher

final class GGUFReaderTests: XCTestCase {
    func testHeaderMetadataAndTensorTable() throws {
        var b = GGUFBuilder()
        b.add("general.architecture", string: "llama")
        b.add("llama.block_count", u32: 2)
        b.add("x.eps", f32: 1e-5)
        b.add("tok.list", strings: ["a", "Ġb", ""])
        b.add("tok.types", i32s: [1, 3, 1])
        b.tensor("w", dims: [3, 2], f32: [1, 2, 3, 4, 5, 6])
        b.tensor("v", dims: [4], f32: [-1, -2, -3, -4])
        let f = try GGUFFile(path: try b.write())
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.metadataKeys, ["general.architecture", "llama.block_count", "x.eps", "tok.list", "tok.types"])
        XCTAssertEqual(try f.string("general.architecture"), "llama")
        XCTAssertEqual(try f.int("llama.block_count"), 2)
        XCTAssertEqual(try f.double("x.eps"), Double(Float(1e-5)))
        XCTAssertEqual(try f.strings("tok.list"), ["a", "Ġb", ""])
        XCTAssertEqual(try f.ints("tok.types"), [1, 3, 1])
        XCTAssertEqual(f.tensors.map(\.name), ["w", "v"])
        XCTAssertEqual(f.tensor("w")?.rowMajorShape, [2, 3])
        XCTAssertEqual(f.tensor("w")!.fileOffset % 32, 0)
        XCTAssertEqual(try f.dequantise("w"), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try f.dequantise("v"), [-1, -2, -3, -4])
        XCTAssertThrowsError(try f.string("llama.block_count")) { XCTAssertEqual($0 as? TeacherError, .wrongMetadataType(key: "llama.block_count", expected: "a string")) }
        XCTAssertThrowsError(try f.int("nope")) { XCTAssertEqual($0 as? TeacherError, .missingMetadata(key: "nope")) }
        XCTAssertThrowsError(try f.dequantise("nope")) { XCTAssertEqual($0 as? TeacherError, .missingTensor("nope")) }
    }

    func testCustomAlignment() throws {
        var b = GGUFBuilder()
        b.alignment = 64
        b.kv.append(("general.alignment", 4, GGUFBuilder.le(UInt32(64))))
        b.tensor("a", dims: [3], f32: [1, 2, 3])
        b.tensor("b", dims: [2], f32: [7, 8])
        let f = try GGUFFile(path: try b.write())
        XCTAssertEqual(f.alignment, 64)
        XCTAssertEqual(f.tensor("b")!.fileOffset % 64, 0)
        XCTAssertEqual(try f.dequantise("b"), [7, 8])
    }

    func testBadFilesGiveClearErrors() throws {
        var b = GGUFBuilder()
        b.add("general.architecture", string: "llama")
        b.tensor("w", dims: [8], f32: Array(repeating: 1, count: 8))
        let good = b.build()

        var badMagic = good; badMagic[0] = UInt8(ascii: "X")
        XCTAssertThrowsError(try GGUFFile(path: try b.write(badMagic))) { XCTAssertTrue("\($0)".contains("not a GGUF file"), "\($0)") }

        var badVersion = good; badVersion[4] = 9
        XCTAssertThrowsError(try GGUFFile(path: try b.write(badVersion))) { XCTAssertTrue("\($0)".contains("unsupported GGUF version 9"), "\($0)") }

        // Cut anywhere: in the header, the metadata, the tensor table or the data.
        for cut in [10, 30, 60, good.count - 5] {
            XCTAssertThrowsError(try GGUFFile(path: try b.write(Array(good[..<cut]))), "cut at \(cut)") {
                XCTAssertTrue("\($0)".contains("truncated"), "\($0)")
            }
        }
        XCTAssertThrowsError(try GGUFFile(path: "/nonexistent/model.gguf")) { XCTAssertTrue("\($0)".contains("cannot open /nonexistent/model.gguf"), "\($0)") }

        // A tensor type this reader cannot dequantise (Q5_K = 13): parsing works, dequantising names it.
        var q5 = GGUFBuilder()
        q5.tensor("blk.0.attn_q.weight", dims: [256], type: 13, data: Array(repeating: 0, count: 176))
        let f = try GGUFFile(path: try q5.write())
        XCTAssertThrowsError(try f.dequantise("blk.0.attn_q.weight")) {
            XCTAssertEqual("\($0)", "tensor 'blk.0.attn_q.weight' has unsupported GGML type Q5_K (supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q4_K Q6_K)")
        }
        // An element count that is not a whole number of blocks.
        var partial = GGUFBuilder()
        partial.tensor("p", dims: [33], type: 8, data: Array(repeating: 0, count: 68))
        XCTAssertThrowsError(try GGUFFile(path: try partial.write())) { XCTAssertTrue("\($0)".contains("not a whole number of Q8_0 blocks"), "\($0)") }
    }

    /// A file written by the reference Python implementation (gguf-py), dequantised by it and by us.
    func testAgainstGGUFPyFixture() throws {
        let path = NSTemporaryDirectory() + "gguf-fixture-\(UUID().uuidString).gguf"
        try GGUFFixture.file.write(to: URL(fileURLWithPath: path))
        let f = try GGUFFile(path: path)
        XCTAssertEqual(try f.string("general.architecture"), "llama")
        XCTAssertEqual(try f.int("test.u32"), 4_000_000_000)
        XCTAssertEqual(try f.int("test.i32"), -7)
        XCTAssertEqual(try f.double("test.f32"), 0.5)
        XCTAssertEqual(f.metadata["test.bool"], .bool(true))
        XCTAssertEqual(try f.string("test.string"), "Grüße, 世界")
        XCTAssertEqual(try f.int("test.u64"), 1 << 40)
        XCTAssertEqual(try f.int("test.i8"), -3)
        XCTAssertEqual(try f.double("test.f64"), -2.25)
        XCTAssertEqual(try f.strings("test.strings"), ["a", "Ġb", ""])
        XCTAssertEqual(try f.ints("test.ints"), [1, 2, 3])
        var seenTypes: Set<String> = []
        for e in GGUFFixture.expected {
            let info = try XCTUnwrap(f.tensor(e.name))
            XCTAssertEqual(info.dims, e.dims, e.name)
            XCTAssertEqual(GGMLType.name(of: info.rawType), e.type, e.name)
            seenTypes.insert(e.type)
            let data = Data(base64Encoded: e.values)!
            let expected = data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) } }
            let got = try f.dequantise(e.name)
            XCTAssertEqual(got.count, expected.count, e.name)
            var worst: Float = 0
            for (g, x) in zip(got, expected) { worst = max(worst, abs(g - x) / max(1e-3, abs(x))) }
            XCTAssertLessThan(worst, 1e-5, "\(e.name) (\(e.type)) differs from gguf-py by up to \(worst) (relative)")
        }
        XCTAssertEqual(seenTypes, ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q6_K"])
    }
}
