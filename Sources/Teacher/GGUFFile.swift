import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One entry of a GGUF tensor table.
public struct GGUFTensorInfo: Sendable {
    /// The tensor's name, e.g. `blk.0.attn_q.weight`.
    public let name: String
    /// Dimensions as stored (ggml order: `dims[0]` is the fastest-varying, i.e. the row length).
    public let dims: [Int]
    /// The raw GGML type id; `type` is nil when this reader cannot dequantise it.
    public let rawType: UInt32
    /// The tensor's type, or nil when this reader cannot dequantise it.
    public var type: GGMLType? { GGMLType(rawValue: rawType) }
    /// Byte offset of the data from the start of the file.
    public let fileOffset: Int
    /// Bytes of data, from the type's block size and the element count.
    public let byteCount: Int
    /// The number of elements (the product of `dims`).
    public var elementCount: Int { dims.reduce(1, *) }
    /// The shape in row-major order (slowest-varying first), e.g. `[vocab, dim]` for `token_embd`.
    public var rowMajorShape: [Int] { dims.reversed() }
}

/// A GGUF file (versions 2 and 3), memory-mapped: header, metadata, tensor table and tensor data.
///
/// Layout (little-endian): magic `GGUF`, u32 version, u64 tensor count, u64 metadata count, the metadata
/// key/value pairs, the tensor infos (name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset), then padding to
/// `general.alignment` (default 32) and the tensor data, each tensor at its offset from the data start.
/// Every size and offset is checked against the file length.
public final class GGUFFile: @unchecked Sendable {
    /// The file's path, as given.
    public let path: String
    /// The GGUF version (2 or 3).
    public let version: UInt32
    /// Metadata in file order.
    public let metadataKeys: [String]
    /// Metadata values by key.
    public let metadata: [String: GGUFValue]
    /// The tensor table, in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment` (32 when absent): tensor data offsets are multiples of it.
    public let alignment: Int
    /// Byte offset of the tensor data section.
    public let dataOffset: Int
    private let base: UnsafeRawPointer
    private let length: Int
    private let tensorIndex: [String: Int]

    /// Opens and parses `path`; throws a `TeacherError` naming what is wrong.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TeacherError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TeacherError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        let length = Int(st.st_size)
        guard length >= 24 else {
            if length >= 4 { throw TeacherError.truncatedGGUF(path: path, what: "header") }
            throw TeacherError.notGGUF(path: path)
        }
        guard let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw TeacherError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(p)
        var ok = false
        defer { if !ok { munmap(p, length) } }
        var r = ByteCursor(base: base, length: length, path: path)
        guard try r.u32("magic") == 0x4655_4747 else { throw TeacherError.notGGUF(path: path) }
        let version = try r.u32("version")
        guard version == 2 || version == 3 else { throw TeacherError.unsupportedGGUFVersion(path: path, version: version) }
        let tensorCount = try r.count("tensor count", limit: length)
        let kvCount = try r.count("metadata count", limit: length)
        var keys: [String] = []
        var metadata: [String: GGUFValue] = [:]
        for _ in 0..<kvCount {
            let key = try r.string("metadata key")
            let type = try r.u32("type of '\(key)'")
            metadata[key] = try r.value(type: type, what: "value of '\(key)'")
            keys.append(key)
        }
        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard let v = a.intValue, v > 0, v & (v - 1) == 0 else {
                throw TeacherError.malformedGGUF(path: path, what: "general.alignment must be a power of two")
            }
            alignment = v
        }
        var infos: [(String, [Int], UInt32, Int)] = []
        for i in 0..<tensorCount {
            let name = try r.string("name of tensor \(i)")
            let nDims = Int(try r.u32("dimension count of '\(name)'"))
            guard (1...8).contains(nDims) else { throw TeacherError.malformedGGUF(path: path, what: "tensor '\(name)' has \(nDims) dimensions") }
            var dims: [Int] = []
            for _ in 0..<nDims { dims.append(try r.count("dimensions of '\(name)'", limit: 1 << 40)) }
            let type = try r.u32("type of '\(name)'")
            let offset = try r.count("offset of '\(name)'", limit: length)
            infos.append((name, dims, type, offset))
        }
        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        var tensors: [GGUFTensorInfo] = []
        var index: [String: Int] = [:]
        for (name, dims, rawType, offset) in infos {
            var elements = 1
            for d in dims {
                let (m, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw TeacherError.malformedGGUF(path: path, what: "tensor '\(name)' is too large") }
                elements = m
            }
            var bytes = 0
            if let t = GGMLType(rawValue: rawType) {
                guard let b = t.byteCount(elements: elements) else {
                    throw TeacherError.malformedGGUF(path: path, what: "tensor '\(name)' (\(elements) elements) is not a whole number of \(GGMLType.name(of: rawType)) blocks")
                }
                bytes = b
            }
            guard offset % alignment == 0 else { throw TeacherError.malformedGGUF(path: path, what: "tensor '\(name)' offset \(offset) is not aligned to \(alignment)") }
            guard dataOffset + offset + bytes <= length else { throw TeacherError.truncatedGGUF(path: path, what: "data of tensor '\(name)'") }
            guard index[name] == nil else { throw TeacherError.malformedGGUF(path: path, what: "tensor '\(name)' appears twice") }
            index[name] = tensors.count
            tensors.append(GGUFTensorInfo(name: name, dims: dims, rawType: rawType, fileOffset: dataOffset + offset, byteCount: bytes))
        }
        self.version = version
        self.metadataKeys = keys
        self.metadata = metadata
        self.tensors = tensors
        self.alignment = alignment
        self.dataOffset = dataOffset
        self.base = base
        self.length = length
        self.tensorIndex = index
        ok = true
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), length) }

    var mappedBase: UnsafeRawPointer { base }
    var mappedLength: Int { length }

    /// The tensor info named `name`, or nil.
    public func tensor(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The raw bytes of a tensor (valid while this file is alive).
    public func rawBytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base + tensor.fileOffset, count: tensor.byteCount)
    }

    /// Dequantises the tensor `name` into `destination` (exactly `elementCount` floats, ggml order).
    public func dequantise(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let t = tensor(name) else { throw TeacherError.missingTensor(name) }
        guard let type = t.type else { throw TeacherError.unsupportedTensorType(tensor: name, type: t.rawType) }
        guard destination.count == t.elementCount else {
            throw TeacherError.tensorShapeMismatch(tensor: name, expected: [destination.count], found: t.rowMajorShape)
        }
        Dequantiser.dequantise(type: type, source: rawBytes(of: t), into: destination)
    }

    /// Dequantises the tensor `name` into a new array.
    public func dequantise(_ name: String) throws -> [Float] {
        guard let t = tensor(name) else { throw TeacherError.missingTensor(name) }
        var out = [Float](repeating: 0, count: t.elementCount)
        try out.withUnsafeMutableBufferPointer { try dequantise(name, into: $0) }
        return out
    }

    // MARK: typed metadata access

    /// The metadata value of `key`; throws `TeacherError.missingMetadata` when absent.
    public func value(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else { throw TeacherError.missingMetadata(key: key) }
        return v
    }
    /// The integer metadata value of `key` (any integer type); throws when absent or of another type.
    public func int(_ key: String) throws -> Int {
        guard let v = try value(key).intValue else { throw TeacherError.wrongMetadataType(key: key, expected: "an integer") }
        return v
    }
    /// The numeric metadata value of `key` (float or integer); throws when absent or of another type.
    public func double(_ key: String) throws -> Double {
        guard let v = try value(key).doubleValue else { throw TeacherError.wrongMetadataType(key: key, expected: "a number") }
        return v
    }
    /// The string metadata value of `key`; throws when absent or of another type.
    public func string(_ key: String) throws -> String {
        guard let v = try value(key).stringValue else { throw TeacherError.wrongMetadataType(key: key, expected: "a string") }
        return v
    }
    /// The string-array metadata value of `key`; throws when absent or when any element is not a string.
    public func strings(_ key: String) throws -> [String] {
        guard let a = try value(key).arrayValue else { throw TeacherError.wrongMetadataType(key: key, expected: "an array of strings") }
        return try a.map { guard let s = $0.stringValue else { throw TeacherError.wrongMetadataType(key: key, expected: "an array of strings") }; return s }
    }
    /// The integer-array metadata value of `key`; throws when absent or when any element is not an integer.
    public func ints(_ key: String) throws -> [Int] {
        guard let a = try value(key).arrayValue else { throw TeacherError.wrongMetadataType(key: key, expected: "an array of integers") }
        return try a.map { guard let s = $0.intValue else { throw TeacherError.wrongMetadataType(key: key, expected: "an array of integers") }; return s }
    }
}

