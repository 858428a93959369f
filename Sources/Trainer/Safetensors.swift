import Foundation

/// The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {…}}`,
/// then the raw little-endian tensor bytes. Only F32 tensors are written and read here.
public enum Safetensors {
    /// One named float32 tensor.
    public struct Tensor {
        /// Its name in the file.
        public var name: String
        /// Row-major shape.
        public var shape: [Int]
        /// The values (Π shape of them).
        public var data: [Float]
        /// A tensor.
        public init(name: String, shape: [Int], data: [Float]) { self.name = name; self.shape = shape; self.data = data }
    }

    /// Writes the tensors in the order given, atomically (temporary file, fsync, rename).
    public static func write(path: String, tensors: [Tensor], metadata: [String: String] = [:]) throws {
        var header = "{"
        var offset = 0
        var entries: [String] = []
        if !metadata.isEmpty {
            let meta = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            entries.append("\"__metadata__\":{\(meta)}")
        }
        for t in tensors {
            guard t.shape.reduce(1, *) == t.data.count else {
                throw TrainerError.checkpoint(path: path, reason: "tensor \(t.name) has \(t.data.count) values for shape \(t.shape)")
            }
            let bytes = t.data.count * 4
            entries.append("\(jsonString(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += entries.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(capacity: 8 + headerBytes.count + offset)
        var n = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for t in tensors { t.data.withUnsafeBytes { out.append(contentsOf: $0) } }
        try AtomicFile.write(out, to: path)
    }

    /// Reads every F32 tensor and the metadata.
    public static func read(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainerError.checkpoint(path: path, reason: "missing or unreadable")
        }
        func fail(_ s: String) -> TrainerError { .checkpoint(path: path, reason: s) }
        guard data.count >= 8 else { throw fail("truncated (no header length)") }
        let n = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(data.count - 8) else { throw fail("header length \(n) exceeds the file") }
        let start = 8 + Int(n)
        guard let json = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<start)) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            guard let d = value as? [String: Any], let dtype = d["dtype"] as? String,
                  let shape = d["shape"] as? [Int], let offs = d["data_offsets"] as? [Int], offs.count == 2 else {
                throw fail("bad header entry for \(name)")
            }
            guard dtype == "F32" else { throw fail("tensor \(name) has dtype \(dtype); only F32 is supported") }
            let count = shape.reduce(1, *)
            guard offs[0] >= 0, offs[1] - offs[0] == count * 4, start + offs[1] <= data.count else {
                throw fail("tensor \(name) data range \(offs) does not fit shape \(shape) and file size \(data.count)")
            }
            var values = [Float](repeating: 0, count: count)
            values.withUnsafeMutableBytes { dst in
                data.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(start + offs[0])..<(start + offs[1])]))
                }
            }
            tensors[name] = Tensor(name: name, shape: shape, data: values)
        }
        return (tensors, metadata)
    }

    static func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }
}

/// Durable whole-file writes: temporary file in the same directory, fsync, rename, fsync of the directory.
enum AtomicFile {
    static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw TrainerError.io(path: tmp, reason: "cannot create (\(String(cString: strerror(errno))))") }
        var ok = true
        var err: Int32 = 0
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let w = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if w <= 0 { ok = false; err = errno; return }
                done += w
            }
        }
        if ok && fsync(fd) != 0 { ok = false; err = errno }
        close(fd)
        guard ok else {
            unlink(tmp)
            throw TrainerError.io(path: path, reason: "write failed (\(String(cString: strerror(err)))); the previous file is untouched")
        }
        guard rename(tmp, path) == 0 else {
            let e = errno; unlink(tmp)
            throw TrainerError.io(path: path, reason: "rename failed (\(String(cString: strerror(e))))")
        }
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }
}
