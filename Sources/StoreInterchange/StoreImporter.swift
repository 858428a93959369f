import LogitStore
import NumPyFiles

/// Where an import reads from: NumPy files as `logitstore import` names them.
public struct ImportSource: Sendable {
    /// The per-position rows: full logits, or rows already truncated.
    public enum Rows: Sendable {
        /// float32 or float16 [N, V] (V may be a padded width ≥ the vocabulary).
        case logits(String)
        /// ids uint32 [E], probs float16 [E], counts uint8/uint16/uint32 [N] summing to E, optional target log-probs float32 [N].
        case truncated(ids: String, probs: String, counts: String, targetLogprobs: String?)
    }
    /// uint32 [N].
    public var tokens: String
    /// int64 [S], summing to N.
    public var sequenceLengths: String
    /// The per-position rows.
    public var rows: Rows

    /// A source from the paths of its files.
    public init(tokens: String, sequenceLengths: String, rows: Rows) {
        self.tokens = tokens; self.sequenceLengths = sequenceLengths; self.rows = rows
    }
}

/// Options of an import; nil means "from the input" (vocabulary) or the policy default (top-p 0.95, top-k 100).
public struct ImportSettings: Sendable {
    /// The vocabulary size V (default: the logits width; required with truncated rows).
    public var vocabSize: Int?
    /// Top-p of the truncation of logits input (default 0.95).
    public var topP: Double?
    /// Top-k of the truncation of logits input (default 100).
    public var topK: Int?
    /// The store's policy (top-p-k or sample); when set, `topP` and `topK` are not used.
    public var policy: TruncationPolicy?
    /// The block codec of the store.
    public var codec: Codec
    /// The writer id the import writes (and resumes) under.
    public var writerID: String
    /// The teacher recorded in the manifest.
    public var teacher: TeacherIdentity

    /// Settings with the CLI's defaults.
    public init(vocabSize: Int? = nil, topP: Double? = nil, topK: Int? = nil, policy: TruncationPolicy? = nil, codec: Codec = .default,
                writerID: String = "import", teacher: TeacherIdentity = TeacherIdentity(name: "imported")) {
        self.vocabSize = vocabSize; self.topP = topP; self.topK = topK; self.policy = policy; self.codec = codec
        self.writerID = writerID; self.teacher = teacher
    }
}

/// What an import did.
public struct ImportSummary: Codable, Equatable, Sendable {
    /// Sequences in the input (resumed ones included).
    public var sequences: Int
    /// Positions in the input.
    public var positions: Int
    /// Entries the store holds from this import, all runs included (for logits input, what the truncation kept).
    public var entries: Int
    /// Sequences skipped because an earlier run of the same import had committed them.
    public var resumedSequences: Int
    /// The store's vocabulary size.
    public var vocabSize: Int
}

/// Imports NumPy files into a store. `init` opens and checks every input (dtypes, shapes, sums and, for
/// truncated rows, every id, probability and count) before anything is written, so bad input is refused whole.
public final class StoreImporter {
    /// The files being imported.
    public let source: ImportSource
    /// The writer options derived from the settings and the input.
    public let options: WriterOptions
    /// Positions per sequence, from the sequence-lengths file.
    public let sequenceLengths: [Int]
    /// Positions in the input (N).
    public var positionCount: Int { tokens.count }
    /// Sequences in the input (S).
    public var sequenceCount: Int { sequenceLengths.count }

    private let tokens: [UInt32]
    private let logits: NPYFile?
    private let ids: NPYFile?
    private let probs: NPYFile?
    private let counts: [UInt32]
    private let targetLogprobs: [Float]?

