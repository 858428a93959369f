/// Block compression codec. Recorded per stream in every block, so one store may mix codecs.
public enum Codec: Equatable, Sendable, CustomStringConvertible {
    /// Stored as is (after the stream's filter).
    case none
    /// LZ4 block format (fast decode).
    case lz4
    /// Zstandard frame at the given level (1...22; negative levels are zstd's fast modes).
    case zstd(level: Int)

    /// The default: zstd level 3 (see Spec/DESIGN.md for the measurement behind it).
    public static let `default` = Codec.zstd(level: 3)

    /// The codec as written in messages, e.g. "zstd(level: 3)".
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

/// Which rule turned a teacher's full distribution into the kept entries of a position (manifest
/// `truncation.policy`, Spec/FORMAT.md §1.2 and §1.3). Readers and trainers branch on this, never on guesses.
public enum TargetPolicyKind: String, Codable, Sendable, CaseIterable {
    /// The shortest top-p prefix, capped at k entries; probabilities are the teacher's own, not re-normalised.
    case topPK = "top-p-k"
    /// N draws with replacement from the teacher's softmax (Sparse Logit Sampling, RS-KD); the distinct ids are
    /// kept with weights count/N (τs = 1) or importance-corrected weights (τs ≠ 1), which sum to 1.
    case sample
}

/// How the weights of a sampled store were formed (manifest `truncation.weights`).
public enum SampleWeights: String, Codable, Sendable, CaseIterable {
    /// count/N: the draws came from the teacher's own softmax (τs = 1).
    case counts
    /// RS-KD's importance-corrected weights c_i·p_i/r_i, normalised to sum 1, for draws from a proposal r ∝ p^(1/τs).
    case importance
}

/// The truncation applied when the distributions were generated: top-p first, then top-k, at a temperature
/// (`kind == .topPK`), or N samples from the teacher's softmax (`kind == .sample`).
public struct TruncationPolicy: Codable, Equatable, Sendable {
    /// Which rule made the kept entries. Absent in JSON means `.topPK`.
    public var kind: TargetPolicyKind
    /// Keep the smallest set of most probable tokens whose probability mass reaches `topP` (0 < topP ≤ 1).
    /// Always 1 for a sampled store.
    public var topP: Double
    /// Then keep at most `topK` of them (1 ≤ topK ≤ 65,535). For a sampled store: N (the most distinct ids).
    public var topK: Int
    /// Softmax temperature τ applied to the logits before truncation or sampling (1 = none).
    public var temperature: Double
    /// Sampled stores: the number of draws N per position (1...65,535). nil for top-p-k.
    public var samples: Int?
    /// Sampled stores: the proposal temperature τs; draws come from r ∝ p^(1/τs). nil for top-p-k.
    public var sampleTemperature: Double?
    /// Sampled stores: the seed of the deterministic draws (0 ≤ seed < 2^53). nil for top-p-k.
    public var seed: UInt64?
    /// Sampled stores: `.counts` when τs = 1, `.importance` otherwise. nil for top-p-k.
    public var weights: SampleWeights?

    enum CodingKeys: String, CodingKey {
        case kind = "policy", topP = "top_p", topK = "top_k", temperature, samples
        case sampleTemperature = "sample_temperature", seed, weights
    }

    /// A top-p-k policy.
    public init(topP: Double = 0.95, topK: Int = 100, temperature: Double = 1) {
        self.kind = .topPK; self.topP = topP; self.topK = topK; self.temperature = temperature
    }

    /// A sampled-target policy: `samples` draws per position from softmax(logits/τ) tempered by τs.
    public static func sample(samples: Int = 64, sampleTemperature: Double = 1, seed: UInt64 = 0,
                              temperature: Double = 1) -> TruncationPolicy {
        var p = TruncationPolicy(topP: 1, topK: samples, temperature: temperature)
        p.kind = .sample; p.samples = samples; p.sampleTemperature = sampleTemperature; p.seed = seed
        p.weights = sampleTemperature == 1 ? .counts : .importance
        return p
    }

