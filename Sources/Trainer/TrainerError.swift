/// Everything the trainer refuses, with a one-line message.
public enum TrainerError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case invalidOption(String)
    case storeMismatch(String)
    case checkpoint(path: String, reason: String)
    case nonFiniteLoss(step: Int)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalidConfig(let s): return "invalid student config: \(s)"
        case .invalidOption(let s): return "invalid training option: \(s)"
        case .storeMismatch(let s): return "store does not fit this run: \(s)"
        case .checkpoint(let path, let reason): return "checkpoint \(path): \(reason)"
        case .nonFiniteLoss(let step): return "loss became NaN or infinite at step \(step); stopping (the last checkpoint is intact)"
        case .io(let path, let reason): return "\(path): \(reason)"
        }
    }
}
