import Foundation
@testable import Teacher

/// A minimal GGUF writer for hand-made test files (independent of the reader under test).
struct GGUFBuilder {
    var version: UInt32 = 3
    var alignment = 32
    var kv: [(String, UInt32, [UInt8])] = []
    var tensors: [(name: String, dims: [Int], type: UInt32, data: [UInt8])] = []

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    static func str(_ s: String) -> [UInt8] { le(UInt64(s.utf8.count)) + Array(s.utf8) }

    mutating func add(_ key: String, u32 v: UInt32) { kv.append((key, 4, Self.le(v))) }
    mutating func add(_ key: String, f32 v: Float) { kv.append((key, 6, Self.le(v.bitPattern))) }
    mutating func add(_ key: String, string v: String) { kv.append((key, 8, Self.str(v))) }
    mutating func add(_ key: String, strings v: [String]) {
        kv.append((key, 9, Self.le(UInt32(8)) + Self.le(UInt64(v.count)) + v.flatMap(Self.str)))
    }
    mutating func add(_ key: String, i32s v: [Int32]) {
        kv.append((key, 9, Self.le(UInt32(5)) + Self.le(UInt64(v.count)) + v.flatMap { Self.le($0) }))
    }
    mutating func tensor(_ name: String, dims: [Int], type: UInt32, data: [UInt8]) { tensors.append((name, dims, type, data)) }
    mutating func tensor(_ name: String, dims: [Int], f32 values: [Float]) {
        tensor(name, dims: dims, type: 0, data: values.flatMap { Self.le($0.bitPattern) })
    }

    func build() -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8) + Self.le(version) + Self.le(UInt64(tensors.count)) + Self.le(UInt64(kv.count))
        for (k, t, v) in kv { out += Self.str(k) + Self.le(t) + v }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            out += Self.str(t.name) + Self.le(UInt32(t.dims.count)) + t.dims.flatMap { Self.le(UInt64($0)) } + Self.le(t.type) + Self.le(UInt64(o))
        }
        while out.count % alignment != 0 { out.append(0) }
        for t in tensors {
            out += t.data
            while out.count % alignment != 0 { out.append(0) }
        }
        return out
    }

    /// Writes the file to a fresh temporary path and returns it.
    func write(_ bytes: [UInt8]? = nil) throws -> String {
        let path = NSTemporaryDirectory() + "gguf-test-\(UUID().uuidString).gguf"
        try Data(bytes ?? build()).write(to: URL(fileURLWithPath: path))
        return path
    }
}

func f16Bits(_ x: Float) -> [UInt8] { GGUFBuilder.le(Float16(x).bitPattern) }
