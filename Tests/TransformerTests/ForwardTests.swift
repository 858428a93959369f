import XCTest
import Transformer

final class ForwardTests: XCTestCase {
    let gqa = LlamaConfig(layers: 2, dim: 24, heads: 6, kvHeads: 2, ffnDim: 40, vocabSize: 53, tiedEmbeddings: false, ropeBase: 100)

    func runBoth(_ c: LlamaConfig, batch: Int, seqLen: Int, seed: UInt64, training: Bool) throws -> (Double, [Double]) {
        let model = try LlamaModel(config: c)
        let p = randomiseModel(model, seed: seed)
        var rng = TestRNG(seed + 1)
        let tokens = (0..<(batch * seqLen)).map { _ in rng.token(c.vocabSize) }
        let out = try tokens.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: batch, seqLen: seqLen, training: training) }
        let got = out.map(Double.init)
        let want = Ref.model(c, p, tokens: tokens, batch: batch, seqLen: seqLen)
        return (maxRelativeError(got, want), got)
    }

    /// GQA + RoPE, sequences longer than one attention block (64 rows), two sequences in a batch.
    func testForwardMatchesScalarReferenceGQA() throws {
        let (err, _) = try runBoth(gqa, batch: 2, seqLen: 70, seed: 1, training: false)
        XCTAssertLessThan(err, 2e-5)
    }

    func testForwardMatchesScalarReferenceTiedMHA() throws {
        let c = LlamaConfig(layers: 3, dim: 16, heads: 2, kvHeads: 2, ffnDim: 24, vocabSize: 31, tiedEmbeddings: true)
        let (err, _) = try runBoth(c, batch: 3, seqLen: 9, seed: 7, training: true)
        XCTAssertLessThan(err, 2e-5)
    }

    func testTrainingAndInferenceAgreeAndBuffersAreReused() throws {
        let model = try LlamaModel(config: gqa)
        _ = randomiseModel(model, seed: 3)
        var rng = TestRNG(4)
        let a = (0..<(2 * 20)).map { _ in rng.token(gqa.vocabSize) }
        let b = (0..<(1 * 33)).map { _ in rng.token(gqa.vocabSize) }
        let fa = try a.withUnsafeBufferPointer { Array(try model.forward(tokens: $0, batch: 2, seqLen: 20, training: false)) }
        _ = try b.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: 1, seqLen: 33, training: true) }
        let fa2 = try a.withUnsafeBufferPointer { Array(try model.forward(tokens: $0, batch: 2, seqLen: 20, training: true)) }
        let fa3 = try a.withUnsafeBufferPointer { Array(try model.forward(tokens: $0, batch: 2, seqLen: 20, training: false)) }
        XCTAssertEqual(fa, fa2)
        XCTAssertEqual(fa, fa3)
        // A row depends only on its own sequence: batching must not mix sequences.
        let single = try Array(a[20..<40]).withUnsafeBufferPointer { Array(try model.forward(tokens: $0, batch: 1, seqLen: 20, training: false)) }
        // (BLAS may round differently for a different M, so compare to float precision.)
        XCTAssertLessThan(maxRelativeError(fa[(20 * gqa.dim)...].map(Double.init), single.map(Double.init)), 1e-5)
    }

    func testLayoutNamesShapesAndAdjacency() throws {
        let layout = ParameterLayout(config: gqa)
        let hd = gqa.headDim
        XCTAssertEqual(layout["token_embd"]?.shape, [53, 24])
        XCTAssertEqual(layout["blk.1.attn_q"]?.shape, [6 * hd, 24])
        XCTAssertEqual(layout["blk.1.attn_k"]?.shape, [2 * hd, 24])
        XCTAssertEqual(layout["blk.1.attn_output"]?.shape, [24, 6 * hd])
        XCTAssertEqual(layout["blk.0.ffn_down"]?.shape, [24, 40])
        XCTAssertEqual(layout["output"]?.shape, [53, 24])
        XCTAssertNil(ParameterLayout(config: LlamaConfig(layers: 1, dim: 8, heads: 2, kvHeads: 1, ffnDim: 8, vocabSize: 5, tiedEmbeddings: true))["output"])
        let q = layout["blk.0.attn_q"]!, k = layout["blk.0.attn_k"]!, v = layout["blk.0.attn_v"]!
        XCTAssertEqual(k.offset, q.offset + q.count)
        XCTAssertEqual(v.offset, k.offset + k.count)
        let g = layout["blk.0.ffn_gate"]!, u = layout["blk.0.ffn_up"]!
        XCTAssertEqual(u.offset, g.offset + g.count)
        XCTAssertEqual(layout.count, layout.slots.map(\.count).reduce(0, +))
        XCTAssertEqual(ParameterLayout(config: .smolLM2_135M).count, 134_515_008)
    }

    func testBadInputGivesClearErrors() throws {
        XCTAssertThrowsError(try LlamaModel(config: LlamaConfig(layers: 1, dim: 10, heads: 3, kvHeads: 1, ffnDim: 4, vocabSize: 5, tiedEmbeddings: true))) {
            XCTAssertEqual("\($0)", "invalid model config: dim 10 is not divisible by heads 3")
        }
        XCTAssertThrowsError(try LlamaModel(config: LlamaConfig(layers: 1, dim: 8, heads: 4, kvHeads: 3, ffnDim: 4, vocabSize: 5, tiedEmbeddings: true)))
        let model = try LlamaModel(config: gqa)
        let bad: [UInt32] = [1, 2, 53, 4]
        XCTAssertThrowsError(try bad.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: 1, seqLen: 4, training: false) }) {
            XCTAssertEqual($0 as? TransformerError, .tokenOutOfRange(token: 53, position: 2, vocabSize: 53))
        }
        XCTAssertThrowsError(try bad.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: 2, seqLen: 4, training: false) })
        let dh = [Float](repeating: 0, count: 4 * gqa.dim)
        XCTAssertThrowsError(try dh.withUnsafeBufferPointer { try model.backward(dHidden: $0) })
    }

    func testConfigJSONUsesSnakeCaseAndDefaults() throws {
        let json = #"{"layers": 4, "dim": 128, "heads": 4, "kv_heads": 2, "ffn_dim": 384, "tied_embeddings": true}"#
        let c = try JSONDecoder().decode(LlamaConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c, LlamaConfig(layers: 4, dim: 128, heads: 4, kvHeads: 2, ffnDim: 384, vocabSize: 0, tiedEmbeddings: true))
        XCTAssertThrowsError(try c.validate())
        let round = try JSONDecoder().decode(LlamaConfig.self, from: JSONEncoder().encode(LlamaConfig.smolLM2_135M))
        XCTAssertEqual(round, .smolLM2_135M)
    }

    func testRandomInitIsDeterministicAndScaled() throws {
        let a = try LlamaModel(config: gqa), b = try LlamaModel(config: gqa)
        a.initialiseRandomly(seed: 42); b.initialiseRandomly(seed: 42)
        XCTAssertEqual(Array(a.parameters), Array(b.parameters))
        b.initialiseRandomly(seed: 43)
        XCTAssertNotEqual(Array(a.parameters), Array(b.parameters))
        XCTAssertEqual(Set(a.parameter("blk.0.ffn_norm")!), [1])
        let e = a.parameter("token_embd")!
        let std = (e.map { Double($0 * $0) }.reduce(0, +) / Double(e.count)).squareRoot()
        XCTAssertEqual(std, 0.02, accuracy: 0.003)
    }
}
