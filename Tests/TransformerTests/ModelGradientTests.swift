import XCTest
import Transformer

/// Whole-model gradients of every parameter against central finite differences of the scalar Double
/// reference model.
final class ModelGradientTests: XCTestCase {
    let config = LlamaConfig(layers: 2, dim: 8, heads: 4, kvHeads: 2, ffnDim: 12, vocabSize: 11, tiedEmbeddings: false, ropeBase: 30)

    /// Per named tensor, compares analytic and numeric gradients.
    func compare(_ model: LlamaModel, _ numeric: [Double], tolerance: Double = 2e-4, file: StaticString = #filePath, line: UInt = #line) {
        var checked = 0
        for slot in model.layout.slots {
            let a = Array(model.gradients[slot.offset..<(slot.offset + slot.count)])
            let n = Array(numeric[slot.offset..<(slot.offset + slot.count)])
            assertGradient(a, n, tolerance: tolerance, slot.name, file: file, line: line)
            checked += slot.count
        }
        XCTAssertEqual(checked, model.layout.count)
    }

    /// L = Σ w ⊙ hidden, with hidden the final-normed output.
    func testWholeModelLinearLoss() throws {
        let batch = 2, seqLen = 5
        let model = try LlamaModel(config: config)
        let p = randomiseModel(model, seed: 21)
        var rng = TestRNG(22)
        let tokens = (0..<(batch * seqLen)).map { _ in rng.token(config.vocabSize) }
        let wOut = randomFloats(batch * seqLen * config.dim, &rng)
        _ = try tokens.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: batch, seqLen: seqLen, training: true) }
        model.zeroGradients()
        try wOut.floats.withUnsafeBufferPointer { try model.backward(dHidden: $0) }
        let num = finiteDifferenceGradients([p], wOut: wOut) { Ref.model(self.config, $0[0], tokens: tokens, batch: batch, seqLen: seqLen) }[0]
        // `output` is not used by the model itself (the LM head is the caller's): its gradient is zero.
        let out = model.layout["output"]!
        XCTAssertEqual(Set(model.gradients[out.offset..<(out.offset + out.count)]), [0])
        for slot in model.layout.slots where slot.name != "output" {
            assertGradient(Array(model.gradients[slot.offset..<(slot.offset + slot.count)]),
                           Array(num[slot.offset..<(slot.offset + slot.count)]), tolerance: 2e-4, slot.name)
        }
        // Gradients accumulate until zeroed.
        let once = Array(model.gradients)
        try wOut.floats.withUnsafeBufferPointer { try model.backward(dHidden: $0) }
        XCTAssertLessThan(maxRelativeError(model.gradients.map(Double.init), once.map { 2 * Double($0) }), 1e-6)
    }

    /// Mean cross-entropy through `LMHead` on a tied model: token_embd receives both the embedding and the
    /// head gradient.
    func testWholeModelCrossEntropyTiedThroughLMHead() throws {
        var c = config
        c.tiedEmbeddings = true
        let batch = 2, seqLen = 4, rows = batch * seqLen, V = c.vocabSize, D = c.dim
        let model = try LlamaModel(config: c)
        let p = randomiseModel(model, seed: 31)
        var rng = TestRNG(32)
        let tokens = (0..<rows).map { _ in rng.token(V) }
        let targets = (0..<rows).map { _ in Int(rng.token(V)) }

        let hidden = try tokens.withUnsafeBufferPointer { Array(try model.forward(tokens: $0, batch: batch, seqLen: seqLen, training: true)) }
        var logits = [Float](repeating: 0, count: rows * V)
        LMHead.logits(hidden: hidden, rows: rows, dim: D, weight: model.outputWeight.baseAddress!, vocab: V, into: &logits)
        // dL/dlogits = (softmax − onehot) / rows
        for r in 0..<rows {
            var m = -Float.infinity
            for v in 0..<V { m = max(m, logits[r * V + v]) }
            var z: Float = 0
            for v in 0..<V { z += exp(logits[r * V + v] - m) }
            for v in 0..<V { logits[r * V + v] = (exp(logits[r * V + v] - m) / z - (v == targets[r] ? 1 : 0)) / Float(rows) }
        }
        model.zeroGradients()
        var dHidden = [Float](repeating: 0, count: rows * D)
        LMHead.backward(dLogits: logits, hidden: hidden, rows: rows, dim: D, weight: model.outputWeight.baseAddress!, vocab: V,
                        dHidden: &dHidden, dWeight: model.outputWeightGradient.baseAddress!)
        try dHidden.withUnsafeBufferPointer { try model.backward(dHidden: $0) }

        let tied = model.layout["token_embd"]!
        let num = finiteDifferenceGradients([p], wOut: [1]) { q in
            let h = Ref.model(c, q[0], tokens: tokens, batch: batch, seqLen: seqLen)
            let w = Array(q[0][tied.offset..<(tied.offset + tied.count)])
            return [Ref.crossEntropy(hidden: h, weight: w, rows: rows, dim: D, vocab: V, targets: targets)]
        }[0]
        compare(model, num)
    }

    /// Buffers sized for a larger batch are reused for a smaller one: gradients must equal a fresh model's.
    func testReusedBuffersForASmallerBatchGiveTheSameGradients() throws {
        let seqLen = 6
        let a = try LlamaModel(config: config), b = try LlamaModel(config: config)
        _ = randomiseModel(a, seed: 41)
        b.parameters.baseAddress!.update(from: a.parameters.baseAddress!, count: a.layout.count)
        var rng = TestRNG(42)
        let big = (0..<(3 * seqLen)).map { _ in rng.token(config.vocabSize) }
        let small = (0..<(2 * seqLen)).map { _ in rng.token(config.vocabSize) }
        let wOut = randomFloats(2 * seqLen * config.dim, &rng).floats
        _ = try big.withUnsafeBufferPointer { try a.forward(tokens: $0, batch: 3, seqLen: seqLen, training: true) }
        try randomFloats(3 * seqLen * config.dim, &rng).floats.withUnsafeBufferPointer { try a.backward(dHidden: $0) }
        for m in [a, b] {
            let h = try small.withUnsafeBufferPointer { Array(try m.forward(tokens: $0, batch: 2, seqLen: seqLen, training: true)) }
            XCTAssertEqual(h.count, 2 * seqLen * config.dim)
            m.zeroGradients()
            try wOut.withUnsafeBufferPointer { try m.backward(dHidden: $0) }
        }
        XCTAssertLessThan(maxRelativeError(a.gradients.map(Double.init), b.gradients.map(Double.init)), 1e-5)
    }
}
