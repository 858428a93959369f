/// Errors of the Teacher module: one clear line each, naming the file or item that failed.
public enum TeacherError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case notGGUF(path: String)
    case unsupportedGGUFVersion(path: String, version: UInt32)
    case truncatedGGUF(path: String, what: String)
    case malformedGGUF(path: String, what: String)
    case missingMetadata(key: String)
    case wrongMetadataType(key: String, expected: String)
    case unsupportedArchitecture(String)
    case unsupportedTensorType(tensor: String, type: UInt32)
    case missingTensor(String)
    case tensorShapeMismatch(tensor: String, expected: [Int], found: [Int])
    case tokenizer(String)
    case input(path: String, reason: String)
    case config(String)
    /// A dump option out of range (named by its `DumpOptions` field): a usage error, not a runtime failure.
    case invalidOption(String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open \(path): \(reason)"
        case let .notGGUF(path): return "\(path) is not a GGUF file (bad magic)"
        case let .unsupportedGGUFVersion(path, v): return "\(path): unsupported GGUF version \(v) (supported: 2, 3)"
        case let .truncatedGGUF(path, what): return "\(path): GGUF file is truncated (while reading \(what))"
        case let .malformedGGUF(path, what): return "\(path): malformed GGUF: \(what)"
        case let .missingMetadata(key): return "GGUF metadata key '\(key)' is missing"
        case let .wrongMetadataType(key, expected): return "GGUF metadata key '\(key)' is not \(expected)"
        case let .unsupportedArchitecture(a): return "unsupported model architecture '\(a)' (supported: llama)"
        case let .unsupportedTensorType(t, type): return "tensor '\(t)' has unsupported GGML type \(GGMLType.name(of: type)) (supported: F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q4_K Q6_K)"
        case let .missingTensor(t): return "tensor '\(t)' is missing from the model"
        case let .tensorShapeMismatch(t, e, f): return "tensor '\(t)' has shape \(f), expected \(e)"
        case let .tokenizer(m): return "tokenizer: \(m)"
        case let .input(path, reason): return "\(path): \(reason)"
        case let .config(m): return m
        case let .invalidOption(m): return "invalid dump option: \(m)"
        }
    }
}
