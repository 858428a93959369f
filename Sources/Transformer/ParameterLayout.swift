/// One named tensor inside the single parameter (or gradient) buffer.
public struct TensorSlot: Equatable, Sendable {
    /// GGUF tensor name, e.g. `blk.3.attn_q`.
    public let name: String
    /// Offset in floats from the start of the buffer.
    public let offset: Int
    /// Row-major shape, outermost first (a linear weight is [out, in]).
    public let shape: [Int]
    /// Number of floats.
    public var count: Int { shape.reduce(1, *) }
}

/// Where every tensor of a `LlamaConfig` lives in the one parameter buffer.
///
/// Order: `token_embd`; per layer `attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate,
/// ffn_up, ffn_down`; `output_norm`; `output` (untied only). `attn_q|k|v` are adjacent, so together they
/// form one [(heads+2·kvHeads)·hd, dim] matrix; `ffn_gate|up` likewise form one [2·ffn, dim] matrix.
/// The model relies on that adjacency to do one matrix product per group.
public struct ParameterLayout: Sendable {
    /// Every tensor, in buffer order.
    public let slots: [TensorSlot]
    /// Total number of floats.
    public let count: Int
    private let index: [String: Int]

    /// Lays out the tensors of `c` in the order above.
    public init(config c: LlamaConfig) {
        var slots: [TensorSlot] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) {
            slots.append(TensorSlot(name: name, offset: offset, shape: shape))
            offset += shape.reduce(1, *)
        }
        add("token_embd", [c.vocabSize, c.dim])
        for i in 0..<c.layers {
            add("blk.\(i).attn_norm", [c.dim])
            add("blk.\(i).attn_q", [c.qDim, c.dim])
            add("blk.\(i).attn_k", [c.kvDim, c.dim])
            add("blk.\(i).attn_v", [c.kvDim, c.dim])
            add("blk.\(i).attn_output", [c.dim, c.qDim])
            add("blk.\(i).ffn_norm", [c.dim])
            add("blk.\(i).ffn_gate", [c.ffnDim, c.dim])
            add("blk.\(i).ffn_up", [c.ffnDim, c.dim])
            add("blk.\(i).ffn_down", [c.dim, c.ffnDim])
        }
        add("output_norm", [c.dim])
        if !c.tiedEmbeddings { add("output", [c.vocabSize, c.dim]) }
        self.slots = slots
        self.count = offset
        var index: [String: Int] = [:]
        for (i, s) in slots.enumerated() { index[s.name] = i }
        self.index = index
    }

    /// The tensor named `name` (GGUF naming), or nil when the layout has none.
    public subscript(name: String) -> TensorSlot? {
        index[name].map { slots[$0] }
    }

    /// Offsets of one layer's tensors (no string look-ups on the hot path).
    struct LayerOffsets {
        var attnNorm, wqkv, wo, ffnNorm, wgu, wdown: Int
    }

    func layerOffsets(_ i: Int) -> LayerOffsets {
        LayerOffsets(attnNorm: self["blk.\(i).attn_norm"]!.offset, wqkv: self["blk.\(i).attn_q"]!.offset,
                     wo: self["blk.\(i).attn_output"]!.offset, ffnNorm: self["blk.\(i).ffn_norm"]!.offset,
                     wgu: self["blk.\(i).ffn_gate"]!.offset, wdown: self["blk.\(i).ffn_down"]!.offset)
    }
}
