/// Tensor names and layouts for Hugging Face `LlamaForCausalLM` checkpoints.
///
/// Internally (like GGUF/llama.cpp) RoPE rotates adjacent pairs (2i, 2i+1) of each head; Hugging Face
/// rotates halves (i, i + hd/2). The two are the same model once the rows of Q and K are permuted within
/// each head: our row 2i+j (j ∈ {0,1}) is HF row j·hd/2 + i. The export applies that permutation,
/// the import undoes it.
public enum HuggingFaceNames {
    /// HF name for a GGUF-style tensor name, or nil if unknown.
    public static func hfName(_ gguf: String) -> String? {
        switch gguf {
        case "token_embd": return "model.embed_tokens.weight"
        case "output_norm": return "model.norm.weight"
        case "output": return "lm_head.weight"
        default: break
        }
        let parts = gguf.split(separator: ".")
        guard parts.count == 3, parts[0] == "blk", let i = Int(parts[1]) else { return nil }
        let p = "model.layers.\(i)."
        switch parts[2] {
        case "attn_norm": return p + "input_layernorm.weight"
        case "attn_q": return p + "self_attn.q_proj.weight"
        case "attn_k": return p + "self_attn.k_proj.weight"
        case "attn_v": return p + "self_attn.v_proj.weight"
        case "attn_output": return p + "self_attn.o_proj.weight"
        case "ffn_norm": return p + "post_attention_layernorm.weight"
        case "ffn_gate": return p + "mlp.gate_proj.weight"
        case "ffn_up": return p + "mlp.up_proj.weight"
        case "ffn_down": return p + "mlp.down_proj.weight"
        default: return nil
        }
    }

    /// Whether the tensor's rows need the RoPE permutation (Q and K projections).
    public static func isRotary(_ gguf: String) -> Bool { gguf.hasSuffix(".attn_q") || gguf.hasSuffix(".attn_k") }

    /// Adjacent-pair rows → rotate-half rows, for a [heads·headDim, cols] matrix.
    public static func toRotateHalf(_ w: [Float], headDim: Int, cols: Int) -> [Float] {
        permuteRows(w, headDim: headDim, cols: cols, forward: true)
    }

    /// Rotate-half rows → adjacent-pair rows (the inverse of `toRotateHalf`).
    public static func fromRotateHalf(_ w: [Float], headDim: Int, cols: Int) -> [Float] {
        permuteRows(w, headDim: headDim, cols: cols, forward: false)
    }

    static func permuteRows(_ w: [Float], headDim hd: Int, cols: Int, forward: Bool) -> [Float] {
        precondition(hd % 2 == 0 && w.count % (hd * cols) == 0)
        var out = [Float](repeating: 0, count: w.count)
        let heads = w.count / (hd * cols)
        for h in 0..<heads {
            for i in 0..<(hd / 2) {
                for j in 0..<2 {
                    let ours = h * hd + 2 * i + j, theirs = h * hd + j * (hd / 2) + i
                    let (src, dst) = forward ? (ours, theirs) : (theirs, ours)
                    for c in 0..<cols { out[dst * cols + c] = w[src * cols + c] }
                }
            }
        }
        return out
    }

    /// `config.json` for `LlamaForCausalLM` with this student's shape.
    public static func configJSON(_ c: StudentConfig, vocab: Int, maxPositions: Int) -> String {
        """
        {
          "architectures": ["LlamaForCausalLM"],
          "model_type": "llama",
          "hidden_size": \(c.dim),
          "intermediate_size": \(c.ffnDim),
          "num_hidden_layers": \(c.layers),
          "num_attention_heads": \(c.heads),
          "num_key_value_heads": \(c.kvHeads),
          "head_dim": \(c.dim / c.heads),
          "hidden_act": "silu",
          "rms_norm_eps": \(c.normEps),
          "rope_theta": \(c.ropeBase),
          "max_position_embeddings": \(maxPositions),
          "vocab_size": \(vocab),
          "tie_word_embeddings": \(c.tiedEmbeddings),
          "attention_bias": false,
          "mlp_bias": false,
          "torch_dtype": "float32"
        }

        """
    }
}
