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
    /// A resumed import's input differs from what the same writer id already committed in the store.
    case resumeMismatch(store: String, sequence: Int, field: String)

    /// The one-line message for the user.
    public var description: String {
        switch self {
        case let .missingInput(s): return s
        case let .inconsistent(s): return s
        case let .stopped(sequence, committed, store, reason):
            return "import stopped at sequence \(sequence): \(reason) (\(committed) earlier sequences are committed in \(store); re-run the same command to resume once the cause is fixed)"
        case let .outputExists(path): return "\(path) already exists (overwriting was not requested)"
        case let .resumeMismatch(store, sequence, field):
            return "cannot resume the import into \(store): its committed sequence \(sequence) differs from the input (\(field)); nothing was written (use a new store directory or another writer id)"
        }
    }
}
