import Foundation
import LogitStore
import Transformer

/// Held-out evaluation result: cross-entropy (nats) on the true next tokens and its perplexity.
public struct EvalResult: Codable, Equatable, Sendable {
    public var crossEntropy: Double
    public var perplexity: Double
    public var positions: Int
    enum CodingKeys: String, CodingKey { case crossEntropy = "cross_entropy", perplexity, positions }
}

/// What one optimisation step did.
public struct StepReport: Codable, Sendable {
    public var step: Int
    public var totalSteps: Int
    public var tokens: Int
    public var loss: Double
    public var lmCE: Double
    public var kd: Double
    public var alpha: Double
    public var lr: Double
    public var gradNorm: Double
    public var seconds: Double
    /// Where the step's time went: reading the batch, model forward, LM head + loss, model backward, AdamW.
    public var dataSeconds = 0.0, forwardSeconds = 0.0, headSeconds = 0.0, backwardSeconds = 0.0, optimizerSeconds = 0.0
    enum CodingKeys: String, CodingKey {
        case step, tokens, loss, alpha, lr, seconds
        case totalSteps = "total_steps", lmCE = "lm_ce", kd = "kd", gradNorm = "grad_norm"
        case dataSeconds = "data_s", forwardSeconds = "forward_s", headSeconds = "head_loss_s", backwardSeconds = "backward_s", optimizerSeconds = "optimizer_s"
    }
}

/// Cross-entropy of a model on windows of a store (positions whose next token is known).
public enum Evaluator {
    public static func evaluate(model: LlamaModel, source: WindowSource, maxPositions: Int, batchWindows: Int = 8,
                                chunkRows: Int = 256) throws -> EvalResult {
        let head = LMHeadLoss(vocab: model.config.vocabSize, dim: model.config.dim, chunkRows: chunkRows)
        let loss = DistillationLoss(kind: .kld, temperature: .fixed(1))
        var batch = Batch()
        var sum = 0.0, count = 0, seen = 0
        while seen < maxPositions {
            let windows = Swift.max(1, Swift.min(batchWindows, (maxPositions - seen + source.seqLen - 1) / source.seqLen))
            try source.fill(&batch, windows: windows)
            if batch.positions == 0 { break }
            let h = try batch.tokens.withUnsafeBufferPointer {
                try model.forward(tokens: $0, batch: batch.positions / source.seqLen, seqLen: source.seqLen, training: false)
            }
            let t = head.run(hidden: h, weight: model.outputWeight, batch: batch, loss: loss, alpha: 0, dHidden: nil, dWeight: nil)
            sum += t.ceSum; count += t.ceCount; seen += batch.positions
        }
        guard count > 0 else { throw TrainerError.storeMismatch("no held-out positions with a known next token") }
        let ce = sum / Double(count)
        return EvalResult(crossEntropy: ce, perplexity: exp(ce), positions: count)
    }
}

/// A training run: student, optimiser, data, logs and checkpoints in one directory.
public final class TrainingRun {
    public let options: TrainingOptions
    public let student: StudentConfig
    public let model: LlamaModel
    public let optimizer: AdamW
    public let reader: StoreReader
    public let seqLen: Int
    public let totalSteps: Int
    public let outDir: String
    public private(set) var step = 0
    public private(set) var tokens = 0
    public private(set) var lastEval: EvalResult?
    let train: WindowSource
    let evalReader: StoreReader
    let evalSequences: [Int]
    let head: LMHeadLoss
    let loss: DistillationLoss
    let dHidden: UnsafeMutableBufferPointer<Float>
    let log: FileHandle

