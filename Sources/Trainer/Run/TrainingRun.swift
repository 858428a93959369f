import Foundation
import LogitStore
import Transformer

/// What one optimisation step did (one line of `log.jsonl`; Doubles are written with full precision).
public struct StepReport: Codable, Sendable {
    /// Steps done, counting this one (1-based).
    public var step: Int
    /// Steps in the whole run.
    public var totalSteps: Int
    /// Training positions consumed so far.
    public var tokens: Int
    /// (1 − α)·LM CE + α·KD of this batch.
    public var loss: Double
    /// Mean LM cross-entropy of this batch.
    public var lmCE: Double
    /// Mean (weighted) KD term of this batch.
    public var kd: Double
    /// α and learning rate used.
    public var alpha: Double
    /// Learning rate used.
    public var lr: Double
    /// Gradient norm before clipping.
    public var gradNorm: Double
    /// Wall time of the step.
    public var seconds: Double
    /// Where the step's time went: reading the batch, model forward, LM head + loss, model backward, AdamW.
    public var dataSeconds = 0.0, forwardSeconds = 0.0, headSeconds = 0.0, backwardSeconds = 0.0, optimizerSeconds = 0.0
    enum CodingKeys: String, CodingKey {
        case step, tokens, loss, alpha, lr, seconds
        case totalSteps = "total_steps", lmCE = "lm_ce", kd = "kd", gradNorm = "grad_norm"
        case dataSeconds = "data_s", forwardSeconds = "forward_s", headSeconds = "head_loss_s", backwardSeconds = "backward_s", optimizerSeconds = "optimizer_s"
    }
}

/// The training loop: a student and its optimiser over a `TrainingData` split, logging and checkpointing into
/// a `RunDirectory`.
public final class TrainingRun {
    /// The run's options (equal to the saved ones when resumed).
    public let options: TrainingOptions
    /// The student's shape.
    public let student: StudentConfig
    /// The student.
    public let model: LlamaModel
    /// Its optimiser.
    public let optimizer: AdamW
    /// The data split.
    public let data: TrainingData
    /// The run directory.
    public let directory: RunDirectory
    /// Steps in the whole run.
    public let totalSteps: Int
    /// Steps done.
    public private(set) var step = 0
    /// Training positions consumed.
    public private(set) var tokens = 0
    /// `step` and `tokens` when this object was opened (non-zero after a resume).
    public let startStep: Int, startTokens: Int
    /// The latest held-out evaluation.
    public private(set) var lastEval: EvalResult?
    let train: WindowSource
    let head: LMHeadLoss
    let loss: DistillationLoss
    let dHidden: UnsafeMutableBufferPointer<Float>

    /// The training store.
    public var reader: StoreReader { data.reader }
    /// Positions per window.
    public var seqLen: Int { data.seqLen }
    /// The run directory's path.
    public var outDir: String { directory.path }

    /// Opens the data, builds (or, with `resume`, reloads) the student and prepares `outDir`.
    public init(storePath: String, student: StudentConfig, options: TrainingOptions, outDir: String,
                evalStorePath: String? = nil, resume: Bool = false) throws {
        try student.validate()
        try options.validate()
        data = try TrainingData(storePath: storePath, evalStorePath: evalStorePath, options: options, student: student)
        let vocab = data.reader.vocabSize
        train = try data.trainingSource(seed: options.seed)
        let positionsPerStep = options.batchSize * data.seqLen
        totalSteps = Swift.max(1, (options.maxTokens + positionsPerStep - 1) / positionsPerStep)
        model = try LlamaModel(config: Checkpoint.llamaConfig(student, vocab: vocab))
        model.initialiseRandomly(seed: options.seed)
        let decayed = model.layout.slots.filter { $0.shape.count == 2 }.map { $0.offset..<($0.offset + $0.count) }
        optimizer = AdamW(count: model.layout.count, settings: options.adamw, decayedRanges: decayed)
        head = LMHeadLoss(vocab: vocab, dim: student.dim, chunkRows: options.chunkRows)
        loss = DistillationLoss(kind: options.kdLoss, temperature: options.temperature, convention: options.kdTemperatureOn,
                                tauSquared: options.tauSquared)
        self.options = options; self.student = student

        if resume {
            let (state, tensors) = try Checkpoint.readState(directory: outDir)
            guard state.student == student, state.vocabSize == vocab, state.storeSequences == data.reader.sequenceCount else {
                throw TrainerError.checkpoint(path: outDir, reason: "saved run has a different student config or store; refusing to resume")
            }
            let changed = options.differences(from: state.options)
            guard changed.isEmpty else {
                throw TrainerError.checkpoint(path: outDir, reason: "saved run used different training options (\(changed.joined(separator: ", "))); resume with the same options")
            }
            for (name, dst) in [("parameters", model.parameters), ("adam_m", optimizer.m), ("adam_v", optimizer.v)] {
                guard let t = tensors[name], t.data.count == dst.count else {
                    throw TrainerError.checkpoint(path: outDir, reason: "state tensor \(name) missing or of the wrong size")
                }
                _ = dst.update(fromContentsOf: t.data)
            }
            optimizer.t = state.adamSteps
            step = state.step; tokens = state.tokens
            try train.restore(state.source)
            directory = try RunDirectory.resume(path: outDir, checkpointStep: state.step)
        } else {
            directory = try RunDirectory.create(path: outDir, split: data.split)
        }
        startStep = step; startTokens = tokens
        dHidden = .allocate(capacity: positionsPerStep * student.dim)
    }

