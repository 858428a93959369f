#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `.npy` file opened read-only and memory-mapped; elements are read in place when possible.
///
/// Every check happens in `init`: magic, version, header, dtype, Fortran order, and that the file
/// holds exactly the bytes the header promises.
public final class NPYFile: @unchecked Sendable {
    /// The file's path, as given.
    public let path: String
    /// The validated header.
    public let header: NPYHeader
    private let base: UnsafeMutableRawPointer?
    private let mappedLength: Int

    /// The element type and byte order of the data.
    public var dtype: NPYDType { header.dtype }
    /// The array shape, outermost first.
    public var shape: [Int] { header.shape }
    /// The number of elements.
    public var count: Int { header.count }

    /// Opens and maps `path`, validating the header and the file length.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw NPYError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw NPYError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw NPYError.cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(info.st_size)
        guard size >= 10 else { throw NPYError.notNumPy(path: path) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw NPYError.cannotOpen(path: path, reason: "mmap: " + String(cString: strerror(errno)))
        }
        base = p
        mappedLength = size
        do {
            header = try NPYHeader.parse(UnsafeRawBufferPointer(start: p, count: size), path: path)
        } catch {
            munmap(p, size)
            throw error
        }
        let actual = size - header.dataOffset
        guard actual == header.dataByteCount else {
            munmap(p, size)
            throw NPYError.sizeMismatch(path: path, expectedBytes: header.dataByteCount, actualBytes: actual)
        }
    }

    deinit { if let base { munmap(base, mappedLength) } }

    /// The raw data section, in the file's byte order.
    public var rawData: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base.map { $0 + header.dataOffset }, count: header.dataByteCount)
    }

    /// Throws unless the dtype is one of `allowed`.
    public func require(dtype allowed: [NPYScalarType]) throws {
        guard allowed.contains(dtype.scalar) else {
            throw NPYError.wrongDType(path: path, expected: allowed.map(\.numpyName).joined(separator: " or "), found: dtype.description)
        }
    }

    /// Throws unless the array is one-dimensional (and has `length` elements when given).
    @discardableResult
    public func requireVector(length: Int? = nil, name: String = "N") throws -> Int {
        guard shape.count == 1, length.map({ $0 == shape[0] }) ?? true else {
            throw NPYError.wrongShape(path: path, expected: length.map { "(\($0),)" } ?? "(\(name),)", found: shape)
        }
        return shape[0]
    }

    /// Throws unless the array is two-dimensional; returns (rows, columns).
    @discardableResult
    public func requireMatrix(rows: Int? = nil, columns: Int? = nil) throws -> (rows: Int, columns: Int) {
        let expected = "(\(rows.map(String.init) ?? "N"), \(columns.map(String.init) ?? "V"))"
        guard shape.count == 2 else { throw NPYError.wrongShape(path: path, expected: expected, found: shape) }
        if let rows, rows != shape[0] { throw NPYError.wrongShape(path: path, expected: expected, found: shape) }
        if let columns, columns != shape[1] { throw NPYError.wrongShape(path: path, expected: expected, found: shape) }
        return (shape[0], shape[1])
    }

    /// Calls `body` with the elements as `T`. In place (no copy) when the file is little-endian and
    /// the data is aligned; otherwise a converted copy. Throws `wrongDType` unless the dtype is `T`'s.
    public func withElements<T: NPYElement, R>(_ type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) throws -> R {
        guard dtype.scalar == T.npyScalar else {
            throw NPYError.wrongDType(path: path, expected: T.npyScalar.numpyName, found: dtype.description)
        }
        let raw = rawData
        if dtype.littleEndian, let start = raw.baseAddress, Int(bitPattern: start) % MemoryLayout<T>.alignment == 0 {
            return try body(UnsafeBufferPointer(start: start.assumingMemoryBound(to: T.self), count: count))
        }
        if raw.baseAddress == nil { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let copy = array(T.self, raw: raw)
        return try copy.withUnsafeBufferPointer(body)
    }

    /// The elements as a Swift array of `T` (byte-swapped if the file is big-endian).
    public func toArray<T: NPYElement>(_ type: T.Type) throws -> [T] {
        guard dtype.scalar == T.npyScalar else {
            throw NPYError.wrongDType(path: path, expected: T.npyScalar.numpyName, found: dtype.description)
        }
        return array(T.self, raw: rawData)
    }

    /// Unsigned integer elements (uint8, uint16, uint32 or uint64) widened to `UInt64`.
    public func unsignedIntegers() throws -> [UInt64] {
        switch dtype.scalar {
        case .uint8: return try toArray(UInt8.self).map(UInt64.init)
        case .uint16: return try toArray(UInt16.self).map(UInt64.init)
        case .uint32: return try toArray(UInt32.self).map(UInt64.init)
        case .uint64: return try toArray(UInt64.self)
        default: throw NPYError.wrongDType(path: path, expected: "an unsigned integer type", found: dtype.description)
        }
    }

    private func array<T: NPYElement>(_: T.Type, raw: UnsafeRawBufferPointer) -> [T] {
        let n = count
        guard n > 0, let src = raw.baseAddress else { return [] }
        return [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            memcpy(buffer.baseAddress!, src, n * MemoryLayout<T>.stride)
            if !dtype.littleEndian { for i in 0..<n { buffer[i] = buffer[i].byteSwapped } }
            initialized = n
        }
    }
}
