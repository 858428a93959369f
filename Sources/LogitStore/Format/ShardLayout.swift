/// Fixed numbers of the shard format, version 2 (Spec/FORMAT.md is the normative text).
public enum ShardLayout {
    /// First 8 bytes of every shard: 0x89 'L' 'G' 'S' CR LF 0x1A LF.
    public static let headerMagic: [UInt8] = ShardHeader.magic
    /// Last 8 bytes of every shard: ASCII "LGSINDEX".
    public static let trailerMagic: [UInt8] = ShardTrailer.magic
    /// The shard header's major version this implementation reads and writes.
    public static let versionMajor: UInt16 = 2
    /// The minor version it writes (readers accept any minor version).
    public static let versionMinor: UInt16 = 0
    /// Bytes of the shard header.
    public static let headerSize = ShardHeader.size
    /// Bytes of the shard trailer.
    public static let trailerSize = ShardTrailer.size
    /// Bytes of the footer index header.
    public static let indexHeaderSize = IndexHeader.size
    /// Bytes of the id table header.
    public static let idTableHeaderSize = IdTableHeader.size
    /// Bytes of one block entry of the footer index.
    public static let blockEntrySize = BlockEntry.size
    /// Bytes of one sequence entry of the footer index.
    public static let sequenceEntrySize = SequenceEntry.size
    /// Bytes of a block header.
    public static let blockHeaderSize = BlockHeader.size
    /// Bytes of one stream descriptor of a block's stream table.
    public static let streamDescriptorSize = StreamDescriptor.size
    /// Stream descriptor flag bit 0: a reader that does not know the stream type must reject the block.
    public static let requiredFlag: UInt8 = 1
    /// The largest raw size of a block (Σ of its streams' raw sizes) and of an id table: 2^27 bytes (Spec §4.3.1).
    /// Readers refuse larger ones before allocating, so a hostile index cannot make them allocate more.
    public static let maximumRawBytes = 1 << 27
    /// Shard file name extension.
    public static let fileExtension = "lgs"
}

/// Stream type ids (Spec/FORMAT.md §4.5, registry §11).
public enum StreamType: UInt16, Sendable, CaseIterable, CustomStringConvertible {
    /// Input token id per position (u32).
    case tokens = 1
    /// Number of kept entries per position (u32).
    case counts = 2
    /// Kept token ids per entry (u32), descending probability within a position.
    case ids = 3
    /// Kept probabilities per entry (float16 bit patterns, u16), non-increasing within a position.
    case probs = 4
    /// Optional: teacher log-probability of the actual next token, per position (float32 bit patterns, u32).
    case targetLogprobs = 5

    /// The stream's name as written in reports, e.g. "target_logprobs".
    public var description: String {
        switch self {
        case .tokens: return "tokens"
        case .counts: return "counts"
        case .ids: return "ids"
        case .probs: return "probs"
        case .targetLogprobs: return "target_logprobs"
        }
    }

    /// True for streams with one element per position; false for one per kept entry.
    var perPosition: Bool { self != .ids && self != .probs }
    /// True for the four streams every block must have.
    var required: Bool { self != .targetLogprobs }
}