    deinit { dHidden.deallocate() }

    /// True once every step has run.
    public var finished: Bool { step >= totalSteps }

    /// Progress of this process only (a resumed run does not count the tokens trained before it was killed).
    public func progress(after r: StepReport) -> (done: Int, total: Int) {
        (r.tokens - startTokens, (totalSteps - startStep) * options.batchSize * seqLen)
    }

    /// One optimisation step on the next batch.
    public func trainStep() throws -> StepReport {
        let t0 = Date()
        var batch = Batch()
        try train.fill(&batch, windows: options.batchSize)
        let t1 = Date()
        let alpha = options.alpha.alpha(step: step, totalSteps: totalSteps)
        let lr = options.lr.rate(step: step, totalSteps: totalSteps)
        model.zeroGradients()
        let hidden = try batch.tokens.withUnsafeBufferPointer {
            try model.forward(tokens: $0, batch: options.batchSize, seqLen: seqLen, training: true)
        }
        let t2 = Date()
        let dH = UnsafeMutableBufferPointer(rebasing: dHidden[0..<(batch.positions * student.dim)])
        let totals = head.run(hidden: hidden, weight: model.outputWeight, batch: batch, loss: loss, alpha: alpha,
                              dHidden: dH, dWeight: model.outputWeightGradient)
        let lossValue = totals.loss(alpha: alpha)
        guard lossValue.isFinite else { throw TrainerError.nonFiniteLoss(step: step) }
        let t3 = Date()
        try model.backward(dHidden: UnsafeBufferPointer(dH))
        let t4 = Date()
        let gn = optimizer.step(parameters: model.parameters, gradients: model.gradients, lr: Float(lr))
        let t5 = Date()
        step += 1
        tokens += batch.positions
        var report = StepReport(step: step, totalSteps: totalSteps, tokens: tokens, loss: lossValue,
                                lmCE: totals.ceCount > 0 ? totals.ceSum / Double(totals.ceCount) : 0,
                                kd: totals.kdCount > 0 ? totals.kdSum / Double(totals.kdCount) : 0,
                                alpha: alpha, lr: lr, gradNorm: gn, seconds: t5.timeIntervalSince(t0))
        report.dataSeconds = t1.timeIntervalSince(t0); report.forwardSeconds = t2.timeIntervalSince(t1)
        report.headSeconds = t3.timeIntervalSince(t2); report.backwardSeconds = t4.timeIntervalSince(t3)
        report.optimizerSeconds = t5.timeIntervalSince(t4)
        directory.append(report)
        return report
    }

    /// Held-out cross-entropy now (also logged).
    public func evaluate() throws -> EvalResult {
        let r = try Evaluator.evaluate(model: model, source: try data.evaluationSource(), maxPositions: options.evalPositions,
                                       batchWindows: options.batchSize, chunkRows: options.chunkRows)
        lastEval = r
        struct Line: Encodable { var type = "eval"; var step: Int; var tokens: Int; var cross_entropy: Double; var perplexity: Double; var positions: Int }
        directory.append(Line(step: step, tokens: tokens, cross_entropy: r.crossEntropy, perplexity: r.perplexity, positions: r.positions))
        return r
    }

    /// Writes the HF-form model and the resumable state.
    public func checkpoint() throws {
        try Checkpoint.writeModel(model, student: student, directory: outDir, maxPositions: Swift.max(seqLen, 2048))
        let state = TrainerState(step: step, tokens: tokens, totalSteps: totalSteps, source: train.state, adamSteps: optimizer.t,
                                 options: options, student: student, vocabSize: reader.vocabSize, storeSequences: reader.sequenceCount)
        try Checkpoint.writeState(state, model: model, optimizer: optimizer, directory: outDir)
    }

    /// Trains to the end with periodic evaluation and checkpoints, then evaluates, checkpoints and plots.
    public func run(onStep: (StepReport) -> Void = { _ in }, onEval: (EvalResult) -> Void = { _ in }) throws -> EvalResult {
        while !finished {
            let r = try trainStep()
            onStep(r)
            if options.evalEvery > 0, step % options.evalEvery == 0, !finished { onEval(try evaluate()) }
            if options.checkpointEvery > 0, step % options.checkpointEvery == 0, !finished { try checkpoint() }
        }
        let r = try evaluate()
        onEval(r)
        try checkpoint()
        try writePlot()
        return r
    }

    /// `loss.svg` in the run directory.
    public func writePlot() throws {
        try directory.writePlot(title: "logitstore train: \(options.label)")
    }
}
