/// Block compression codec. Recorded per stream in every block, so one store may mix codecs.
public enum Codec: Equatable, Sendable, CustomStringConvertible {
    /// Stored as is (after the stream's filter).
    case none
    /// LZ4 block format (fast decode).
    case lz4
    /// Zstandard frame at the given level (1...22; negative levels are zstd's fast modes).
    case zstd(level: Int)

    /// The default: zstd level 3 (see README "Storage engine" for the measurement behind it).
    public static let `default` = Codec.zstd(level: 3)

    public var description: String {
        switch self {
        case .none: return "none"
        case .lz4: return "lz4"
        case .zstd(let level): return "zstd(level: \(level))"
        }
    }

    /// Parses `none`, `lz4`, `zstd` or `zstd:N`; `level` overrides the zstd level when given.
    public init?(name: String, level: Int? = nil) {
        let parts = name.lowercased().split(separator: ":")
        switch parts.first {
        case "none": self = .none
        case "lz4": self = .lz4
        case "zstd":
            if parts.count > 1 { guard let l = Int(parts[1]) else { return nil }; self = .zstd(level: level ?? l) }
            else { self = .zstd(level: level ?? 3) }
        default: return nil
        }
    }
}

/// The truncation applied when the distributions were generated (top-p first, then top-k, at a temperature).
public struct TruncationPolicy: Codable, Equatable, Sendable {
    /// Keep the smallest set of most probable tokens whose probability mass reaches `topP` (0 < topP ≤ 1).
    public var topP: Double
    /// Then keep at most `topK` of them (1 ≤ topK ≤ 65,535).
    public var topK: Int
    /// Softmax temperature applied to the logits before truncation (1 = none).
    public var temperature: Double

    enum CodingKeys: String, CodingKey {
        case topP = "top_p", topK = "top_k", temperature
    }

    public init(topP: Double = 0.95, topK: Int = 100, temperature: Double = 1) {
        self.topP = topP; self.topK = topK; self.temperature = temperature
    }

    /// Throws `StoreError.invalidInput` unless 0 < p ≤ 1, 1 ≤ k ≤ 65,535 and τ > 0 is finite.
    public func validate() throws {
        guard topP > 0, topP <= 1 else { throw StoreError.invalidInput("top-p must be in (0, 1], got \(topP)") }
        guard topK >= 1, topK <= 65_535 else { throw StoreError.invalidInput("top-k must be in 1...65535, got \(topK)") }
        guard temperature > 0, temperature.isFinite else { throw StoreError.invalidInput("temperature must be finite and > 0, got \(temperature)") }
    }
}

/// Who produced the distributions. Stores are only merged or resumed when these agree.
public struct TeacherIdentity: Codable, Equatable, Sendable {
    /// Human-readable model name, e.g. "SmolLM2-135M-Instruct.Q4_1".
    public var name: String
    /// Hash of the weights file (any stable text form, e.g. "xxh3:1f2e..."), when known.
    public var weightsHash: String?
    /// Hash of the tokenizer's vocabulary, when known. Stores with different tokenizer hashes never mix.
    public var tokenizerHash: String?

    enum CodingKeys: String, CodingKey {
        case name, weightsHash = "weights_hash", tokenizerHash = "tokenizer_hash"
    }

    public init(name: String, weightsHash: String? = nil, tokenizerHash: String? = nil) {
        self.name = name; self.weightsHash = weightsHash; self.tokenizerHash = tokenizerHash
    }
}

/// Everything a `StoreWriter` needs to know.
public struct WriterOptions: Sendable {
    /// The real vocabulary size V: kept ids are < V.
    public var vocabSize: Int
    /// Width of the incoming logits rows when the model pads its vocabulary (≥ vocabSize); columns
    /// vocabSize..<paddedVocabSize are ignored (they take no part in the softmax and are never kept).
    public var paddedVocabSize: Int?
    public var policy: TruncationPolicy
    public var teacher: TeacherIdentity
    public var codec: Codec
    /// This writer's name space: its shards are named `<writerID>-<serial>.lgs`. Letters, digits, `-`, `_`, `.`.
    public var writerID: String
    /// A shard is committed once its compressed size reaches this (default 64 MiB).
    public var shardTargetBytes: Int
    /// A block is closed once its raw (filtered, uncompressed) size reaches this (default 256 KiB).
    public var blockTargetBytes: Int
    /// Record the optional target-log-prob stream when full logits are given.
    public var recordTargetLogprobs: Bool

    public init(vocabSize: Int, paddedVocabSize: Int? = nil, policy: TruncationPolicy = TruncationPolicy(),
                teacher: TeacherIdentity = TeacherIdentity(name: "unknown"), codec: Codec = .default,
                writerID: String = "w0", shardTargetBytes: Int = 64 << 20, blockTargetBytes: Int = 256 << 10,
                recordTargetLogprobs: Bool = true) {
        self.vocabSize = vocabSize; self.paddedVocabSize = paddedVocabSize; self.policy = policy
        self.teacher = teacher; self.codec = codec; self.writerID = writerID
        self.shardTargetBytes = shardTargetBytes; self.blockTargetBytes = blockTargetBytes
        self.recordTargetLogprobs = recordTargetLogprobs
    }

    /// The width of incoming logits rows.
    public var rowWidth: Int { paddedVocabSize ?? vocabSize }
}
