import XCTest
import Foundation
import LogitStore
import Transformer
@testable import Trainer

final class TrainingTests: XCTestCase {
    /// `--seq-len` shorter than the stored sequences: consecutive windows, with the next-token and
    /// teacher-target alignment of the store (position j's distribution predicts token j + 1).
    func testWindowsAreConsecutiveAndAligned() throws {
        let dir = try TinyStore.make(sequences: 2, length: 12)
        let reader = try StoreReader(directory: dir)
        let record = try reader.sequence(1)
        let targets = try record.targets(TargetOptions())
        let src = try WindowSource(reader: reader, sequences: [1], seqLen: 4, shuffledWithSeed: nil, targets: TargetOptions())
        var batch = Batch()
        try src.fill(&batch, windows: 10)
        XCTAssertEqual(batch.positions, 12)
        XCTAssertEqual(batch.tokens, record.tokens)
        XCTAssertEqual(Array(batch.next[0..<11]), record.tokens[1...].map { Int32($0) })
        XCTAssertEqual(batch.next[3], Int32(record.tokens[4]))   // across a window boundary
        XCTAssertEqual(batch.next[11], -1)                        // end of the stored sequence
        XCTAssertEqual(batch.targetOffsets, targets.offsets)
        XCTAssertEqual(batch.ids, targets.ids)
        XCTAssertEqual(batch.probs, targets.probs)
        // A window length that does not divide the sequence drops the partial tail.
        let src5 = try WindowSource(reader: reader, sequences: [0, 1], seqLen: 5, shuffledWithSeed: nil, targets: nil)
        try src5.fill(&batch, windows: 10)
        XCTAssertEqual(batch.positions, 20)
        XCTAssertEqual(Array(batch.tokens[10..<15]), Array(record.tokens[0..<5]))
        XCTAssertThrowsError(try WindowSource(reader: reader, sequences: [0], seqLen: 13, shuffledWithSeed: nil, targets: nil))
    }

