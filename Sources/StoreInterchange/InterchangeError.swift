/// Why an import or export between `.npy` files and a store failed. One line each.
public enum InterchangeError: Error, CustomStringConvertible, Equatable {
    /// A required input or option is missing.
    case missingInput(String)
    /// The input files disagree with each other or with the options (sums, lengths, values).
    case inconsistent(String)
    /// The import stopped at a sequence; what was committed before it stays in the store.
    case stopped(sequence: Int, committedSequences: Int, store: String, reason: String)
    /// An output file exists and overwriting was not asked for.
    case outputExists(String)

    public var description: String {
        switch self {
        case let .missingInput(s): return s
        case let .inconsistent(s): return s
        case let .stopped(sequence, committed, store, reason):
            return "import stopped at sequence \(sequence): \(reason) (\(committed) earlier sequences are committed in \(store); fix the input and re-run the same command to resume)"
        case let .outputExists(path): return "\(path) already exists (pass --overwrite to replace it)"
        }
    }
}
