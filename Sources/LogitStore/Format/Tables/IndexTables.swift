/// The fixed first 64 bytes of the footer index (Spec/FORMAT.md §4.3).
public struct IndexHeader: FormatTable {
    /// The table's name in errors.
    public static let tableName = "index header"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 64

    /// Block count B.
    public var blockCount: UInt64
    /// Sequence count S.
    public var sequenceCount: UInt64
    /// Position count P.
    public var positionCount: UInt64
    /// Entry count E.
    public var entryCount: UInt64
    /// Offset of the id table section (0 when none).
    public var idTableOffset: UInt64
    /// Length T of the id table section (0 when none).
    public var idTableLength: UInt64
    /// XXH3-64 of the T id table bytes (0 when none).
    public var idTableChecksum: UInt64

    /// A table with the given fields.
    public init(blockCount: UInt64, sequenceCount: UInt64, positionCount: UInt64, entryCount: UInt64,
                idTableOffset: UInt64, idTableLength: UInt64, idTableChecksum: UInt64) {
        self.blockCount = blockCount; self.sequenceCount = sequenceCount; self.positionCount = positionCount
        self.entryCount = entryCount; self.idTableOffset = idTableOffset; self.idTableLength = idTableLength
        self.idTableChecksum = idTableChecksum
    }

    /// Checks the reserved field.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        blockCount = try r.read(UInt64.self, in: Self.tableName)
        sequenceCount = try r.read(UInt64.self, in: Self.tableName)
        positionCount = try r.read(UInt64.self, in: Self.tableName)
        entryCount = try r.read(UInt64.self, in: Self.tableName)
        idTableOffset = try r.read(UInt64.self, in: Self.tableName)
        idTableLength = try r.read(UInt64.self, in: Self.tableName)
        idTableChecksum = try r.read(UInt64.self, in: Self.tableName)
        guard try r.read(UInt64.self, in: Self.tableName) == 0 else { throw .reservedNotZero(table: Self.tableName, field: "field at offset 56") }
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) {
        for v in [blockCount, sequenceCount, positionCount, entryCount, idTableOffset, idTableLength, idTableChecksum, 0] { out.put(v) }
    }

    /// L = 64 + 48·B + 16·S, or nil when it overflows.
    public var expectedIndexLength: UInt64? {
        let (b, o1) = blockCount.multipliedReportingOverflow(by: UInt64(BlockEntry.size))
        let (s, o2) = sequenceCount.multipliedReportingOverflow(by: UInt64(SequenceEntry.size))
        let (bs, o3) = b.addingReportingOverflow(s)
        let (l, o4) = bs.addingReportingOverflow(UInt64(Self.size))
        return o1 || o2 || o3 || o4 ? nil : l
    }
}

/// One block's footer-index entry (§4.3.1).
public struct BlockEntry: FormatTable {
    /// The table's name in errors.
    public static let tableName = "block entry"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 48

    /// Offset of the block's first byte in the shard file.
    public var offset: UInt64
    /// Shard-local index of the block's first position.
    public var firstPosition: UInt64
    /// Shard-local index of the block's first kept entry.
    public var firstEntry: UInt64
    /// Bytes the block occupies in the file (header, stream table and payloads).
    public var storedBytes: UInt32
    /// Sum of the streams' raw (filtered, uncompressed) sizes.
    public var rawBytes: UInt32
    /// Positions in the block.
    public var positionCount: UInt32
    /// Kept entries in the block.
    public var entryCount: UInt32
    /// XXH3-64 (seed 0) of the block's stored bytes.
    public var checksum: UInt64

    /// A table with the given fields.
    public init(offset: UInt64, firstPosition: UInt64, firstEntry: UInt64, storedBytes: UInt32, rawBytes: UInt32,
                positionCount: UInt32, entryCount: UInt32, checksum: UInt64) {
        self.offset = offset; self.firstPosition = firstPosition; self.firstEntry = firstEntry
        self.storedBytes = storedBytes; self.rawBytes = rawBytes; self.positionCount = positionCount
        self.entryCount = entryCount; self.checksum = checksum
    }

    /// Parses the table at the reader's offset.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        offset = try r.read(UInt64.self, in: Self.tableName)
        firstPosition = try r.read(UInt64.self, in: Self.tableName)
        firstEntry = try r.read(UInt64.self, in: Self.tableName)
        storedBytes = try r.read(UInt32.self, in: Self.tableName)
        rawBytes = try r.read(UInt32.self, in: Self.tableName)
        positionCount = try r.read(UInt32.self, in: Self.tableName)
        entryCount = try r.read(UInt32.self, in: Self.tableName)
        checksum = try r.read(UInt64.self, in: Self.tableName)
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) {
        out.put(offset); out.put(firstPosition); out.put(firstEntry)
        out.put(storedBytes); out.put(rawBytes); out.put(positionCount); out.put(entryCount); out.put(checksum)
    }
}

/// One sequence's footer-index entry: shard-local first position and length (§4.3.2).
public struct SequenceEntry: FormatTable {
    /// The table's name in errors.
    public static let tableName = "sequence entry"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 16

    /// Shard-local index of the first position.
    public var firstPosition: UInt64
    /// Number of positions (≥ 1).
    public var length: UInt64

    /// A table with the given fields.
    public init(firstPosition: UInt64, length: UInt64) { self.firstPosition = firstPosition; self.length = length }

    /// Parses the table at the reader's offset.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        firstPosition = try r.read(UInt64.self, in: Self.tableName)
        length = try r.read(UInt64.self, in: Self.tableName)
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) { out.put(firstPosition); out.put(length) }
}
