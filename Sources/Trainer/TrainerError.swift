/// Everything the trainer refuses, with a one-line message.
public enum TrainerError: Error, CustomStringConvertible, Equatable {
    /// A student config that the layers cannot run.
    case invalidConfig(String)
    /// A training option out of range or inconsistent.
    case invalidOption(String)
    /// A store (or its split) that does not fit the run.
    case storeMismatch(String)
    /// A run directory or checkpoint that cannot be used.
    case checkpoint(path: String, reason: String)
    /// The loss became NaN or infinite.
    case nonFiniteLoss(step: Int)
    /// A file that cannot be read or written.
    case io(path: String, reason: String)

    /// The one-line message.
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