    /// Opens and checks every input file; throws `InterchangeError` or `NPYError` naming the file before anything is written.
    public init(source: ImportSource, settings: ImportSettings) throws {
        self.source = source
        let tokensFile = try NPYFile(path: source.tokens)
        try tokensFile.requireVector(name: "N")
        tokens = try tokensFile.toArray(UInt32.self)
        let n = tokens.count

        let lengthsFile = try NPYFile(path: source.sequenceLengths)
        try lengthsFile.requireVector(name: "S")
        let lengths = try lengthsFile.toArray(Int64.self)
        var sum = 0
        for (i, l) in lengths.enumerated() {
            guard l > 0 else { throw InterchangeError.inconsistent("\(source.sequenceLengths): sequence_lengths[\(i)] is \(l); every sequence needs at least one position") }
            sum += Int(l)
        }
        guard sum == n else {
            throw InterchangeError.inconsistent("\(source.sequenceLengths): sequence lengths sum to \(sum) but \(source.tokens) holds \(n) tokens")
        }
        sequenceLengths = lengths.map(Int.init)

        let policy = settings.policy ?? TruncationPolicy(topP: settings.topP ?? 0.95, topK: settings.topK ?? 100)
        try policy.validate()
        switch source.rows {
        case let .logits(path):
            let f = try NPYFile(path: path)
            try f.require(dtype: [.float32, .float16])
            let width = try f.requireMatrix(rows: n).columns
            let vocab = settings.vocabSize ?? width
            guard vocab >= 1, vocab <= width else {
                throw InterchangeError.inconsistent("\(path): rows are \(width) wide but the vocabulary size is \(vocab); the vocabulary cannot be wider than the rows")
            }
            try ImportChecks.tokens(tokens, vocab: vocab, path: source.tokens)
            try ImportChecks.logits(f, rows: n, width: width, vocab: vocab)
            logits = f; ids = nil; probs = nil; counts = []; targetLogprobs = nil
            options = WriterOptions(vocabSize: vocab, paddedVocabSize: width == vocab ? nil : width, policy: policy,
                                    teacher: settings.teacher, codec: settings.codec, writerID: settings.writerID,
                                    recordTargetLogprobs: true)
        case let .truncated(idsPath, probsPath, countsPath, tlPath):
            guard let vocab = settings.vocabSize else {
                throw InterchangeError.missingInput("the vocabulary size is required with truncated rows (ids, probs, counts): it cannot be read from them")
            }
            try ImportChecks.tokens(tokens, vocab: vocab, path: source.tokens)
            let countsFile = try NPYFile(path: countsPath)
            try countsFile.require(dtype: [.uint8, .uint16, .uint32])
            try countsFile.requireVector(length: n)
            counts = try countsFile.unsignedIntegers().map { UInt32($0) }
            let idsFile = try NPYFile(path: idsPath)
            try idsFile.require(dtype: [.uint32])
            let e = try idsFile.requireVector(name: "E")
            let probsFile = try NPYFile(path: probsPath)
            try probsFile.require(dtype: [.float16])
            try probsFile.requireVector(length: e)
            let total = counts.reduce(0) { $0 + Int($1) }
            guard total == e else {
                throw InterchangeError.inconsistent("\(countsPath): counts sum to \(total) but \(idsPath) holds \(e) entries")
            }
            if let tlPath {
                let f = try NPYFile(path: tlPath)
                try f.require(dtype: [.float32])
                try f.requireVector(length: n)
                targetLogprobs = try f.toArray(Float.self)
                try ImportChecks.targetLogprobs(targetLogprobs!, path: tlPath)
            } else { targetLogprobs = nil }
            try Self.checkTruncated(counts: counts, ids: idsFile, probs: probsFile, vocab: vocab, topK: policy.topK,
                                    paths: (countsPath, idsPath, probsPath))
            if policy.isSampled {
                try Self.checkSampled(counts: counts, ids: idsFile, probs: probsFile, lengths: lengths.map(Int.init),
                                      policy: policy, paths: (countsPath, idsPath, probsPath))
            }
            logits = nil; ids = idsFile; probs = probsFile
            options = WriterOptions(vocabSize: vocab, policy: policy, teacher: settings.teacher, codec: settings.codec,
                                    writerID: settings.writerID, recordTargetLogprobs: tlPath != nil)
        }
    }

