import CXXHash
import Foundation
import Transformer

/// A Llama-architecture teacher loaded from GGUF: the fp32 `LlamaModel` (weights dequantised once at load),
/// its tokenizer, and its identity (hashes) for the store's manifest.
public final class TeacherModel {
    /// The teacher network, weights dequantised to fp32.
    public let model: LlamaModel
    /// The tokenizer built from the file's metadata.
    public let tokenizer: BPETokenizer
    /// The shape read from the file's `llama.*` metadata.
    public let config: LlamaConfig
    /// `general.name` from the file, else the file name.
    public let name: String
    /// "xxh3:<16 hex>": XXH3-64 (seed 0) of the whole GGUF file.
    public let weightsHash: String
    /// The GGUF file this teacher was loaded from.
    public let path: String

    /// Loads `path`. Throws `TeacherError` for an unsupported architecture, a missing tensor, a tensor of the
    /// wrong shape or of an unsupported type.
    public init(path: String) throws {
        let gguf = try GGUFFile(path: path)
        let arch = try gguf.string("general.architecture")
        guard arch == "llama" else { throw TeacherError.unsupportedArchitecture(arch) }
        let tokenizer = try BPETokenizer(gguf: gguf)
        let layers = try gguf.int("llama.block_count")
        let dim = try gguf.int("llama.embedding_length")
        let heads = try gguf.int("llama.attention.head_count")
        let kvHeads = (try? gguf.int("llama.attention.head_count_kv")) ?? heads
        let ffn = try gguf.int("llama.feed_forward_length")
        let eps = (try? gguf.double("llama.attention.layer_norm_rms_epsilon")) ?? 1e-5
        let ropeBase = (try? gguf.double("llama.rope.freq_base")) ?? 10000
        guard let embd = gguf.tensor("token_embd.weight") else { throw TeacherError.missingTensor("token_embd.weight") }
        let vocab = embd.rowMajorShape[0]
        if let v = try? gguf.int("llama.vocab_size"), v != vocab {
            throw TeacherError.tensorShapeMismatch(tensor: "token_embd.weight", expected: [v, dim], found: embd.rowMajorShape)
        }
        guard tokenizer.vocabularySize <= vocab else {
            throw TeacherError.tokenizer("the tokenizer has \(tokenizer.vocabularySize) tokens but the model only \(vocab) rows")
        }
        if let rotDim = try? gguf.int("llama.rope.dimension_count"), rotDim != dim / max(heads, 1) {
            throw TeacherError.config("partial rotary embeddings (llama.rope.dimension_count \(rotDim) ≠ head dim \(dim / max(heads, 1))) are not supported")
        }
        let config = LlamaConfig(layers: layers, dim: dim, heads: heads, kvHeads: kvHeads, ffnDim: ffn, vocabSize: vocab,
                                 tiedEmbeddings: gguf.tensor("output.weight") == nil, normEps: Float(eps), ropeBase: Float(ropeBase))
        do { try config.validate() } catch { throw TeacherError.config("\(path): \(error)") }
        let model = try LlamaModel(config: config)
        // Dequantise every tensor of the layout into its slot, in parallel over tensors (memory-bound, cheap).
        let slots = model.layout.slots
        for slot in slots {
            guard let info = gguf.tensor(slot.name + ".weight") else { throw TeacherError.missingTensor(slot.name + ".weight") }
            guard info.rowMajorShape == slot.shape else {
                throw TeacherError.tensorShapeMismatch(tensor: info.name, expected: slot.shape, found: info.rowMajorShape)
            }
            guard info.type != nil else { throw TeacherError.unsupportedTensorType(tensor: info.name, type: info.rawType) }
        }
        let params = model.parameters
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: slots.count) { i in
            let slot = slots[i]
            do {
                try gguf.dequantise(slot.name + ".weight", into: UnsafeMutableBufferPointer(rebasing: params[slot.offset..<(slot.offset + slot.count)]))
            } catch { errors.set(error) }
        }
        if let e = errors.error { throw e }
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.path = path
        self.name = (try? gguf.string("general.name")) ?? URL(fileURLWithPath: path).lastPathComponent
        self.weightsHash = "xxh3:" + gguf.contentHash()
    }

    /// The store identity of this teacher: name, weights hash and tokenizer hash.
    public var identityName: String { URL(fileURLWithPath: path).lastPathComponent }

    /// Final-normed hidden states [batch·seqLen, dim] of `batch` sequences (valid until the next call).
    public func hidden(tokens: [UInt32], batch: Int, seqLen: Int) throws -> UnsafeBufferPointer<Float> {
        try tokens.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: batch, seqLen: seqLen, training: false) }
    }

    /// Logits [rows, vocab] of `rows` hidden states into `out` (one sgemm).
    public func logits(hidden: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
        LMHead.logits(hidden: hidden, rows: rows, dim: config.dim, weight: model.outputWeight.baseAddress!, vocab: config.vocabSize, into: out)
    }

    /// The next-token probability distribution after `tokens` (softmax of the last position's logits, in Double).
    public func nextTokenDistribution(after tokens: [UInt32]) throws -> [Double] {
        let h = try hidden(tokens: tokens, batch: 1, seqLen: tokens.count)
        var l = [Float](repeating: 0, count: config.vocabSize)
        l.withUnsafeMutableBufferPointer { logits(hidden: h.baseAddress! + (tokens.count - 1) * config.dim, rows: 1, into: $0.baseAddress!) }
        let m = Double(l.max()!)
        var p = l.map { Foundation.exp(Double($0) - m) }
        let z = p.reduce(0, +)
        for i in p.indices { p[i] /= z }
        return p
    }
}

final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var error: Error?
    func set(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
}

extension GGUFFile {
    /// XXH3-64 (seed 0) of the whole file, as 16 hex digits.
    public func contentHash() -> String {
        String(XXH3_64bits(mappedBase, mappedLength), radix: 16).leftPadded(to: 16)
    }
}
