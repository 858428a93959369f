/// Why bytes do not parse as one of the format's fixed tables (Spec/FORMAT.md §4). Callers add the file and block.
public enum FormatError: Error, Equatable, CustomStringConvertible {
    /// Fewer bytes remain than the table needs.
    case truncated(table: String, needed: Int, available: Int)
    /// A magic number differs.
    case badMagic(table: String)
    /// A reserved field or flag bit is not zero.
    case reservedNotZero(table: String, field: String)
    /// A field holds a value the format does not allow.
    case invalidField(table: String, field: String, value: UInt64)

    /// One line naming the table and what is wrong.
    public var description: String {
        switch self {
        case .truncated(let t, let n, let a): return "\(t) needs \(n) bytes, \(a) remain"
        case .badMagic(let t): return "bad \(t) magic"
        case .reservedNotZero(let t, let f): return "\(t): reserved bits (\(f)) are not zero"
        case .invalidField(let t, let f, let v): return "\(t): \(f) \(v) is not allowed"
        }
    }
}

/// A bounds-checked little-endian cursor over bytes that may be hostile: every read checks the remaining length
/// first and throws `FormatError.truncated` instead of reading past the end.
public struct ByteReader {
    /// The bytes being read.
    public let bytes: UnsafeRawBufferPointer
    /// The next byte to read, relative to `bytes`.
    public private(set) var offset: Int

    /// A reader over `bytes`, starting at `offset`.
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) { self.bytes = bytes; self.offset = offset }

    /// Bytes left after `offset`.
    public var remaining: Int { bytes.count - offset }

    /// Throws unless `n` more bytes remain, naming `table`.
    public func require(_ n: Int, for table: String) throws(FormatError) {
        guard n >= 0, offset >= 0, n <= bytes.count - offset else {
            throw .truncated(table: table, needed: n, available: Swift.max(0, bytes.count - offset))
        }
    }

    /// Reads one little-endian integer, throwing `FormatError.truncated` (naming `table`) when too few bytes remain.
    public mutating func read<T: FixedWidthInteger>(_: T.Type, in table: String) throws(FormatError) -> T {
        let size = MemoryLayout<T>.size
        try require(size, for: table)
        let v = T(littleEndian: bytes.baseAddress!.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += size
        return v
    }

    /// Reads `n` raw bytes.
    public mutating func bytes(_ n: Int, in table: String) throws(FormatError) -> [UInt8] {
        try require(n, for: table)
        let out = Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
        offset += n
        return out
    }
}

/// Little-endian append helpers for serialising tables.
extension Array where Element == UInt8 {
    @inline(__always) mutating func put<T: FixedWidthInteger>(_ v: T) {
        var le = v.littleEndian
        Swift.withUnsafeBytes(of: &le) { append(contentsOf: $0) }
    }
}
