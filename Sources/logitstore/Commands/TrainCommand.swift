import ArgumentParser
import Foundation
import Trainer

/// `logitstore train`: distils a student from a store (thin: parses, reports, calls Trainer).
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a Llama-style student from a store: L = (1 − α)·L_lm + α·L_kd.",
        discussion: """
        Presets: 'lm' (α = 0, the baseline) and 'pd-star' (PD*: top-0.95-50 targets, τ = 2 on the teacher only (arXiv 2410.16215 Eq. 3–4), KLD, WSD-α with α_max 0.9, WSD learning rate).
        A fixed --temperature τ divides the teacher's log-probabilities only (default, --kd-temperature-on teacher) or the student's logits
        as well (--kd-temperature-on both, Hinton); --tau-squared multiplies L_kd by τ². NormKD, WTTM and AdaKD keep their published sides.
        'rs-kd' (Sparse Logit Sampling): a sampled store (dump --policy sample:N), its targets as stored (no re-truncation, τ = 1), KLD,
        pd-star's α and LR schedules. Re-truncation or τ ≠ 1 on a sampled store is refused.
        Options given explicitly override the preset. Writes RUN/log.jsonl (one line per step, plus eval lines), RUN/model.safetensors +
        config.json (Hugging Face LlamaForCausalLM), RUN/state.safetensors (resume), RUN/loss.svg.
        """)

    @Option(help: "The store to train on.") var store: String
    @Option(help: "Student config JSON: layers, dim, heads, kv_heads, ffn_dim, tied_embeddings.") var config: String
    @Option(help: "Run directory (logs, checkpoints, plot).") var out: String
    @Option(help: "lm, pd-star or rs-kd.") var preset: String?
    @Option(name: .customLong("kd-loss"), help: "nll, kld, mse or reverse-kl.") var kdLoss: String?
    @Option(help: "τ: a number, normkd[:T], wttm[:τ], adakd-std[:τmin:τmax:σmax], adakd-entropy[:τmin:τmax:Hmax].") var temperature: String?
    @Option(name: .customLong("kd-temperature-on"), help: "Which side a fixed τ divides: teacher (the paper's Eq. 3–4; default) or both (Hinton).") var kdTemperatureOn: String?
    @Flag(name: .customLong("tau-squared"), help: "Multiply L_kd by τ² (the teacher's temperature at each position).") var tauSquared = false
    @Option(help: "α schedule: NUMBER, linear-up:MAX, linear-down:MAX, periodic[:VALUE:EVERY], wsd:MAX[:WARMUP:DECAY].") var alpha: String?
    @Option(name: .customLong("target-top-p"), help: "Re-truncate teacher targets to top-p' at read time.") var targetTopP: Double?
    @Option(name: .customLong("target-top-k"), help: "Re-truncate teacher targets to top-k' at read time.") var targetTopK: Int?
    @Flag(name: .customLong("dropped-mass-bucket"), help: "Keep the dropped mass as one extra target bucket instead of re-normalising.") var bucket = false
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(name: .customLong("lr-min"), help: "Minimum learning rate.") var lrMin: Double?
    @Option(name: .customLong("lr-schedule"), help: "cosine, wsd or constant.") var lrSchedule: String?
    @Option(help: "Warm-up fraction of the run.") var warmup: Double?
    @Option(name: .customLong("lr-decay"), help: "WSD: decay fraction of the run.") var lrDecay: Double?
    @Option(name: .customLong("weight-decay")) var weightDecay: Double?
    @Option(help: "Gradient clipping norm (0: off).") var clip: Double?
    @Option(name: .customLong("batch-size"), help: "Windows per step.") var batchSize: Int?
    @Option(name: .customLong("seq-len"), help: "Window length; stored sequences are read as consecutive windows.") var seqLen: Int?
    @Option(name: .customLong("max-tokens"), help: "Training positions (e.g. 2M).") var maxTokens: String?
    @Option var seed: UInt64?
    @Option(name: .customLong("eval-store"), help: "Held-out store (default: --holdout-sequences of this store).") var evalStore: String?
    @Option(name: .customLong("holdout-sequences"), help: "Hold out the last N sequences for evaluation.") var holdout: Int?
    @Option(name: .customLong("eval-every"), help: "Evaluate every N steps.") var evalEvery: Int?
    @Option(name: .customLong("eval-positions"), help: "Held-out positions per evaluation.") var evalPositions: Int?
    @Option(name: .customLong("checkpoint-every"), help: "Checkpoint every N steps.") var checkpointEvery: Int?
    @Option(name: .customLong("chunk-rows"), help: "Positions per LM-head chunk (chunk × vocab floats are held).") var chunkRows: Int?
    @Flag(help: "Continue the run in --out from its last checkpoint.") var resume = false
    @Flag(help: "Print the final summary as JSON.") var json = false

    func options() throws -> TrainingOptions {
        var o = TrainingOptions()
        if let p = preset { try o.apply(preset: p) }
        if let k = kdLoss {
            guard let kind = KDLossKind(rawValue: k) else { throw ValidationError("--kd-loss must be nll, kld, mse or reverse-kl") }
            o.kdLoss = kind
        }
        if let t = temperature { o.temperature = try TemperatureMode(parsing: t) }
        if let c = kdTemperatureOn {
            guard let conv = TemperatureConvention(rawValue: c) else { throw ValidationError("--kd-temperature-on must be teacher or both") }
            o.kdTemperatureOn = conv
        }
        if tauSquared { o.tauSquared = true }
        if let a = alpha { o.alpha = try AlphaSchedule(parsing: a) }
        if let p = targetTopP { o.targetTopP = p }
        if let k = targetTopK { o.targetTopK = k }
        if bucket { o.droppedMassBucket = true }
        if let x = lr { o.lr.peak = x }
        if let x = lrMin { o.lr.minimum = x }
        if let s = lrSchedule {
            guard let k = LRSchedule.Kind(rawValue: s) else { throw ValidationError("--lr-schedule must be cosine, wsd or constant") }
            o.lr.kind = k
        }
        if let x = warmup { o.lr.warmup = x }
        if let x = lrDecay { o.lr.decay = x }
        if let x = weightDecay { o.adamw.weightDecay = Float(x) }
        if let x = clip { o.adamw.clipNorm = Float(x) }
        if let x = batchSize { o.batchSize = x }
        if let x = seqLen { o.seqLen = x }
        if let x = maxTokens { o.maxTokens = try Self.count(x) }
        if let x = seed { o.seed = x }
        if let x = holdout { o.holdoutSequences = x }
        if let x = evalEvery { o.evalEvery = x }
        if let x = evalPositions { o.evalPositions = x }
        if let x = checkpointEvery { o.checkpointEvery = x }
        if let x = chunkRows { o.chunkRows = x }
        if evalStore == nil && holdout == nil { o.holdoutSequences = 0 }
        return o
    }

    /// "2M" → 2_000_000, "500k", "1.5B", plain integers.
    static func count(_ s: String) throws -> Int {
        let mult: [Character: Double] = ["k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "b": 1e9, "B": 1e9]
        if let last = s.last, let m = mult[last], let v = Double(s.dropLast()) { return Int(v * m) }
        guard let v = Int(s) else { throw ValidationError("'\(s)' is not a count (e.g. 500k, 2M)") }
        return v
    }

    func run() async throws {
        do {
            let o = try options()
            let student = try StudentConfig.load(path: config)
            if evalStore == nil && o.holdoutSequences == 0 {
                printError("note: no --eval-store or --holdout-sequences; evaluating on the first sequences of the training store (not held out)")
            }
            let run = try TrainingRun(storePath: store, student: student, options: o, outDir: out,
                                      evalStorePath: evalStore ?? (o.holdoutSequences == 0 ? store : nil), resume: resume)
            let perStep = Double(o.batchSize * run.seqLen)
            printError("train: \(student.parameterCount(vocab: run.reader.vocabSize)) parameters, \(run.totalSteps) steps of \(Int(perStep)) positions, \(o.label)")
            // Counts this process's tokens only: after --resume the rate and ETA exclude the killed run's steps.
            let bar = ProgressBar(label: "train", total: Double(run.totalSteps - run.startStep) * perStep, unit: "tok")
            var lastEval = ""
            let final = try run.run(onStep: { r in
                bar.update(done: Double(run.progress(after: r).done), extra: String(format: "loss %.4f ce %.4f α %.2f lr %.2e", r.loss, r.lmCE, r.alpha, r.lr) + lastEval)
            }, onEval: { e in
                lastEval = String(format: " | eval ce %.4f", e.crossEntropy)
            })
            bar.finish()
            struct Summary: Encodable { var cross_entropy: Double; var perplexity: Double; var positions: Int; var steps: Int; var tokens: Int; var out: String }
            let s = Summary(cross_entropy: final.crossEntropy, perplexity: final.perplexity, positions: final.positions,
                            steps: run.step, tokens: run.tokens, out: out)
            if json { try printJSON(s) } else {
                print(String(format: "held-out cross-entropy %.4f nats (perplexity %.2f) over %d positions after %d tokens; run in %@",
                             final.crossEntropy, final.perplexity, final.positions, run.tokens, out))
            }
        }
    }
}
