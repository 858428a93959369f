/// One fixed-size table of Spec/FORMAT.md §4: parsed from a bounds-checked `ByteReader` (throwing `FormatError`,
/// never reading out of bounds) and serialised to exactly `size` bytes. Parsing checks what the table alone
/// determines (magic numbers, reserved fields); rules that relate tables to each other stay with their callers.
public protocol FormatTable: Equatable, Sendable {
    /// The table's name in errors, e.g. "shard header".
    static var tableName: String { get }
    /// Serialised size in bytes.
    static var size: Int { get }
    /// Parses the table at the reader's offset and advances past it.
    init(parsing reader: inout ByteReader) throws(FormatError)
    /// Appends exactly `size` bytes.
    func serialize(into out: inout [UInt8])
}

extension FormatTable {
    /// The serialised bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.size)
        serialize(into: &out)
        return out
    }

    /// Parses the table from the start of `bytes`.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(FormatError) -> Self {
        var r = ByteReader(bytes)
        return try Self(parsing: &r)
    }
}
