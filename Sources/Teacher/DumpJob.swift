import Foundation
import LogitStore
import Transformer

/// What `logitstore dump` does, as a library: input → sequences → teacher forward → full logits rows → per output
/// store, top-p-k truncation or sampling in the workers → `StoreWriter` (encode, commit).
public struct DumpOptions: Sendable {
    /// The input file or directory.
    public var input: String
    /// How the input is read (text, JSONL, raw tokens, Megatron).
    public var format: InputFormat
    /// Tokens per stored sequence (the last one may be shorter).
    public var seqLen: Int
    /// The policy of `run(out:)` (`run(outputs:)` gives one per store).
    public var policy: TruncationPolicy
    /// The block codec of every store written.
    public var codec: Codec
    /// The writer id of every store written (parallel dumps into one store use distinct ids).
    public var writerID: String
    /// Stop after this many input tokens (after packing), e.g. for a quick first run.
    public var maxTokens: Int?
    /// Sequences per forward pass of one worker (rows per matrix product = batch · seqLen). The stored bits do
    /// not depend on `workers`; a different `batch` changes product shapes and may change float32 rounding.
    public var batch: Int
    /// Threads running the teacher at once, each on its own batches (default: one per core).
    public var workers: Int
    /// Record the log-probability of each actual next token (the optional target-log-prob stream).
    public var recordTargetLogprobs: Bool

    /// Options with the CLI's defaults; `DumpJob.init` checks the ranges.
    public init(input: String, format: InputFormat = .text, seqLen: Int = 512, policy: TruncationPolicy = TruncationPolicy(),
                codec: Codec = .default, writerID: String = "w0", maxTokens: Int? = nil, batch: Int = 1, workers: Int = ProcessInfo.processInfo.activeProcessorCount,
                recordTargetLogprobs: Bool = true) {
        self.input = input; self.format = format; self.seqLen = seqLen; self.policy = policy; self.codec = codec
        self.writerID = writerID; self.maxTokens = maxTokens; self.batch = batch; self.workers = workers; self.recordTargetLogprobs = recordTargetLogprobs
    }
}

/// Progress of a running dump.
public struct DumpProgress: Sendable {
    /// Sequences finished, resumed ones included.
    public var sequencesDone: Int
    /// Sequences the input gives.
    public var sequencesTotal: Int
    /// Tokens run through the teacher in this process (resumed sequences not counted).
    public var tokensDone: Int
    /// Tokens the teacher runs over in this process, when it is done.
    public var tokensTotal: Int
    /// Sequences every store already held, so not run again.
    public var skippedSequences: Int
}

/// One store a dump writes: its directory and the policy its entries are made under.
public struct DumpOutput: Sendable, Equatable {
    /// The store directory (created, or resumed).
    public var store: String
    /// Top-p-k truncation or sampling of the teacher's rows.
    public var policy: TruncationPolicy

    /// One output: `store` written under `policy`.
    public init(store: String, policy: TruncationPolicy) { self.store = store; self.policy = policy }
}

/// What a dump did to one of its stores.
public struct DumpStoreSummary: Codable, Sendable {
    /// The store directory.
    public var store: String
    /// The policy label, e.g. "top-p 0.95, top-k 100" or "sample:64 (τs 1, seed 0)".
    public var policy: String
    /// Sequences this store already held (checked against the input) and did not get again.
    public var skippedSequences: Int
    /// Sequences appended in this run.
    public var sequencesWritten: Int
}

/// The outcome of a dump, with the time split between the stages.
public struct DumpSummary: Codable, Sendable {
    /// Sequences the input gives (resumed ones included).
    public var sequences: Int
    /// Positions of those sequences.
    public var positions: Int
    /// Sequences no store needed (the fewest any store had already committed).
    public var skippedSequences: Int
    /// Tokens run through the teacher in this process.
    public var tokensProcessed: Int
    /// Documents packed (0 for token inputs).
    public var documents: Int
    /// Wall-clock seconds of the run itself (model load excluded).
    public var seconds: Double
    /// `tokensProcessed / seconds`.
    public var tokensPerSecond: Double
    /// Seconds spent loading the teacher (set by the caller that loaded it; 0 from `DumpJob` itself).
    public var loadSeconds: Double
    /// Seconds spent reading, tokenising and packing the input.
    public var tokenizeSeconds: Double
    /// Threads that ran the teacher (each with its own model activations; OpenBLAS single-threaded when > 1).
    public var workers: Int
    /// Forward, LM-head and truncation times are summed over the workers (they overlap in wall-clock time).
    public var forwardSeconds: Double
    /// LM-head products, summed over the workers.
    public var lmHeadSeconds: Double
    /// Softmax → top-p → top-k (or sampling) of the logits rows for every store, in the workers.
    public var truncateSeconds: Double
    /// Encoding, compression and commits on the writer thread.
    public var writerSeconds: Double
    /// Per store, in the order given.
    public var stores: [DumpStoreSummary]
}

