/// The shard header, the first 32 bytes of a shard (Spec/FORMAT.md §4.1).
public struct ShardHeader: FormatTable {
    /// The table's name in errors.
    public static let tableName = "shard header"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 32
    /// `89 4C 47 53 0D 0A 1A 0A`.
    public static let magic: [UInt8] = [0x89, 0x4C, 0x47, 0x53, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Major version; readers accept only `ShardLayout.versionMajor` (checked by the caller, which names the file).
    public var versionMajor: UInt16
    /// Minor version; any value is accepted.
    public var versionMinor: UInt16
    /// The store's vocabulary size V.
    public var vocabSize: UInt64
    /// XXH3-64 of the store descriptor (§3.3).
    public var descriptorHash: UInt64

    /// A table with the given fields.
    public init(versionMajor: UInt16 = ShardLayout.versionMajor, versionMinor: UInt16 = ShardLayout.versionMinor,
                vocabSize: UInt64, descriptorHash: UInt64) {
        self.versionMajor = versionMajor; self.versionMinor = versionMinor
        self.vocabSize = vocabSize; self.descriptorHash = descriptorHash
    }

    /// Checks the magic and the reserved flags.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        guard try r.bytes(8, in: Self.tableName) == Self.magic else { throw .badMagic(table: Self.tableName) }
        versionMajor = try r.read(UInt16.self, in: Self.tableName)
        versionMinor = try r.read(UInt16.self, in: Self.tableName)
        guard try r.read(UInt32.self, in: Self.tableName) == 0 else { throw .reservedNotZero(table: Self.tableName, field: "flags") }
        vocabSize = try r.read(UInt64.self, in: Self.tableName)
        descriptorHash = try r.read(UInt64.self, in: Self.tableName)
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) {
        out += Self.magic
        out.put(versionMajor); out.put(versionMinor); out.put(UInt32(0)); out.put(vocabSize); out.put(descriptorHash)
    }
}

/// The shard trailer, the last 32 bytes of a shard (§4.2).
public struct ShardTrailer: FormatTable {
    /// The table's name in errors.
    public static let tableName = "trailer"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 32
    /// ASCII `LGSINDEX`.
    public static let magic: [UInt8] = Array("LGSINDEX".utf8)

    /// Offset of the footer index.
    public var indexOffset: UInt64
    /// Length L of the footer index.
    public var indexLength: UInt64
    /// XXH3-64 of the L index bytes.
    public var indexChecksum: UInt64

    /// A table with the given fields.
    public init(indexOffset: UInt64, indexLength: UInt64, indexChecksum: UInt64) {
        self.indexOffset = indexOffset; self.indexLength = indexLength; self.indexChecksum = indexChecksum
    }

    /// Checks the magic.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        indexOffset = try r.read(UInt64.self, in: Self.tableName)
        indexLength = try r.read(UInt64.self, in: Self.tableName)
        indexChecksum = try r.read(UInt64.self, in: Self.tableName)
        guard try r.bytes(8, in: Self.tableName) == Self.magic else { throw .badMagic(table: Self.tableName) }
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) {
        out.put(indexOffset); out.put(indexLength); out.put(indexChecksum); out += Self.magic
    }
}
