/// The 16-byte header at the start of every block (Spec/FORMAT.md §4.4).
public struct BlockHeader: FormatTable {
    /// The table's name in errors.
    public static let tableName = "block header"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 16

    /// Number of stream descriptors that follow.
    public var streamCount: UInt16
    /// Positions in the block.
    public var positionCount: UInt32
    /// Kept entries in the block.
    public var entryCount: UInt32

    /// A table with the given fields.
    public init(streamCount: UInt16, positionCount: UInt32, entryCount: UInt32) {
        self.streamCount = streamCount; self.positionCount = positionCount; self.entryCount = entryCount
    }

    /// Checks both reserved fields.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        streamCount = try r.read(UInt16.self, in: Self.tableName)
        guard try r.read(UInt16.self, in: Self.tableName) == 0 else { throw .reservedNotZero(table: Self.tableName, field: "bytes 2-3") }
        positionCount = try r.read(UInt32.self, in: Self.tableName)
        entryCount = try r.read(UInt32.self, in: Self.tableName)
        guard try r.read(UInt32.self, in: Self.tableName) == 0 else { throw .reservedNotZero(table: Self.tableName, field: "bytes 12-15") }
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) {
        out.put(streamCount); out.put(UInt16(0)); out.put(positionCount); out.put(entryCount); out.put(UInt32(0))
    }
}

/// One 16-byte entry of a block's stream table (§4.4). Codec, filter and width are kept as stored: whether they
/// are known depends on the stream type, which the caller decides (unknown optional streams are skipped).
public struct StreamDescriptor: FormatTable {
    /// The table's name in errors.
    public static let tableName = "stream descriptor"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 16

    /// Stream type id (§4.5, §11).
    public var type: UInt16
    /// Flag bit 0: a reader that does not know `type` must reject the block.
    public var required: Bool
    /// Codec id (§4.4.2).
    public var codec: UInt8
    /// Filter id (§4.4.1).
    public var filter: UInt8
    /// Element width W in bytes.
    public var width: UInt8
    /// Payload bytes in the file.
    public var storedBytes: UInt32
    /// Bytes after the codec is undone (= elements × W).
    public var rawBytes: UInt32

    /// A table with the given fields.
    public init(type: UInt16, required: Bool, codec: UInt8, filter: UInt8, width: UInt8, storedBytes: UInt32, rawBytes: UInt32) {
        self.type = type; self.required = required; self.codec = codec; self.filter = filter; self.width = width
        self.storedBytes = storedBytes; self.rawBytes = rawBytes
    }

    /// Checks the reserved flag bits and the reserved field.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        type = try r.read(UInt16.self, in: Self.tableName)
        let flags = try r.read(UInt8.self, in: Self.tableName)
        guard flags & ~ShardLayout.requiredFlag == 0 else { throw .reservedNotZero(table: "descriptor of stream \(type)", field: "flag bits") }
        required = flags & ShardLayout.requiredFlag != 0
        codec = try r.read(UInt8.self, in: Self.tableName)
        filter = try r.read(UInt8.self, in: Self.tableName)
        width = try r.read(UInt8.self, in: Self.tableName)
        guard try r.read(UInt16.self, in: Self.tableName) == 0 else { throw .reservedNotZero(table: "descriptor of stream \(type)", field: "bytes 6-7") }
        storedBytes = try r.read(UInt32.self, in: Self.tableName)
        rawBytes = try r.read(UInt32.self, in: Self.tableName)
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) {
        out.put(type); out.append(required ? ShardLayout.requiredFlag : 0); out.append(codec); out.append(filter); out.append(width)
        out.put(UInt16(0)); out.put(storedBytes); out.put(rawBytes)
    }
}

/// The 16-byte header of the id table section (§4.6).
public struct IdTableHeader: FormatTable {
    /// The table's name in errors.
    public static let tableName = "id table header"
    /// Serialised size in bytes (Spec/FORMAT.md).
    public static let size = 16

    /// Codec id (§4.4.2).
    public var codec: UInt8
    /// 0 none or 1 shuffle.
    public var filter: UInt8
    /// Width W ∈ {1, 2, 4}.
    public var width: UInt8
    /// Number of listed ids n.
    public var count: UInt32
    /// n × W.
    public var rawBytes: UInt32
    /// T − 16.
    public var storedBytes: UInt32

    /// A table with the given fields.
    public init(codec: UInt8, filter: UInt8, width: UInt8, count: UInt32, rawBytes: UInt32, storedBytes: UInt32) {
        self.codec = codec; self.filter = filter; self.width = width; self.count = count
        self.rawBytes = rawBytes; self.storedBytes = storedBytes
    }

    /// Checks the reserved byte.
    public init(parsing r: inout ByteReader) throws(FormatError) {
        try r.require(Self.size, for: Self.tableName)
        codec = try r.read(UInt8.self, in: Self.tableName)
        filter = try r.read(UInt8.self, in: Self.tableName)
        width = try r.read(UInt8.self, in: Self.tableName)
        guard try r.read(UInt8.self, in: Self.tableName) == 0 else { throw .reservedNotZero(table: Self.tableName, field: "byte 3") }
        count = try r.read(UInt32.self, in: Self.tableName)
        rawBytes = try r.read(UInt32.self, in: Self.tableName)
        storedBytes = try r.read(UInt32.self, in: Self.tableName)
    }

    /// Appends the table's bytes, reserved fields as zero.
    public func serialize(into out: inout [UInt8]) {
        out.append(codec); out.append(filter); out.append(width); out.append(0)
        out.put(count); out.put(rawBytes); out.put(storedBytes)
    }
}