/// Runs a dump: packs the input, runs the teacher on `options.workers` threads, and hands each store its rows in
/// sequence order. Re-running the same job resumes every store after the sequences it committed, checking them
/// against the input.
public final class DumpJob {
    /// The loaded teacher.
    public let teacher: TeacherModel
    /// The options the job was made with.
    public let options: DumpOptions
    /// Rows per LM-head product (internal: tests shrink it to exercise the chunking).
    var headRows = DumpWorker.defaultHeadRows
    /// Test hook standing in for a kill: after the sequence with this index is appended, every store commits and
    /// the run stops (as if the process died right after those commits).
    var stopAfterSequences: Int?

    /// A job for `teacher`; throws `TeacherError` when an option is out of range.
    public init(teacher: TeacherModel, options: DumpOptions) throws {
        guard options.seqLen >= 1 else { throw TeacherError.invalidOption("seqLen must be at least 1") }
        guard options.batch >= 1 else { throw TeacherError.invalidOption("batch must be at least 1") }
        guard options.workers >= 1 else { throw TeacherError.invalidOption("workers must be at least 1") }
        if let m = options.maxTokens, m < 1 { throw TeacherError.invalidOption("maxTokens must be at least 1") }
        self.teacher = teacher
        self.options = options
    }

    /// The teacher identity recorded in the store's manifest.
    public var identity: TeacherIdentity {
        TeacherIdentity(name: teacher.identityName, weightsHash: teacher.weightsHash, tokenizerHash: "xxh3:" + teacher.tokenizer.identityHash)
    }

    /// Tokenises/reads the input into the sequences the store will hold.
    public func sequences() throws -> PackedSequences {
        if options.format.isText {
            guard let eos = teacher.tokenizer.eosID else { throw TeacherError.tokenizer("the model names no EOS token (tokenizer.ggml.eos_token_id) to put between documents") }
            return try PackedSequences.pack(path: options.input, format: options.format, tokenizer: teacher.tokenizer, eos: eos,
                                            seqLen: options.seqLen, maxTokens: options.maxTokens)
        }
        return try PackedSequences.raw(path: options.input, format: options.format, vocabSize: teacher.config.vocabSize,
                                       seqLen: options.seqLen, maxTokens: options.maxTokens)
    }

    /// Runs the dump into `out` under `options.policy` (created, or resumed: sequences already committed by this
    /// writer id are skipped).
    public func run(out: String, progress: (DumpProgress) -> Void = { _ in }) throws -> DumpSummary {
        try run(outputs: [DumpOutput(store: out, policy: options.policy)], progress: progress)
    }