    /// The chunked, multi-threaded head + loss + model backward agrees with finite differences of the loss.
    func testWholeLossGradientAgainstFiniteDifferences() throws {
        let dir = try TinyStore.make(sequences: 2, length: 8)
        let reader = try StoreReader(directory: dir)
        let cfg = StudentConfig(layers: 1, dim: 16, heads: 2, kvHeads: 1, ffnDim: 24, tiedEmbeddings: true)
        let model = try LlamaModel(config: Checkpoint.llamaConfig(cfg, vocab: reader.vocabSize))
        model.initialiseRandomly(seed: 3)
        // Larger weights so the loss is not flat.
        for i in 0..<model.parameters.count where model.layout.slots.first(where: { $0.offset <= i && i < $0.offset + $0.count })!.shape.count == 2 {
            model.parameters[i] *= 10
        }
        let src = try WindowSource(reader: reader, sequences: [0, 1], seqLen: 8, shuffledWithSeed: nil,
                                   targets: TargetOptions(topP: 1, topK: .max, temperature: 1, droppedMassBucket: true))
        var batch = Batch()
        try src.fill(&batch, windows: 2)
        let head = LMHeadLoss(vocab: reader.vocabSize, dim: cfg.dim, chunkRows: 5, threads: 2)
        let loss = DistillationLoss(kind: .kld, temperature: .fixed(2))
        let alpha = 0.6
        func lossValue() throws -> Double {
            let h = try batch.tokens.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: 2, seqLen: 8, training: false) }
            return head.run(hidden: h, weight: model.outputWeight, batch: batch, loss: loss, alpha: alpha, dHidden: nil, dWeight: nil).loss(alpha: alpha)
        }
        model.zeroGradients()
        let h = try batch.tokens.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: 2, seqLen: 8, training: true) }
        let dH = UnsafeMutableBufferPointer<Float>.allocate(capacity: h.count); defer { dH.deallocate() }
        _ = head.run(hidden: h, weight: model.outputWeight, batch: batch, loss: loss, alpha: alpha, dHidden: dH, dWeight: model.outputWeightGradient)
        try model.backward(dHidden: UnsafeBufferPointer(dH))
        let analytic = Array(model.gradients)
        // Probe the largest-gradient entries of a few tensors.
        var checked = 0
        for name in ["token_embd", "blk.0.attn_q", "blk.0.ffn_down", "output_norm", "blk.0.attn_norm"] {
            let s = model.layout[name]!
            let idx = (s.offset..<(s.offset + s.count)).max { abs(analytic[$0]) < abs(analytic[$1]) }!
            let old = model.parameters[idx]
            let eps: Float = 1e-2
            model.parameters[idx] = old + eps; let lp = try lossValue()
            model.parameters[idx] = old - eps; let lm = try lossValue()
            model.parameters[idx] = old
            let fd = (lp - lm) / Double(2 * eps)
            XCTAssertEqual(Double(analytic[idx]), fd, accuracy: 0.03 * abs(fd) + 2e-4, "\(name)[\(idx - s.offset)]")
            checked += 1
        }
        XCTAssertEqual(checked, 5)
    }

    /// A tiny student overfits a tiny store: its loss on the training data falls far below uniform.
    func testTinyStudentOverfitsTinyStore() throws {
        let store = try TinyStore.make(sequences: 4, length: 32)
        let out = TinyStore.temporaryDirectory("run") + "/run"
        var o = TrainingOptions()
        o.batchSize = 4; o.seqLen = 32; o.maxTokens = 4 * 32 * 300; o.seed = 7
        o.alpha = .constant(0.5); o.kdLoss = .kld; o.temperature = .fixed(1)
        o.lr = LRSchedule(kind: .cosine, peak: 1e-2, minimum: 1e-3, warmup: 0.02)
        o.adamw.weightDecay = 0
        o.holdoutSequences = 0
        // Evaluate on the training store itself: overfitting is the point.
        let run = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out, evalStorePath: store)
        let first = try run.trainStep()
        var last = first
        while !run.finished { last = try run.trainStep() }
        let ev = try run.evaluate()
        XCTAssertGreaterThan(first.lmCE, 3.5)              // ≈ log 64 = 4.16 at the start
        XCTAssertLessThan(last.kd, first.kd * 0.2, "KD loss \(first.kd) → \(last.kd)")
        XCTAssertLessThan(ev.crossEntropy, 1.6, "train-set CE \(ev.crossEntropy)")
        try run.checkpoint(); try run.writePlot()
        let log = try String(contentsOfFile: out + "/log.jsonl", encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, run.totalSteps + 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/loss.svg"))
    }

    /// Stopping, checkpointing and resuming gives the same parameters as training straight through.
    func testResumeIsExact() throws {
        let store = try TinyStore.make(sequences: 6, length: 16)
        var o = TrainingOptions()
        o.batchSize = 3; o.seqLen = 8; o.maxTokens = 3 * 8 * 10; o.seed = 11
        try o.apply(preset: "pd-star")
        let a = TinyStore.temporaryDirectory("a") + "/run", b = TinyStore.temporaryDirectory("b") + "/run"
        let straight = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: a)
        while !straight.finished { _ = try straight.trainStep() }
        let first = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: b)
        for _ in 0..<4 { _ = try first.trainStep() }
        try first.checkpoint()
        XCTAssertThrowsError(try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: b))  // exists, no --resume
        let resumed = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: b, resume: true)
        XCTAssertEqual(resumed.step, 4)
        while !resumed.finished { _ = try resumed.trainStep() }
        XCTAssertEqual(Array(resumed.model.parameters), Array(straight.model.parameters))
        var other = o; other.seed = 12
        XCTAssertThrowsError(try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: other, outDir: b, resume: true))
    }

    /// The Hugging Face export (renamed, RoPE-permuted) loads back to the same model.
    func testCheckpointRoundTrip() throws {
        let store = try TinyStore.make(sequences: 3, length: 16)
        var o = TrainingOptions()
        o.batchSize = 2; o.maxTokens = 64; o.holdoutSequences = 1
        let out = TinyStore.temporaryDirectory("ck") + "/run"
        let run = try TrainingRun(storePath: store, student: TinyStore.tinyStudent, options: o, outDir: out)
        let ev = try run.run()
        let (loaded, cfg) = try Checkpoint.loadModel(directory: out)
        XCTAssertEqual(cfg, TinyStore.tinyStudent)
        XCTAssertEqual(Array(loaded.parameters), Array(run.model.parameters))
        let reader = try StoreReader(directory: store)
        let src = try WindowSource(reader: reader, sequences: [2], seqLen: 16, shuffledWithSeed: nil, targets: nil)
        let again = try Evaluator.evaluate(model: loaded, source: src, maxPositions: 1000)
        XCTAssertEqual(again.crossEntropy, ev.crossEntropy, accuracy: 1e-9)
        XCTAssertEqual(again.positions, 15)
        let (tensors, _) = try Safetensors.read(path: out + "/model.safetensors")
        XCTAssertNotNil(tensors["model.layers.1.self_attn.k_proj.weight"])
        XCTAssertNotNil(tensors["lm_head.weight"])
        XCTAssertThrowsError(try Checkpoint.loadModel(directory: out + "/nothing"))
    }
}
