#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one `.npy` file (little-endian, C order), streaming: elements may be appended in pieces.
///
/// Data goes to a temporary file beside `path`, which is renamed into place by `finish()` only
/// after exactly the declared number of elements was written; a writer dropped before then
/// removes its temporary file, so a failed export never leaves a half-written `.npy` behind.
public final class NPYWriter {
    /// The final path the file is renamed to by `finish()`.
    public let path: String
    /// The header written at the start of the file (dtype and shape of all the data to come).
    public let header: NPYHeader
    private let temporaryPath: String
    private var fd: Int32
    private var written = 0
    private var buffer: [UInt8] = []
    private let bufferLimit = 1 << 20
    private var finished = false

    /// Creates the temporary file and writes the header.
    public init(path: String, scalar: NPYScalarType, shape: [Int]) throws {
        self.path = path
        self.header = NPYHeader(dtype: NPYDType(scalar), shape: shape)
        self.temporaryPath = path + ".partial-\(getpid())"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw NPYError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        buffer.reserveCapacity(bufferLimit)
        buffer += header.encoded()
    }

    deinit {
        if !finished {
            if fd >= 0 { close(fd) }
            unlink(temporaryPath)
        }
    }

    /// Appends elements; their type must match the declared dtype.
    public func append<T: NPYElement>(_ values: UnsafeBufferPointer<T>) throws {
        precondition(T.npyScalar == header.dtype.scalar, "NPYWriter: appending \(T.self) to a \(header.dtype.scalar.numpyName) file")
        written += values.count
        guard written <= header.count else {
            throw NPYError.elementCountMismatch(path: path, declared: header.count, written: written)
        }
        let raw = UnsafeRawBufferPointer(values)
        if buffer.count + raw.count > bufferLimit { try flush() }
        if raw.count > bufferLimit { try writeAll(raw) } else { buffer.append(contentsOf: raw) }
    }

    /// Appends the elements of an array.
    public func append<T: NPYElement>(contentsOf values: [T]) throws {
        try values.withUnsafeBufferPointer { try append($0) }
    }

    /// Checks the element count, flushes, syncs and renames the file into place.
    public func finish() throws {
        guard written == header.count else { throw NPYError.elementCountMismatch(path: path, declared: header.count, written: written) }
        try flush()
        guard fsync(fd) == 0 else { throw NPYError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        guard close(fd) == 0 else { fd = -1; throw NPYError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        fd = -1
        guard rename(temporaryPath, path) == 0 else { throw NPYError.writeFailed(path: path, reason: String(cString: strerror(errno))) }
        finished = true
    }

    /// Writes a whole array in one call; `shape` defaults to one dimension.
    public static func write<T: NPYElement>(_ values: [T], shape: [Int]? = nil, to path: String) throws {
        let writer = try NPYWriter(path: path, scalar: T.npyScalar, shape: shape ?? [values.count])
        try writer.append(contentsOf: values)
        try writer.finish()
    }

    private func flush() throws {
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ raw: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < raw.count {
            let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw NPYError.writeFailed(path: path, reason: String(cString: strerror(errno)))
            }
            offset += n
        }
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif
