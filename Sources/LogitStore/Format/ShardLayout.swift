/// Fixed numbers of the shard format, version 2 (Spec/FORMAT.md is the normative text).
public enum ShardLayout {
    /// First 8 bytes of every shard: 0x89 'L' 'G' 'S' CR LF 0x1A LF.
    public static let headerMagic: [UInt8] = [0x89, 0x4C, 0x47, 0x53, 0x0D, 0x0A, 0x1A, 0x0A]
    /// Last 8 bytes of every shard: ASCII "LGSINDEX".
    public static let trailerMagic: [UInt8] = Array("LGSINDEX".utf8)
    public static let versionMajor: UInt16 = 2
    public static let versionMinor: UInt16 = 0
    public static let headerSize = 32
    public static let trailerSize = 32
    public static let indexHeaderSize = 64
    public static let idTableHeaderSize = 16
    public static let blockEntrySize = 48
    public static let sequenceEntrySize = 16
    public static let blockHeaderSize = 16
    public static let streamDescriptorSize = 16
    /// Stream descriptor flag bit 0: a reader that does not know the stream type must reject the block.
    public static let requiredFlag: UInt8 = 1
    /// Shard file name extension.
    public static let fileExtension = "lgs"
}

/// Stream type ids (Spec/FORMAT.md §"Stream types").
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

/// Little-endian append helpers.
extension Array where Element == UInt8 {
    @inline(__always) mutating func put<T: FixedWidthInteger>(_ v: T) {
        var le = v.littleEndian
        Swift.withUnsafeBytes(of: &le) { append(contentsOf: $0) }
    }
}

/// A bounds-checked little-endian cursor over a byte range (mmap'd or in memory).
struct ByteCursor {
    let base: UnsafeRawPointer
    let count: Int
    var offset: Int = 0

    init(_ base: UnsafeRawPointer, count: Int, offset: Int = 0) { self.base = base; self.count = count; self.offset = offset }

    var remaining: Int { count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, size <= count - offset else { return nil }
        let v = T(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += size
        return v
    }

    mutating func bytes(_ n: Int) -> [UInt8]? {
        guard n >= 0, n <= count - offset else { return nil }
        let out = Array(UnsafeRawBufferPointer(start: base + offset, count: n))
        offset += n
        return out
    }
}