/// A bounds-checked little-endian reader over the mapped header.
struct ByteCursor {
    let base: UnsafeRawPointer
    let length: Int
    let path: String
    var offset = 0

    mutating func bytes(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= length - offset else { throw TeacherError.truncatedGGUF(path: path, what: what) }
        defer { offset += n }
        return UnsafeRawBufferPointer(start: base + offset, count: n)
    }
    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        let b = try bytes(MemoryLayout<T>.size, what)
        return T(littleEndian: b.loadUnaligned(as: T.self))
    }
    mutating func u32(_ what: String) throws -> UInt32 { try load(UInt32.self, what) }
    /// A u64 count or size that must fit `limit`.
    mutating func count(_ what: String, limit: Int) throws -> Int {
        let v = try load(UInt64.self, what)
        guard v <= UInt64(limit) else { throw TeacherError.malformedGGUF(path: path, what: "\(what) \(v) is implausible") }
        return Int(v)
    }
    mutating func string(_ what: String) throws -> String {
        let n = try count("length of \(what)", limit: length)
        let b = try bytes(n, what)
        return String(decoding: b, as: UTF8.self)
    }
    mutating func value(type: UInt32, what: String) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try load(UInt8.self, what))
        case 1: return .int8(try load(Int8.self, what))
        case 2: return .uint16(try load(UInt16.self, what))
        case 3: return .int16(try load(Int16.self, what))
        case 4: return .uint32(try load(UInt32.self, what))
        case 5: return .int32(try load(Int32.self, what))
        case 6: return .float32(Float(bitPattern: try load(UInt32.self, what)))
        case 7:
            let b = try load(UInt8.self, what)
            guard b <= 1 else { throw TeacherError.malformedGGUF(path: path, what: "\(what) is a bool with value \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string(what))
        case 9:
            let elementType = try u32("element type of \(what)")
            let n = try count("length of \(what)", limit: length - offset)
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: elementType, what: what)) }
            return .array(elementType: elementType, items)
        case 10: return .uint64(try load(UInt64.self, what))
        case 11: return .int64(try load(Int64.self, what))
        case 12: return .float64(Double(bitPattern: try load(UInt64.self, what)))
        default: throw TeacherError.malformedGGUF(path: path, what: "\(what) has unknown value type \(type)")
        }
    }
}