    /// Runs the dump into several stores at once: one teacher forward pass per batch feeds every store, each under
    /// its own policy. Each store resumes on its own: the sequences it already committed (checked against the
    /// input) are not written again, and the teacher runs from the first sequence any store still needs.
    public func run(outputs: [DumpOutput], progress: (DumpProgress) -> Void = { _ in }) throws -> DumpSummary {
        guard !outputs.isEmpty else { throw TeacherError.config("a dump needs at least one output store") }
        if let dup = Dictionary(grouping: outputs, by: { URL(fileURLWithPath: $0.store).standardizedFileURL.path }).first(where: { $0.value.count > 1 }) {
            throw TeacherError.config("output store \(dup.key) is given more than once")
        }
        let t0 = Date()
        let packed = try sequences()
        let tokenizeSeconds = Date().timeIntervalSince(t0)
        guard packed.count > 0 else { throw TeacherError.input(path: options.input, reason: "holds no tokens") }
        let vocab = teacher.config.vocabSize
        var writers: [StoreWriter] = []
        var skips: [Int] = []
        for o in outputs {
            let writer = try StoreWriter(directory: o.store, options: WriterOptions(
                vocabSize: vocab, policy: o.policy, teacher: identity, codec: options.codec, writerID: options.writerID,
                recordTargetLogprobs: options.recordTargetLogprobs))
            let skip = writer.committedSequenceCount
            if skip > packed.count {
                throw TeacherError.config("\(o.store) already holds \(skip) sequences of writer \(options.writerID), more than this input gives (\(packed.count)); a different input, sequence length or token limit?")
            }
            if skip > 0 { try checkResumeMatches(out: o.store, packed: packed, committed: skip) }
            writers.append(writer); skips.append(skip)
        }
        let skip = skips.min()!

        // Batches start at multiples of --batch whatever the resume point, so a resumed run forms the same batches
        // (the same product shapes, hence the same float32 logits) as an uninterrupted one; the up to batch − 1
        // sequences before the resume point are run through the teacher again and not written.
        let start = skip - skip % options.batch
        let tokensTotal = packed.tokens.count - min(packed.tokens.count, start * packed.seqLen)
        progress(DumpProgress(sequencesDone: skip, sequencesTotal: packed.count, tokensDone: 0, tokensTotal: tokensTotal, skippedSequences: skip))
        let batches = DumpBatch.plan(packed, from: start, size: options.batch)
        let workerCount = min(options.workers, batches.count)   // 0 when everything is already committed
        // Each worker runs its products on its own thread (never BLAS threads inside parallel workers). Always
        // single-threaded products also make the stored bits independent of --workers: OpenBLAS's multi-threaded
        // path rounds differently, which would make a resumed run differ from a fresh one in the last bits.
        let blasThreads = BLASThreads.count
        BLASThreads.count = 1
        defer { BLASThreads.count = blasThreads }
        var workers: [DumpWorker] = []
        let targets = zip(outputs, skips).map { DumpWorker.Target(policy: $0.policy, firstNeeded: $1) }
        for w in 0..<workerCount {
            workers.append(try DumpWorker(model: w == 0 ? teacher.model : teacher.model.inferenceReplica(), seqLen: options.seqLen,
                                          targets: targets, writerID: options.writerID, recordTargets: options.recordTargetLogprobs,
                                          headRows: headRows))
        }
        let handOff = OrderedHandOff(total: batches.count, runAhead: 2 * workerCount)
        let group = DispatchGroup()
        for worker in workers {
            DispatchQueue.global(qos: .userInitiated).async(group: group) {
                while let b = handOff.claim() {
                    handOff.put(b, Result { try worker.run(batches[b], packed: packed) })
                }
            }
        }
        // This thread writes, in sequence order, while the workers compute the next batches.
        var forwardSeconds = 0.0, headSeconds = 0.0, truncateSeconds = 0.0, writerSeconds = 0.0
        var done = 0
        var written = [Int](repeating: 0, count: outputs.count)
        do {
            batches: for (b, batch) in batches.enumerated() {
                let r = try handOff.take(b).get()
                forwardSeconds += r.forwardSeconds; headSeconds += r.headSeconds; truncateSeconds += r.truncateSeconds
                let t = DispatchTime.now()
                for (s, tokens) in r.tokens.enumerated() {
                    let ordinal = batch.first + s
                    for (k, writer) in writers.enumerated() where ordinal >= skips[k] {
                        // The rows were drawn for this ordinal; the writer must be at it (it is: the committed
                        // sequences are the input's first ones, checked above).
                        guard writer.nextSequenceOrdinal == ordinal else {
                            throw TeacherError.config("internal: \(outputs[k].store) is at sequence \(writer.nextSequenceOrdinal), not \(ordinal)")
                        }
                        try writer.append(tokens: tokens, truncated: r.rows[k][s])
                        written[k] += 1
                    }
                    if let stop = stopAfterSequences, ordinal + 1 >= stop {
                        for writer in writers { try writer.commit() }
                        handOff.cancel()
                        break batches
                    }
                }
                writerSeconds += t.secondsSince
                done += batch.count * batch.length
                progress(DumpProgress(sequencesDone: batch.first + batch.count, sequencesTotal: packed.count, tokensDone: done,
                                      tokensTotal: tokensTotal, skippedSequences: skip))
            }
        } catch {
            handOff.cancel()
            group.wait()
            throw error
        }
        group.wait()
        let t = DispatchTime.now()
        for writer in writers { try writer.finish() }
        writerSeconds += t.secondsSince
        let seconds = Date().timeIntervalSince(t0)
        let stores = outputs.indices.map {
            DumpStoreSummary(store: outputs[$0].store, policy: outputs[$0].policy.label, skippedSequences: skips[$0], sequencesWritten: written[$0])
        }
        return DumpSummary(sequences: packed.count, positions: packed.tokens.count, skippedSequences: skip, tokensProcessed: done,
                           documents: packed.documentCount, seconds: seconds, tokensPerSecond: Double(done) / max(seconds, 1e-9),
                           loadSeconds: 0, tokenizeSeconds: tokenizeSeconds, workers: workerCount, forwardSeconds: forwardSeconds,
                           lmHeadSeconds: headSeconds, truncateSeconds: truncateSeconds, writerSeconds: writerSeconds, stores: stores)
    }

    /// On resume, every sequence this writer committed must be the tokens this input gives there (decoding the
    /// store's sequences costs far less than the teacher forward that made them).
    func checkResumeMatches(out: String, packed: PackedSequences, committed: Int) throws {
        let reader = try StoreReader(directory: out)
        var global = 0, own = 0
        for shard in reader.manifest.shards {
            defer { global += shard.sequences }
            guard shard.writerID == options.writerID else { continue }
            for g in global..<(global + shard.sequences) {
                guard own < committed else { return }
                guard try reader.sequence(g).tokens == Array(packed.sequence(own)) else {
                    throw TeacherError.config("cannot resume \(out): its sequence \(own) differs from what this input gives (different input, sequence length, token limit or tokenizer?)")
                }
                own += 1
            }
        }
    }
}
