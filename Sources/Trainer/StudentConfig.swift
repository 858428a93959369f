import Foundation
import Transformer

/// The student's shape as a user writes it in `student.json`:
/// `{"layers": 4, "dim": 128, "heads": 4, "kv_heads": 2, "ffn_dim": 384, "tied_embeddings": true}`.
/// The vocabulary is not part of it: it comes from the store the student trains on.
public struct StudentConfig: Codable, Equatable, Sendable {
    /// Transformer blocks.
    public var layers: Int
    /// Model width.
    public var dim: Int
    /// Attention heads.
    public var heads: Int
    /// Key/value heads (grouped-query attention).
    public var kvHeads: Int
    /// SwiGLU hidden width.
    public var ffnDim: Int
    /// The LM head shares the token embedding.
    public var tiedEmbeddings: Bool
    /// RMSNorm epsilon (optional in the file; 1e-5).
    public var normEps: Float
    /// RoPE base (optional in the file; 10000).
    public var ropeBase: Float
    /// The `vocab_size` the file declared, if any. Not part of the shape (nor of equality or the saved form):
    /// the vocabulary comes from the store, and a run refuses a config whose declared size differs from it.
    public var declaredVocabSize: Int?

    enum CodingKeys: String, CodingKey {
        case layers, dim, heads
        case kvHeads = "kv_heads"
        case ffnDim = "ffn_dim"
        case tiedEmbeddings = "tied_embeddings"
        case normEps = "norm_eps"
        case ropeBase = "rope_base"
    }

    /// A shape (not validated: call `validate()`).
    public init(layers: Int, dim: Int, heads: Int, kvHeads: Int, ffnDim: Int, tiedEmbeddings: Bool,
                normEps: Float = 1e-5, ropeBase: Float = 10000) {
        self.layers = layers; self.dim = dim; self.heads = heads; self.kvHeads = kvHeads
        self.ffnDim = ffnDim; self.tiedEmbeddings = tiedEmbeddings; self.normEps = normEps; self.ropeBase = ropeBase
    }

    /// Same keys and defaults as the transformer's `LlamaConfig` (whose decoder this reuses); a `vocab_size`, if
    /// present, is kept in `declaredVocabSize` to be checked against the store.
    public init(from decoder: Decoder) throws {
        let l = try LlamaConfig(from: decoder)
        self.init(layers: l.layers, dim: l.dim, heads: l.heads, kvHeads: l.kvHeads, ffnDim: l.ffnDim,
                  tiedEmbeddings: l.tiedEmbeddings, normEps: l.normEps, ropeBase: l.ropeBase)
        declaredVocabSize = l.vocabSize > 0 ? l.vocabSize : nil
    }

    /// Equal shapes (`declaredVocabSize` is not compared).
    public static func == (a: StudentConfig, b: StudentConfig) -> Bool {
        a.layers == b.layers && a.dim == b.dim && a.heads == b.heads && a.kvHeads == b.kvHeads && a.ffnDim == b.ffnDim
            && a.tiedEmbeddings == b.tiedEmbeddings && a.normEps == b.normEps && a.ropeBase == b.ropeBase
    }

    /// Checks the shape is one the layers can run.
    public func validate() throws {
        func bad(_ s: String) -> TrainerError { .invalidConfig(s) }
        guard layers >= 1 else { throw bad("layers must be at least 1 (got \(layers))") }
        guard dim >= 2, heads >= 1, dim % heads == 0 else { throw bad("dim (\(dim)) must be a positive multiple of heads (\(heads))") }
        guard (dim / heads) % 2 == 0 else { throw bad("head dimension dim/heads = \(dim / heads) must be even for RoPE") }
        guard kvHeads >= 1, heads % kvHeads == 0 else { throw bad("heads (\(heads)) must be a multiple of kv_heads (\(kvHeads))") }
        guard ffnDim >= 1 else { throw bad("ffn_dim must be positive (got \(ffnDim))") }
        guard normEps > 0, ropeBase > 1 else { throw bad("norm_eps must be > 0 and rope_base > 1") }
    }

    /// Reads and validates a config file.
    public static func load(path: String) throws -> StudentConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainerError.io(path: path, reason: "cannot read the student config (missing or unreadable)")
        }
        let config: StudentConfig
        do { config = try JSONDecoder().decode(StudentConfig.self, from: data) } catch {
            throw TrainerError.invalidConfig("\(path) is not a valid student config JSON (needs layers, dim, heads, kv_heads, ffn_dim, tied_embeddings): \(error)")
        }
        try config.validate()
        return config
    }

    /// Weights in the model for a vocabulary of `vocab` tokens.
    public func parameterCount(vocab: Int) -> Int {
        let hd = dim / heads
        let perLayer = 2 * dim + dim * heads * hd + 2 * dim * kvHeads * hd + heads * hd * dim + 3 * dim * ffnDim
        return vocab * dim * (tiedEmbeddings ? 1 : 2) + layers * perLayer + dim
    }
}