    /// Decodes the manifest's `truncation` object (an absent `policy` reads as top-p-k; validation is separate).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decodeIfPresent(TargetPolicyKind.self, forKey: .kind) ?? .topPK
        topP = try c.decode(Double.self, forKey: .topP)
        topK = try c.decode(Int.self, forKey: .topK)
        temperature = try c.decode(Double.self, forKey: .temperature)
        samples = try c.decodeIfPresent(Int.self, forKey: .samples)
        sampleTemperature = try c.decodeIfPresent(Double.self, forKey: .sampleTemperature)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
        weights = try c.decodeIfPresent(SampleWeights.self, forKey: .weights)
    }

    /// Encodes the manifest's `truncation` object; the sampling fields only when they are set.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(topP, forKey: .topP)
        try c.encode(topK, forKey: .topK)
        try c.encode(temperature, forKey: .temperature)
        try c.encodeIfPresent(samples, forKey: .samples)
        try c.encodeIfPresent(sampleTemperature, forKey: .sampleTemperature)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encodeIfPresent(weights, forKey: .weights)
    }

    /// True for a sampled-target store.
    public var isSampled: Bool { kind == .sample }

    /// Throws `StoreError.invalidInput` unless the fields are in range and consistent with `kind`:
    /// top-p-k: 0 < p ≤ 1, 1 ≤ k ≤ 65,535, τ > 0 finite, no sampling fields.
    /// sample: p = 1, k = N, 1 ≤ N ≤ 65,535, τs > 0 finite, seed < 2^53, weights = counts exactly when τs = 1.
    public func validate() throws {
        guard temperature > 0, temperature.isFinite else { throw StoreError.invalidInput("temperature must be finite and > 0, got \(temperature)") }
        switch kind {
        case .topPK:
            guard topP > 0, topP <= 1 else { throw StoreError.invalidInput("top_p must be in (0, 1], got \(topP)") }
            guard topK >= 1, topK <= 65_535 else { throw StoreError.invalidInput("top_k must be in 1...65535, got \(topK)") }
            guard samples == nil, sampleTemperature == nil, seed == nil, weights == nil else {
                throw StoreError.invalidInput("a top-p-k policy has no samples, sample_temperature, seed or weights")
            }
        case .sample:
            guard let n = samples, n >= 1, n <= 65_535 else { throw StoreError.invalidInput("samples must be in 1...65535, got \(samples.map(String.init) ?? "none")") }
            guard topP == 1, topK == n else { throw StoreError.invalidInput("a sampled policy has top_p 1 and top_k = samples (\(n)), got \(topP) and \(topK)") }
            guard let ts = sampleTemperature, ts > 0, ts.isFinite else { throw StoreError.invalidInput("sample_temperature must be finite and > 0") }
            guard let s = seed, s < (1 << 53) else { throw StoreError.invalidInput("seed must be in 0..<2^53") }
            _ = s
            guard weights == (ts == 1 ? SampleWeights.counts : .importance) else {
                throw StoreError.invalidInput("weights must be \(ts == 1 ? "counts" : "importance") when sample_temperature is \(ts)")
            }
        }
    }

    /// Short human description, e.g. "top-p 0.95, top-k 100" or "sample:64 (τs 1, seed 0)".
    public var label: String {
        switch kind {
        case .topPK: return "top-p \(topP), top-k \(topK)" + (temperature == 1 ? "" : ", τ \(temperature)")
        case .sample:
            return "sample:\(samples ?? 0) (τs \(sampleTemperature ?? 1), seed \(seed ?? 0))" + (temperature == 1 ? "" : ", τ \(temperature)")
        }
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

    /// A teacher identity; leave the hashes nil when they are not known.
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
    /// How the kept entries of each position are chosen (top-p-k or sampled).
    public var policy: TruncationPolicy
    /// The teacher recorded in the manifest.
    public var teacher: TeacherIdentity
    /// The codec every stream of every block is compressed with.
    public var codec: Codec
    /// This writer's name space: its shards are named `<writerID>-<serial>.lgs`. Letters, digits, `-`, `_`, `.`.
    public var writerID: String
    /// A shard is committed once its compressed size reaches this (default 64 MiB).
    public var shardTargetBytes: Int
    /// A block is closed once its raw (filtered, uncompressed) size reaches this (default 256 KiB).
    public var blockTargetBytes: Int
    /// Record the optional target-log-prob stream when full logits are given.
    public var recordTargetLogprobs: Bool

    /// Options with the defaults above; the policy is validated when the writer opens.
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
