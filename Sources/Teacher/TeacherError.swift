/// Errors of the Teacher module: one clear line each, naming the file or item that failed.
public enum TeacherError: Error, CustomStringConvertible, Equatable {
    /// A file cannot be opened or read.
    case cannotOpen(path: String, reason: String)
    /// The file does not start with the GGUF magic.
    case notGGUF(path: String)
    /// The GGUF version is not 2 or 3.
    case unsupportedGGUFVersion(path: String, version: UInt32)
    /// The file ends inside a header, metadata value, tensor info or tensor.
    case truncatedGGUF(path: String, what: String)
    /// A GGUF field holds an impossible value.
    case malformedGGUF(path: String, what: String)
    /// A metadata key the teacher needs is absent.
    case missingMetadata(key: String)
    /// A metadata key holds a value of another type.
    case wrongMetadataType(key: String, expected: String)
    /// `general.architecture` is not one this loader runs (Llama).
    case unsupportedArchitecture(String)
    /// A tensor's GGML type cannot be dequantised here.
    case unsupportedTensorType(tensor: String, type: UInt32)
    /// A tensor the architecture needs is absent.
    case missingTensor(String)
    /// A tensor's shape differs from the one the metadata implies.
    case tensorShapeMismatch(tensor: String, expected: [Int], found: [Int])
    /// The tokenizer metadata is unusable, or a text cannot be tokenised.
    case tokenizer(String)
    /// An input file is unreadable or malformed.
    case input(path: String, reason: String)
    /// A dump cannot run as asked: its outputs, its options, or a store that does not match the input it resumes.
    case config(String)
    /// A dump option out of range (named by its `DumpOptions` field): a usage error, not a runtime failure.
    case invalidOption(String)

    /// The one-line message for the user.
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
