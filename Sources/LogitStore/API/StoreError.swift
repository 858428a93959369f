/// Every failure the storage engine reports. Each case prints as one line that names the file,
/// shard, block or input row concerned and what was wrong.
public enum StoreError: Error, CustomStringConvertible, Equatable {
    /// Caller input was rejected before anything from it was committed (wrong width, NaN, bad ids, ...).
    case invalidInput(String)
    /// Options or a store that do not fit together (vocabulary, tokenizer or truncation policy differ).
    case incompatible(String)
    /// A path is missing or is not what it should be.
    case notFound(String)
    /// A system call failed (open, write, fsync, rename, mmap, ...), with errno's text; e.g. a full disk.
    case io(path: String, operation: String, message: String)
    /// A shard or the manifest does not follow the format: bad magic, reserved bits set, offsets out of bounds.
    case corrupt(file: String, block: Int?, detail: String)
    /// A checksum did not match: the data is damaged and is not returned.
    case checksumMismatch(file: String, block: Int?, what: String)
    /// Compression or decompression failed inside zstd or lz4.
    case codec(file: String, block: Int?, detail: String)
    /// An index (position, sequence, block) outside the store.
    case outOfRange(String)
    /// The writer was used after `finish()` or after a failed commit.
    case writerClosed

    /// One line of at most `ErrorText.lineLimit` characters (long values elided).
    public var description: String { ErrorText.bounded(unboundedDescription) }

    private var unboundedDescription: String {
        switch self {
        case .invalidInput(let s): return "invalid input: \(s)"
        case .incompatible(let s): return "incompatible: \(s)"
        case .notFound(let s): return "not found: \(s)"
        case .io(let path, let op, let msg): return "I/O error: \(op) \(path): \(msg)"
        case .corrupt(let file, let block, let detail):
            return "corrupt store: \(file)\(block.map { " block \($0)" } ?? ""): \(detail)"
        case .checksumMismatch(let file, let block, let what):
            return "checksum mismatch: \(file)\(block.map { " block \($0)" } ?? ""): \(what) (XXH3-64 differs; data is damaged)"
        case .codec(let file, let block, let detail):
            return "decompression failed: \(file)\(block.map { " block \($0)" } ?? ""): \(detail)"
        case .outOfRange(let s): return "out of range: \(s)"
        case .writerClosed: return "writer is closed (finish() was called or a commit failed)"
        }
    }
}
