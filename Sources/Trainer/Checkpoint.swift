import Foundation
import Transformer

/// A run directory's checkpoint files:
/// - `model.safetensors` + `config.json`: the student in Hugging Face `LlamaForCausalLM` form
///   (HF tensor names, Q/K rows permuted to HF's rotate-half RoPE); `transformers` loads the directory.
/// - `student.json`: our config plus the vocabulary size.
/// - `state.safetensors`: the flat parameter buffer, AdamW moments and (in its metadata) the trainer state,
///   one atomically written file, so a resume never mixes two steps.
public enum Checkpoint {
    /// The Hugging Face weights file.
    public static let modelFile = "model.safetensors"
    /// The resumable state file.
    public static let stateFile = "state.safetensors"
    /// Our student config plus vocabulary.
    public static let studentFile = "student.json"
    /// The Hugging Face config.
    public static let hfConfigFile = "config.json"

    /// The saved student shape (our JSON keys plus `vocab_size`).
    public struct SavedStudent: Codable, Equatable {
        /// The shape.
        public var config: StudentConfig
        /// The vocabulary it was built for.
        public var vocabSize: Int
        enum CodingKeys: String, CodingKey { case config, vocabSize = "vocab_size" }
    }

    /// The transformer config of a student shape over `vocab` tokens.
    public static func llamaConfig(_ c: StudentConfig, vocab: Int) -> LlamaConfig {
        LlamaConfig(layers: c.layers, dim: c.dim, heads: c.heads, kvHeads: c.kvHeads, ffnDim: c.ffnDim,
                    vocabSize: vocab, tiedEmbeddings: c.tiedEmbeddings, normEps: c.normEps, ropeBase: c.ropeBase)
    }

    /// Writes the HF-form model, config.json and student.json.
    public static func writeModel(_ model: LlamaModel, student: StudentConfig, directory: String, maxPositions: Int) throws {
        let c = model.config
        var tensors: [Safetensors.Tensor] = []
        for slot in model.layout.slots {
            guard let name = HuggingFaceNames.hfName(slot.name) else {
                throw TrainerError.checkpoint(path: directory, reason: "no Hugging Face name for tensor \(slot.name)")
            }
            var data = Array(UnsafeBufferPointer(rebasing: model.parameters[slot.offset..<(slot.offset + slot.count)]))
            if HuggingFaceNames.isRotary(slot.name) { data = HuggingFaceNames.toRotateHalf(data, headDim: c.headDim, cols: c.dim) }
            tensors.append(.init(name: name, shape: slot.shape, data: data))
        }
        try Safetensors.write(path: directory + "/" + modelFile, tensors: tensors, metadata: ["format": "pt"])
        try AtomicFile.write(Data(HuggingFaceNames.configJSON(student, vocab: c.vocabSize, maxPositions: maxPositions).utf8),
                             to: directory + "/" + hfConfigFile)
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(SavedStudent(config: student, vocabSize: c.vocabSize)), to: directory + "/" + studentFile)
    }

    /// Loads a student written by `writeModel` (undoing the RoPE permutation).
    public static func loadModel(directory: String) throws -> (LlamaModel, StudentConfig) {
        let sPath = directory + "/" + studentFile
        guard let data = FileManager.default.contents(atPath: sPath) else {
            throw TrainerError.checkpoint(path: directory, reason: "no \(studentFile) (not a training run directory?)")
        }
        let saved: SavedStudent
        do { saved = try JSONDecoder().decode(SavedStudent.self, from: data) } catch {
            throw TrainerError.checkpoint(path: sPath, reason: "unreadable: \(error)")
        }
        try saved.config.validate()
        let model = try LlamaModel(config: llamaConfig(saved.config, vocab: saved.vocabSize))
        let (tensors, _) = try Safetensors.read(path: directory + "/" + modelFile)
        let c = model.config
        for slot in model.layout.slots {
            let name = HuggingFaceNames.hfName(slot.name)!
            guard let t = tensors[name], t.shape == slot.shape else {
                throw TrainerError.checkpoint(path: directory + "/" + modelFile, reason: "tensor \(name) missing or not of shape \(slot.shape)")
            }
            var d = t.data
            if HuggingFaceNames.isRotary(slot.name) { d = HuggingFaceNames.fromRotateHalf(d, headDim: c.headDim, cols: c.dim) }
            d.withUnsafeBufferPointer { model.parameters.baseAddress!.advanced(by: slot.offset).update(from: $0.baseAddress!, count: slot.count) }
        }
        return (model, saved.config)
    }
}

/// Resumable trainer state (stored as JSON in the metadata of `state.safetensors`).
public struct TrainerState: Codable, Equatable {
    /// Steps done.
    public var step: Int
    /// Training positions consumed.
    public var tokens: Int
    /// Steps in the whole run.
    public var totalSteps: Int
    /// Where the training data order was.
    public var source: WindowSourceState
    /// AdamW's update count (bias correction).
    public var adamSteps: Int
    /// The run's options (a resume must pass equal ones).
    public var options: TrainingOptions
    /// The student's shape.
    public var student: StudentConfig
    /// The vocabulary (from the training store).
    public var vocabSize: Int
    /// The training store's sequence count.
    public var storeSequences: Int
}

extension Checkpoint {
    /// Writes parameters, AdamW moments and `state` into one atomically replaced `state.safetensors`.
    public static func writeState(_ state: TrainerState, model: LlamaModel, optimizer: AdamW, directory: String) throws {
        let json = String(decoding: try JSONEncoder().encode(state), as: UTF8.self)
        let n = model.layout.count
        try Safetensors.write(path: directory + "/" + stateFile, tensors: [
            .init(name: "parameters", shape: [n], data: Array(model.parameters)),
            .init(name: "adam_m", shape: [n], data: Array(optimizer.m)),
            .init(name: "adam_v", shape: [n], data: Array(optimizer.v)),
        ], metadata: ["trainer_state": json])
    }

    /// Reads the state and copies parameters and moments into `model` / `optimizer` (which must match).
    public static func readState(directory: String) throws -> (TrainerState, [String: Safetensors.Tensor]) {
        let path = directory + "/" + stateFile
        let (t, meta) = try Safetensors.read(path: path)
        guard let s = meta["trainer_state"], let state = try? JSONDecoder().decode(TrainerState.self, from: Data(s.utf8)) else {
            throw TrainerError.checkpoint(path: path, reason: "no readable trainer_state metadata")
        }
        return (state, t)
    }
}