    /// Every id below the vocabulary, every probability finite in [0, 1] and non-increasing within its
    /// position, every count at most k.
    private static func checkTruncated(counts: [UInt32], ids: NPYFile, probs: NPYFile, vocab: Int, topK: Int,
                                       paths: (counts: String, ids: String, probs: String)) throws {
        if let j = counts.firstIndex(where: { Int($0) > topK }) {
            throw InterchangeError.inconsistent("\(paths.counts): position \(j) keeps \(counts[j]) entries, more than top-k \(topK)")
        }
        try ids.withElements(UInt32.self) { idv in
            if let i = idv.firstIndex(where: { Int($0) >= vocab }) {
                throw InterchangeError.inconsistent("\(paths.ids): entry \(i) is id \(idv[i]), not below the vocabulary size \(vocab)")
            }
        }
        try probs.withElements(Float16.self) { pv in
            var start = 0
            for (j, c) in counts.enumerated() {
                let end = start + Int(c)
                var previous = Float16.infinity
                for i in start..<end {
                    let p = pv[i]
                    guard p.isFinite, p >= 0, p <= 1 else {
                        throw InterchangeError.inconsistent("\(paths.probs): entry \(i) (position \(j)) is \(p), outside [0, 1]")
                    }
                    guard p <= previous else {
                        throw InterchangeError.inconsistent("\(paths.probs): position \(j) is not in descending order (entry \(i) is \(p) after \(previous))")
                    }
                    previous = p
                }
                start = end
            }
        }
    }

    /// Compares committed sequences with this input (see `ImportResume`).
    private func resumeCheck() -> ImportResume {
        var starts = [0], entryStarts = [0]
        for (s, len) in sequenceLengths.enumerated() {
            starts.append(starts[s] + len)
            if !counts.isEmpty { entryStarts.append(entryStarts[s] + counts[starts[s]..<starts[s + 1]].reduce(0) { $0 + Int($1) }) }
        }
        let truncator = logits != nil && !options.policy.isSampled
            ? try? Truncator(vocabSize: options.vocabSize, rowWidth: options.rowWidth, policy: options.policy) : nil
        return ImportResume(
            expectedTokens: { [tokens] s in Array(tokens[starts[s]..<starts[s + 1]]) },
            expectedRows: { [self] s in
                let range = starts[s]..<starts[s + 1]
                if let logits {
                    guard let truncator else { return nil }
                    let next: [UInt32?] = range.map { $0 + 1 < range.upperBound ? self.tokens[$0 + 1] : nil }
                    var rows = TruncatedRows()
                    let width = options.rowWidth
                    switch logits.dtype.scalar {
                    case .float32:
                        try logits.withElements(Float.self) {
                            try truncator.truncate(rows: UnsafeBufferPointer(rebasing: $0[(range.lowerBound * width)..<(range.upperBound * width)]),
                                                   nextTokens: options.recordTargetLogprobs ? next : nil, into: &rows)
                        }
                    default:
                        try logits.withElements(Float16.self) {
                            try truncator.truncate(rows: UnsafeBufferPointer(rebasing: $0[(range.lowerBound * width)..<(range.upperBound * width)]),
                                                   nextTokens: options.recordTargetLogprobs ? next : nil, into: &rows)
                        }
                    }
                    return rows
                }
                let e = entryStarts[s]..<entryStarts[s + 1]
                return TruncatedRows(counts: Array(counts[range]),
                                     ids: try ids!.withElements(UInt32.self) { Array($0[e]) },
                                     probs: try probs!.withElements(Float16.self) { Array($0[e]) },
                                     targetLogprobs: targetLogprobs.map { Array($0[range]) })
            })
    }

