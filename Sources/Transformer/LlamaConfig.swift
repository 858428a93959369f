/// The shape of a Llama-architecture decoder: RMSNorm, RoPE, grouped-query attention, SwiGLU.
///
/// JSON keys are snake_case (`layers`, `dim`, `heads`, `kv_heads`, `ffn_dim`, `vocab_size`,
/// `tied_embeddings`, `norm_eps`, `rope_base`). `vocab_size`, `norm_eps` and `rope_base` may be
/// left out when decoding (vocab 0 = "to be filled in by the caller", eps 1e-5, base 10000);
/// call `validate()` before building a model.
public struct LlamaConfig: Codable, Equatable, Sendable {
    /// Transformer blocks.
    public var layers: Int
    /// Width of the residual stream (the embedding size).
    public var dim: Int
    /// Query heads per attention layer.
    public var heads: Int
    /// Key/value heads per attention layer; `heads` must be a multiple of it (grouped-query attention).
    public var kvHeads: Int
    /// Hidden width of the SwiGLU feed-forward layer.
    public var ffnDim: Int
    /// Rows of the token embedding and of the LM head (0 until the caller fills it in).
    public var vocabSize: Int
    /// True when the LM head reuses the token embedding instead of its own `output` matrix.
    public var tiedEmbeddings: Bool
    /// The ε added to the mean square in every RMSNorm.
    public var normEps: Float
    /// The RoPE frequency base θ.
    public var ropeBase: Float

    /// Width of one attention head.
    public var headDim: Int { dim / heads }
    /// Width of all query heads together (heads · headDim).
    public var qDim: Int { heads * headDim }
    /// Width of all key (or value) heads together (kvHeads · headDim).
    public var kvDim: Int { kvHeads * headDim }

    /// A configuration from its fields; call `validate()` before building a model.
    public init(layers: Int, dim: Int, heads: Int, kvHeads: Int, ffnDim: Int, vocabSize: Int,
                tiedEmbeddings: Bool, normEps: Float = 1e-5, ropeBase: Float = 10000) {
        self.layers = layers; self.dim = dim; self.heads = heads; self.kvHeads = kvHeads
        self.ffnDim = ffnDim; self.vocabSize = vocabSize; self.tiedEmbeddings = tiedEmbeddings
        self.normEps = normEps; self.ropeBase = ropeBase
    }

    /// SmolLM2-135M (the default teacher): 30 layers, dim 576, 9 heads, 3 KV heads, FFN 1536, vocab 49,152, tied, RoPE base 100000.
    public static let smolLM2_135M = LlamaConfig(layers: 30, dim: 576, heads: 9, kvHeads: 3, ffnDim: 1536,
                                                 vocabSize: 49152, tiedEmbeddings: true, normEps: 1e-5, ropeBase: 100000)

    /// Throws `TransformerError.invalidConfig` naming the first inconsistency.
    public func validate() throws {
        func fail(_ why: String) throws -> Never { throw TransformerError.invalidConfig(why) }
        if layers < 1 { try fail("layers must be at least 1 (got \(layers))") }
        if dim < 1 { try fail("dim must be at least 1 (got \(dim))") }
        if heads < 1 || kvHeads < 1 { try fail("heads and kv_heads must be at least 1 (got \(heads), \(kvHeads))") }
        if dim % heads != 0 { try fail("dim \(dim) is not divisible by heads \(heads)") }
        if heads % kvHeads != 0 { try fail("heads \(heads) is not divisible by kv_heads \(kvHeads)") }
        if headDim % 2 != 0 { try fail("head dim \(headDim) must be even for RoPE") }
        if ffnDim < 1 { try fail("ffn_dim must be at least 1 (got \(ffnDim))") }
        if vocabSize < 1 { try fail("vocab_size must be at least 1 (got \(vocabSize))") }
        if !(normEps > 0) { try fail("norm_eps must be positive (got \(normEps))") }
        if !(ropeBase > 1) { try fail("rope_base must be greater than 1 (got \(ropeBase))") }
    }

    /// Floating-point operations of one forward pass per token, counting each multiply-add as 2,
    /// for the matrix products only (linears and LM head, plus attention at the given sequence length,
    /// with the causal half skipped).
    public func forwardFlopsPerToken(seqLen: Int, includeLMHead: Bool = true) -> Double {
        let linear = Double(dim * (qDim + 2 * kvDim) + qDim * dim + 3 * dim * ffnDim)
        let attention = Double(2 * heads * headDim) * Double(seqLen + 1) / 2
        let head = includeLMHead ? Double(dim * vocabSize) : 0
        return 2 * (Double(layers) * (linear + attention) + head)
    }

    enum CodingKeys: String, CodingKey {
        case layers, dim, heads
        case kvHeads = "kv_heads", ffnDim = "ffn_dim", vocabSize = "vocab_size"
        case tiedEmbeddings = "tied_embeddings", normEps = "norm_eps", ropeBase = "rope_base"
    }

    /// Decodes the snake_case JSON form; `kv_heads` defaults to `heads`, `tied_embeddings` to true.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        layers = try c.decode(Int.self, forKey: .layers)
        dim = try c.decode(Int.self, forKey: .dim)
        heads = try c.decode(Int.self, forKey: .heads)
        kvHeads = try c.decodeIfPresent(Int.self, forKey: .kvHeads) ?? heads
        ffnDim = try c.decode(Int.self, forKey: .ffnDim)
        vocabSize = try c.decodeIfPresent(Int.self, forKey: .vocabSize) ?? 0
        tiedEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tiedEmbeddings) ?? true
        normEps = try c.decodeIfPresent(Float.self, forKey: .normEps) ?? 1e-5
        ropeBase = try c.decodeIfPresent(Float.self, forKey: .ropeBase) ?? 10000
    }
}

/// Errors of the Transformer module.
public enum TransformerError: Error, CustomStringConvertible, Equatable {
    /// The configuration cannot describe a model (the reason is given).
    case invalidConfig(String)
    /// A token id is not below the vocabulary size.
    case tokenOutOfRange(token: UInt32, position: Int, vocabSize: Int)
    /// Buffers or inputs do not have the sizes the model needs.
    case shapeMismatch(String)

    /// A one-line message for the user.
    public var description: String {
        switch self {
        case .invalidConfig(let why): return "invalid model config: \(why)"
        case .tokenOutOfRange(let t, let p, let v): return "token id \(t) at position \(p) is outside the vocabulary of \(v)"
        case .shapeMismatch(let why): return "shape mismatch: \(why)"
        }
    }
}