    /// Opens the store, builds (or, with `resume`, reloads) the student and prepares `outDir`.
    public init(storePath: String, student: StudentConfig, options: TrainingOptions, outDir: String,
                evalStorePath: String? = nil, resume: Bool = false) throws {
        try student.validate()
        try options.validate()
        let reader = try StoreReader(directory: storePath)
        self.reader = reader
        try options.checkTargets(against: reader.manifest.truncation)
        let vocab = reader.vocabSize
        let total = reader.sequenceCount
        let firstLength = reader.sequenceRange(0).count
        let seqLen = options.seqLen ?? firstLength
        self.seqLen = seqLen

        // Held-out part: a separate store, or the last sequences of this one.
        var trainSeqs = Array(0..<total)
        if let ev = evalStorePath {
            evalReader = try StoreReader(directory: ev)
            guard evalReader.vocabSize == vocab else {
                throw TrainerError.storeMismatch("eval store vocabulary \(evalReader.vocabSize) differs from the training store's \(vocab)")
            }
            evalSequences = Array(0..<evalReader.sequenceCount)
        } else {
            evalReader = reader
            let h = options.holdoutSequences
            guard h < total else { throw TrainerError.storeMismatch("--holdout-sequences \(h) leaves no training sequences (store has \(total))") }
            evalSequences = Array((total - h)..<total)
            trainSeqs = Array(0..<(total - h))
        }
        let targetOptions = options.usesTargets ? TargetOptions(topP: options.targetTopP, topK: options.targetTopK, temperature: 1,
                                                        droppedMassBucket: options.droppedMassBucket) : nil
        train = try WindowSource(reader: reader, sequences: trainSeqs, seqLen: seqLen, shuffledWithSeed: options.seed, targets: targetOptions)

        let positionsPerStep = options.batchSize * seqLen
        totalSteps = Swift.max(1, (options.maxTokens + positionsPerStep - 1) / positionsPerStep)
        model = try LlamaModel(config: Checkpoint.llamaConfig(student, vocab: vocab))
        model.initialiseRandomly(seed: options.seed)
        let decayed = model.layout.slots.filter { $0.shape.count == 2 }.map { $0.offset..<($0.offset + $0.count) }
        optimizer = AdamW(count: model.layout.count, settings: options.adamw, decayedRanges: decayed)
        head = LMHeadLoss(vocab: vocab, dim: student.dim, chunkRows: options.chunkRows)
        loss = DistillationLoss(kind: options.kdLoss, temperature: options.temperature, convention: options.kdTemperatureOn,
                                tauSquared: options.tauSquared)
        dHidden = .allocate(capacity: positionsPerStep * student.dim)
        self.options = options; self.student = student; self.outDir = outDir

        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let logPath = outDir + "/log.jsonl"
        if resume {
            let (state, tensors) = try Checkpoint.readState(directory: outDir)
            guard state.student == student, state.vocabSize == vocab, state.storeSequences == total else {
                throw TrainerError.checkpoint(path: outDir, reason: "saved run has a different student config or store; refusing to resume")
            }
            guard state.options == options else {
                throw TrainerError.checkpoint(path: outDir, reason: "saved run used different training options; resume with the same options")
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
        } else {
            if FileManager.default.fileExists(atPath: outDir + "/" + Checkpoint.stateFile) {
                throw TrainerError.checkpoint(path: outDir, reason: "already holds a run; pass --resume to continue it or choose another --out")
            }
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        if !FileManager.default.fileExists(atPath: logPath) { FileManager.default.createFile(atPath: logPath, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: logPath) else { throw TrainerError.io(path: logPath, reason: "cannot open the log for writing") }
        h.seekToEndOfFile()
        log = h
    }

    deinit { dHidden.deallocate(); try? log.close() }

    public var finished: Bool { step >= totalSteps }

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
        appendLog(report)
        return report
    }

    /// Held-out cross-entropy now.
    public func evaluate() throws -> EvalResult {
        let src = try WindowSource(reader: evalReader, sequences: evalSequences, seqLen: seqLen, shuffledWithSeed: nil, targets: nil)
        let r = try Evaluator.evaluate(model: model, source: src, maxPositions: options.evalPositions, batchWindows: options.batchSize,
                                       chunkRows: options.chunkRows)
        lastEval = r
        struct Line: Encodable { var type = "eval"; var step: Int; var tokens: Int; var cross_entropy: Double; var perplexity: Double; var positions: Int }
        writeLogLine(Line(step: step, tokens: tokens, cross_entropy: r.crossEntropy, perplexity: r.perplexity, positions: r.positions))
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

    /// `loss.svg`: training loss (and LM cross-entropy) per step and held-out CE, against tokens.
    public func writePlot() throws {
        let text = (try? String(contentsOfFile: outDir + "/log.jsonl", encoding: .utf8)) ?? ""
        var trainPts: [(x: Double, y: Double)] = [], cePts: [(x: Double, y: Double)] = [], evalPts: [(x: Double, y: Double)] = []
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let tok = (o["tokens"] as? NSNumber)?.doubleValue else { continue }
            if (o["type"] as? String) == "eval", let ce = (o["cross_entropy"] as? NSNumber)?.doubleValue {
                evalPts.append((tok, ce))
            } else if let l = (o["loss"] as? NSNumber)?.doubleValue {
                trainPts.append((tok, l))
                if let c = (o["lm_ce"] as? NSNumber)?.doubleValue { cePts.append((tok, c)) }
            }
        }
        let svg = LossCurvePlot.svg(title: "logitstore train: \(options.label)", xLabel: "training tokens", yLabel: "nats",
                                    series: [.init(label: "train loss", points: smooth(trainPts), color: "#1f77b4"),
                                             .init(label: "train LM CE", points: smooth(cePts), color: "#ff7f0e"),
                                             .init(label: "held-out CE", points: evalPts, color: "#2ca02c")])
        try AtomicFile.write(Data(svg.utf8), to: outDir + "/loss.svg")
    }

    private func smooth(_ p: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        guard p.count > 200 else { return p }
        let w = p.count / 100
        return stride(from: 0, to: p.count, by: w).map { i in
            let s = p[i..<Swift.min(i + w, p.count)]
            return (s.map(\.x).reduce(0, +) / Double(s.count), s.map(\.y).reduce(0, +) / Double(s.count))
        }
    }

    private func appendLog(_ r: StepReport) { writeLogLine(r) }

    private func writeLogLine<T: Encodable>(_ value: T) {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        guard var d = try? enc.encode(value) else { return }
        d.append(0x0A)
        log.write(d)
    }
}
