import Foundation
import LogitStore

/// The data side of a run: the training store, the held-out part (a separate store or the training store's
/// last sequences), the window length and the read-time target options, all checked against the options and
/// the student before anything is built.
public final class TrainingData {
    /// The training store.
    public let reader: StoreReader
    /// The store the held-out sequences come from (the training store itself when it holds them out).
    public let evalReader: StoreReader
    /// Sequences of `reader` trained on.
    public let trainSequences: [Int]
    /// Sequences of `evalReader` evaluated on.
    public let evalSequences: [Int]
    /// Positions per window.
    public let seqLen: Int
    /// Read-time targets (re-truncation only, at temperature 1: τ is the loss's job), nil when α is always 0.
    public let targetOptions: TargetOptions?
    /// What the run directory records about this split (so `eval` can tell held-out from training data).
    public let split: DataSplit

    /// Opens the stores and splits them.
    /// - Parameter evalStorePath: a separate held-out store; nil holds out `options.holdoutSequences` of the
    ///   training store. Passing the training store's own path evaluates on the training sequences (not held out).
    public init(storePath: String, evalStorePath: String?, options: TrainingOptions, student: StudentConfig) throws {
        let reader = try StoreReader(directory: storePath)
        self.reader = reader
        try options.checkTargets(against: reader.manifest.truncation)
        let vocab = reader.vocabSize
        if let declared = student.declaredVocabSize, declared != vocab {
            throw TrainerError.storeMismatch("student config vocab_size \(declared) differs from the store's vocabulary \(vocab) (leave vocab_size out: it comes from the store)")
        }
        let total = reader.sequenceCount
        guard total > 0 else { throw TrainerError.storeMismatch("the training store has no sequences") }
        seqLen = options.seqLen ?? reader.sequenceRange(0).count
        if let ev = evalStorePath {
            evalReader = try StoreReader(directory: ev)
            guard evalReader.vocabSize == vocab else {
                throw TrainerError.storeMismatch("eval store vocabulary \(evalReader.vocabSize) differs from the training store's \(vocab)")
            }
            evalSequences = Array(0..<evalReader.sequenceCount)
            trainSequences = Array(0..<total)
        } else {
            evalReader = reader
            let h = options.holdoutSequences
            guard h < total else { throw TrainerError.storeMismatch("holdoutSequences \(h) leaves no training sequences (store has \(total))") }
            evalSequences = Array((total - h)..<total)
            trainSequences = Array(0..<(total - h))
        }
        targetOptions = options.usesTargets ? TargetOptions(topP: options.targetTopP, topK: options.targetTopK, temperature: 1,
                                                            droppedMassBucket: options.droppedMassBucket) : nil
        split = DataSplit(store: Self.resolved(storePath), evalStore: evalStorePath.map(Self.resolved),
                          holdoutSequences: evalStorePath == nil ? options.holdoutSequences : 0, storeSequences: total)
    }

    /// The shuffled, endless training windows.
    public func trainingSource(seed: UInt64) throws -> WindowSource {
        try WindowSource(reader: reader, sequences: trainSequences, seqLen: seqLen, shuffledWithSeed: seed, targets: targetOptions)
    }

    /// One pass over the held-out windows, in store order, tokens only.
    public func evaluationSource() throws -> WindowSource {
        try WindowSource(reader: evalReader, sequences: evalSequences, seqLen: seqLen, shuffledWithSeed: nil, targets: nil)
    }

    /// An absolute, symlink-free form of a store path (for comparing stores by location).
    public static func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }
}

/// Where a run's training and held-out data came from (the run directory's `data.json`).
public struct DataSplit: Codable, Equatable, Sendable {
    /// The training store (resolved path).
    public var store: String
    /// The separate held-out store, if one was used.
    public var evalStore: String?
    /// Sequences held out at the end of the training store (0 with a separate store).
    public var holdoutSequences: Int
    /// The training store's sequence count when the run started.
    public var storeSequences: Int

    enum CodingKeys: String, CodingKey {
        case store, evalStore = "eval_store", holdoutSequences = "holdout_sequences", storeSequences = "store_sequences"
    }
}

/// Which sequences of a store `eval` scores: it must never silently score sequences the student trained on.
public enum HeldOutChoice: Equatable, Sendable {
    /// No choice given: allowed only for a store other than the run's training store.
    case unspecified
    /// The store's last N sequences (on the training store, at most the N the run held out).
    case lastSequences(Int)
    /// Every sequence: the caller states the store is held out (refused for the run's known training store).
    case allSequences

    /// The sequences of `reader` (at `storePath`) to score for the run whose split is `split` (nil: an older run
    /// directory that did not record it).
    public func sequences(storePath: String, reader: StoreReader, split: DataSplit?) throws -> [Int] {
        let n = reader.sequenceCount
        let isTrainingStore = split.map { $0.store == TrainingData.resolved(storePath) }
        let held = split?.holdoutSequences ?? 0
        switch self {
        case .lastSequences(let k):
            guard k >= 1 else { throw TrainerError.invalidOption("lastSequences must be at least 1 (got \(k))") }
            if isTrainingStore == true, k > held {
                throw TrainerError.storeMismatch("the last \(k) sequences of the training store include trained-on sequences (the run held out \(held))")
            }
            return Array(Swift.max(0, n - k)..<n)
        case .allSequences:
            if isTrainingStore == true {
                throw TrainerError.storeMismatch("\(storePath) is the run's training store; choose its held-out part (lastSequences ≤ \(held)) or a separate store")
            }
            return Array(0..<n)
        case .unspecified:
            switch isTrainingStore {
            case true?:
                throw TrainerError.storeMismatch("\(storePath) is the run's training store; choose its held-out part (lastSequences ≤ \(held)) or evaluate on a separate store")
            case false?:
                return Array(0..<n)
            case nil:
                throw TrainerError.storeMismatch("the run directory does not record its training store, so a held-out choice is needed: lastSequences N, or allSequences for a store never trained on")
            }
        }
    }
}