    /// Under a sample policy, the writer's rules for pre-sampled rows (`SampledRowsCheck`), checked per sequence
    /// here so that bad input is refused before anything is written.
    private static func checkSampled(counts: [UInt32], ids: NPYFile, probs: NPYFile, lengths: [Int], policy: TruncationPolicy,
                                     paths: (counts: String, ids: String, probs: String)) throws {
        let check = SampledRowsCheck(policy: policy)
        var position = 0, entry = 0
        for (s, len) in lengths.enumerated() {
            let c = Array(counts[position..<(position + len)])
            let e = c.reduce(0) { $0 + Int($1) }
            let rows = try TruncatedRows(counts: c, ids: ids.withElements(UInt32.self) { Array($0[entry..<(entry + e)]) },
                                         probs: probs.withElements(Float16.self) { Array($0[entry..<(entry + e)]) })
            do { try check.check(rows) } catch StoreError.invalidInput(let why) {
                throw InterchangeError.inconsistent("\(paths.probs): sequence \(s) does not fit \(policy.label): \(why)")
            }
            position += len; entry += e
        }
    }

    /// Writes the store at `directory` (created, or re-opened to resume: sequences an earlier run of the same
    /// import committed are skipped). `progress(donePositions, totalPositions)` is called after each sequence.
    public func run(into directory: String, progress: ((Int, Int) -> Void)? = nil) throws -> ImportSummary {
        let writer = try StoreWriter(directory: directory, options: options)
        let skip = writer.committedSequenceCount
        guard skip <= sequenceCount else {
            throw InterchangeError.inconsistent("\(directory) already holds \(skip) sequences from writer '\(options.writerID)', more than the \(sequenceCount) being imported")
        }
        try resumeCheck().check(store: directory, writerID: options.writerID, committed: skip)
        var position = sequenceLengths[0..<skip].reduce(0, +)
        var entry = counts.isEmpty ? 0 : counts[0..<position].reduce(0) { $0 + Int($1) }
        progress?(position, positionCount)
        for s in skip..<sequenceCount {
            let len = sequenceLengths[s]
            let seqTokens = Array(tokens[position..<(position + len)])
            do {
                if let logits {
                    let width = options.rowWidth
                    let range = (position * width)..<((position + len) * width)
                    switch logits.dtype.scalar {
                    case .float32:
                        try logits.withElements(Float.self) { try writer.append(tokens: seqTokens, logits: UnsafeBufferPointer(rebasing: $0[range])) }
                    default:
                        try logits.withElements(Float16.self) { try writer.append(tokens: seqTokens, logitsFloat16: UnsafeBufferPointer(rebasing: $0[range])) }
                    }
                } else {
                    let c = Array(counts[position..<(position + len)])
                    let e = c.reduce(0) { $0 + Int($1) }
                    let rows = try TruncatedRows(
                        counts: c,
                        ids: ids!.withElements(UInt32.self) { Array($0[entry..<(entry + e)]) },
                        probs: probs!.withElements(Float16.self) { Array($0[entry..<(entry + e)]) },
                        targetLogprobs: targetLogprobs.map { Array($0[position..<(position + len)]) })
                    try writer.append(tokens: seqTokens, truncated: rows)
                    entry += e
                }
            } catch {
                throw InterchangeError.stopped(sequence: s, committedSequences: writer.committedSequenceCount,
                                               store: directory, reason: "\(error)")
            }
            position += len
            progress?(position, positionCount)
        }
        try writer.finish()
        let m = try Manifest.load(directory: directory)
        let written = m.shards.filter { $0.writerID == options.writerID }.reduce(0) { $0 + $1.entries }
        return ImportSummary(sequences: sequenceCount - skip, positions: positionCount - sequenceLengths[0..<skip].reduce(0, +),
                             entries: written, resumedSequences: skip, vocabSize: options.vocabSize)
    }
}
