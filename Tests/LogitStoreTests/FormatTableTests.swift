import XCTest
@testable import LogitStore

/// Every fixed table of Spec §4 round-trips through serialize/parse, has its Spec size, and refuses short input,
/// bad magic and non-zero reserved bits with a typed error (never an out-of-bounds read).
final class FormatTableTests: XCTestCase {
    var rng = SplitMix64(seed: 99)

    func roundTrip<T: FormatTable>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = value.bytes
        XCTAssertEqual(bytes.count, T.size, "\(T.tableName) size", file: file, line: line)
        let back = try bytes.withUnsafeBytes { try T.parse($0) }
        XCTAssertEqual(back, value, file: file, line: line)
        for cut in [0, 1, T.size - 1] {
            XCTAssertThrowsError(try Array(bytes.prefix(cut)).withUnsafeBytes { try T.parse($0) }, file: file, line: line) { e in
                guard case FormatError.truncated = e else { return XCTFail("\(T.tableName) cut at \(cut): \(e)", file: file, line: line) }
            }
        }
    }

    /// Sets byte `offset` of `value`'s bytes to `byte` and expects `reservedNotZero` or `badMagic`.
    func expectRejected<T: FormatTable>(_ value: T, patching offset: Int, with byte: UInt8, file: StaticString = #filePath, line: UInt = #line) {
        var bytes = value.bytes
        bytes[offset] = byte
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try T.parse($0) }, file: file, line: line) { e in
            switch e as? FormatError {
            case .reservedNotZero?, .badMagic?: break
            default: XCTFail("\(T.tableName) byte \(offset): \(e)", file: file, line: line)
            }
        }
    }

    func u64() -> UInt64 { rng.next() }
    func u32() -> UInt32 { UInt32(truncatingIfNeeded: rng.next()) }

    func testEveryTableRoundTrips() throws {
        for _ in 0..<50 {
            try roundTrip(ShardHeader(versionMajor: UInt16(truncatingIfNeeded: u64()), versionMinor: UInt16(truncatingIfNeeded: u64()), vocabSize: u64(), descriptorHash: u64()))
            try roundTrip(ShardTrailer(indexOffset: u64(), indexLength: u64(), indexChecksum: u64()))
            try roundTrip(IndexHeader(blockCount: u64(), sequenceCount: u64(), positionCount: u64(), entryCount: u64(),
                                      idTableOffset: u64(), idTableLength: u64(), idTableChecksum: u64()))
            try roundTrip(BlockEntry(offset: u64(), firstPosition: u64(), firstEntry: u64(), storedBytes: u32(), rawBytes: u32(),
                                     positionCount: u32(), entryCount: u32(), checksum: u64()))
            try roundTrip(SequenceEntry(firstPosition: u64(), length: u64()))
            try roundTrip(BlockHeader(streamCount: UInt16(truncatingIfNeeded: u64()), positionCount: u32(), entryCount: u32()))
            try roundTrip(StreamDescriptor(type: UInt16(truncatingIfNeeded: u64()), required: u64() & 1 == 1, codec: UInt8(truncatingIfNeeded: u64()),
                                           filter: UInt8(truncatingIfNeeded: u64()), width: UInt8(truncatingIfNeeded: u64()), storedBytes: u32(), rawBytes: u32()))
            try roundTrip(IdTableHeader(codec: UInt8(truncatingIfNeeded: u64()), filter: UInt8(truncatingIfNeeded: u64()),
                                        width: UInt8(truncatingIfNeeded: u64()), count: u32(), rawBytes: u32(), storedBytes: u32()))
        }
    }

    func testSerialisedLayoutMatchesTheSpecTables() {
        // §4.1: magic, major, minor, flags 0, vocab, descriptor hash, little-endian.
        let h = ShardHeader(versionMajor: 2, versionMinor: 0, vocabSize: 0x0102, descriptorHash: 0x1122_3344_5566_7788).bytes
        XCTAssertEqual(h, [0x89, 0x4C, 0x47, 0x53, 0x0D, 0x0A, 0x1A, 0x0A, 2, 0, 0, 0, 0, 0, 0, 0,
                           0x02, 0x01, 0, 0, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
        // §4.4 stream descriptor: type u16, flags, codec, filter, width, reserved u16, stored u32, raw u32.
        let d = StreamDescriptor(type: 3, required: true, codec: 2, filter: 3, width: 2, storedBytes: 0x0A0B, rawBytes: 0x0C0D).bytes
        XCTAssertEqual(d, [3, 0, 1, 2, 3, 2, 0, 0, 0x0B, 0x0A, 0, 0, 0x0D, 0x0C, 0, 0])
        XCTAssertEqual(IndexHeader(blockCount: 2, sequenceCount: 3, positionCount: 0, entryCount: 0, idTableOffset: 0,
                                   idTableLength: 0, idTableChecksum: 0).expectedIndexLength, 64 + 96 + 48)
        XCTAssertNil(IndexHeader(blockCount: .max / 2, sequenceCount: 0, positionCount: 0, entryCount: 0, idTableOffset: 0,
                                 idTableLength: 0, idTableChecksum: 0).expectedIndexLength, "overflow is reported, not wrapped")
    }

    func testReservedFieldsAndMagicAreChecked() {
        let h = ShardHeader(vocabSize: 5, descriptorHash: 1)
        expectRejected(h, patching: 0, with: 0x88)  // magic
        expectRejected(h, patching: 13, with: 1)    // flags
        let t = ShardTrailer(indexOffset: 1, indexLength: 2, indexChecksum: 3)
        expectRejected(t, patching: 31, with: 0)    // trailer magic
        let i = IndexHeader(blockCount: 1, sequenceCount: 1, positionCount: 1, entryCount: 1, idTableOffset: 0, idTableLength: 0, idTableChecksum: 0)
        expectRejected(i, patching: 60, with: 1)
        let b = BlockHeader(streamCount: 4, positionCount: 1, entryCount: 1)
        expectRejected(b, patching: 3, with: 1)
        expectRejected(b, patching: 15, with: 1)
        let d = StreamDescriptor(type: 1, required: true, codec: 0, filter: 0, width: 1, storedBytes: 1, rawBytes: 1)
        expectRejected(d, patching: 2, with: 0x81)  // flag bit 7
        expectRejected(d, patching: 7, with: 1)
        let id = IdTableHeader(codec: 0, filter: 1, width: 1, count: 1, rawBytes: 1, storedBytes: 1)
        expectRejected(id, patching: 3, with: 1)
    }

    func testByteReaderNeverReadsPastTheEnd() throws {
        let bytes: [UInt8] = [1, 2, 3]
        try bytes.withUnsafeBytes { b in
            var r = ByteReader(b)
            XCTAssertEqual(try r.read(UInt16.self, in: "t"), 0x0201)
            XCTAssertThrowsError(try r.read(UInt16.self, in: "t"))
            XCTAssertEqual(r.offset, 2, "a failed read does not advance")
            XCTAssertThrowsError(try r.bytes(2, in: "t"))
            XCTAssertThrowsError(try r.bytes(-1, in: "t"))
            XCTAssertEqual(try r.bytes(1, in: "t"), [3])
        }
    }
}
