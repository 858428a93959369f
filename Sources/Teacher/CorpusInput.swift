import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The input formats of `logitstore dump`.
public enum InputFormat: String, CaseIterable, Sendable {
    /// UTF-8 text files, one document per file (a file, or every regular file under a directory, by sorted path).
    case text
    /// JSON Lines with a string field `text`, one document per line (a file, or every `*.jsonl` under a directory).
    case jsonl
    /// Raw little-endian UInt32 token ids (a file, or every regular file under a directory), taken as they are.
    case u32
    /// Raw little-endian UInt16 token ids, taken as they are.
    case u16
    /// A Megatron-LM indexed dataset: `PREFIX.bin` + `PREFIX.idx` (PATH may be the prefix or either file).
    case megatron

    /// True for inputs that are tokenised and packed (text, JSONL), false for token inputs taken as they are.
    public var isText: Bool { self == .text || self == .jsonl }
}

/// Reads documents (text) or token streams (raw, Megatron) from disk, with clear errors.
public enum CorpusInput {
    /// The files a path stands for: itself, or the regular files under it (sorted, hidden files skipped).
    public static func files(at path: String, extensions: Set<String>? = nil) throws -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TeacherError.input(path: path, reason: "no such file or directory")
        }
        guard isDir.boolValue else { return [path] }
        guard let e = FileManager.default.enumerator(atPath: path) else { throw TeacherError.input(path: path, reason: "cannot list directory") }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            let full = path + "/" + rel
            if URL(fileURLWithPath: rel).lastPathComponent.hasPrefix(".") { continue }
            var d: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &d), !d.boolValue else { continue }
            if let ext = extensions, !ext.contains(URL(fileURLWithPath: rel).pathExtension) { continue }
            out.append(full)
        }
        out.sort()
        guard !out.isEmpty else { throw TeacherError.input(path: path, reason: "directory holds no input files") }
        return out
    }

    /// Calls `body` with each document of a text or JSONL input, in order.
    public static func forEachDocument(path: String, format: InputFormat, _ body: (String) throws -> Void) throws {
        switch format {
        case .text:
            for f in try files(at: path) { try body(try TextInput.readUTF8(path: f)) }
        case .jsonl:
            for f in try files(at: path, extensions: ["jsonl", "json"]) {
                let text = try TextInput.readUTF8(path: f)
                var lineNo = 0
                // Lines are found on the UTF-8 bytes and taken one at a time, so a run that stops early
                // (--max-tokens) does not split the whole file (Character-wise splitting ran at ~40 MB/s).
                let bytes = text.utf8
                var start = bytes.startIndex
                while start < bytes.endIndex {
                    let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
                    let line = Substring(bytes[start..<end])
                    start = end < bytes.endIndex ? bytes.index(after: end) : end
                    lineNo += 1
                    if line.allSatisfy({ $0.isWhitespace }) { continue }
                    let obj: Any
                    do { obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) } catch {
                        throw TeacherError.input(path: f, reason: "line \(lineNo) is not valid JSON")
                    }
                    guard let dict = obj as? [String: Any], let t = dict["text"] as? String else {
                        throw TeacherError.input(path: f, reason: "line \(lineNo) has no string field \"text\"")
                    }
                    try body(t)
                }
            }
        default:
            preconditionFailure("forEachDocument needs a text format")
        }
    }

    /// All token ids of a raw (u32/u16) or Megatron input, concatenated in order, exactly as stored.
    /// Ids at or above `vocabSize` are rejected (naming the file and index).
    public static func readTokens(path: String, format: InputFormat, vocabSize: Int) throws -> [UInt32] {
        var out: [UInt32] = []
        switch format {
        case .u32, .u16:
            let width = format == .u32 ? 4 : 2
            for f in try files(at: path) {
                let data = try readFile(f)
                guard data.count % width == 0 else {
                    throw TeacherError.input(path: f, reason: "size \(data.count) bytes is not a multiple of \(width) (raw \(format.rawValue) tokens)")
                }
                let start = out.count
                data.withUnsafeBytes { raw in
                    let n = data.count / width
                    out.reserveCapacity(start + n)
                    if width == 4 { for i in 0..<n { out.append(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) } }
                    else { for i in 0..<n { out.append(UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) } }
                }
                try checkVocab(out, from: start, vocabSize: vocabSize, path: f)
            }
        case .megatron:
            let m = try MegatronDataset(path: path)
            out = try m.allTokens()
            try checkVocab(out, from: 0, vocabSize: vocabSize, path: m.binPath)
        default:
            preconditionFailure("readTokens needs a token format")
        }
        return out
    }

    static func checkVocab(_ t: [UInt32], from start: Int, vocabSize: Int, path: String) throws {
        for i in start..<t.count where Int(t[i]) >= vocabSize {
            throw TeacherError.input(path: path, reason: "token \(i - start) is \(t[i]), outside the teacher's vocabulary of \(vocabSize)")
        }
    }

    static func readFile(_ path: String) throws -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw TeacherError.input(path: path, reason: "cannot read: \(error.localizedDescription)")
        }
    }
}

/// A Megatron-LM `MMapIndexedDataset` (`.idx` + `.bin`).
///
/// `.idx` layout (little-endian): magic `MMIDIDX\0\0` (9 B), u64 version (1), u8 dtype code
/// (1 u8, 2 i8, 3 i16, 4 i32, 5 i64, 8 u16), u64 sequence count S, u64 document count D, i32 sizes[S],
/// i64 byte pointers[S] into `.bin`, i64 document indices[D] (optionally followed by i8 modes[S]).
public struct MegatronDataset {
    /// The `.idx` file.
    public let idxPath: String
    /// The `.bin` file holding the tokens.
    public let binPath: String
    /// Tokens per sequence, in index order.
    public let sizes: [Int]
    /// Byte offset of each sequence in the `.bin` file.
    public let pointers: [Int]
    /// The index's document boundaries (sequence indices), as stored.
    public let documentIndices: [Int]
    /// The token dtype code of the index (1 u8, 2 i8, 3 i16, 4 i32, 5 i64, 8 u16).
    public let dtypeCode: UInt8

    /// Reads and checks the index of the dataset at `path` (the prefix, the `.idx` or the `.bin`); the tokens are read by `allTokens()`.
    public init(path: String) throws {
        var prefix = path
        if prefix.hasSuffix(".idx") || prefix.hasSuffix(".bin") { prefix.removeLast(4) }
        idxPath = prefix + ".idx"; binPath = prefix + ".bin"
        let idx = try CorpusInput.readFile(idxPath)
        guard FileManager.default.fileExists(atPath: binPath) else { throw TeacherError.input(path: binPath, reason: "no such file (the .bin of the Megatron dataset)") }
        let p = idxPath
        func fail(_ why: String) -> TeacherError { .input(path: p, reason: why) }
        guard idx.count >= 34, idx.prefix(9) == Data("MMIDIDX".utf8 + [0, 0]) else { throw fail("not a Megatron .idx file (bad magic)") }
        func u64(_ o: Int) -> UInt64 { idx.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: o, as: UInt64.self)) } }
        guard u64(9) == 1 else { throw fail("unsupported .idx version \(u64(9))") }
        dtypeCode = idx[idx.startIndex + 17]
        guard [1, 2, 3, 4, 5, 8].contains(dtypeCode) else { throw fail("unsupported token dtype code \(dtypeCode) (integer types only)") }
        let s = u64(18), d = u64(26)
        guard s < 1 << 40, d < 1 << 40 else { throw fail("implausible sequence/document counts") }
        let S = Int(s), D = Int(d)
        guard idx.count >= 34 + 4 * S + 8 * S + 8 * D else { throw fail("truncated (\(idx.count) bytes for \(S) sequences, \(D) documents)") }
        (sizes, pointers, documentIndices) = idx.withUnsafeBytes { raw in
            let sz = (0..<S).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 34 + 4 * $0, as: Int32.self))) }
            let pt = (0..<S).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 34 + 4 * S + 8 * $0, as: Int64.self))) }
            let di = (0..<D).map { Int(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 34 + 12 * S + 8 * $0, as: Int64.self))) }
            return (sz, pt, di)
        }
    }

    /// Bytes per token in the `.bin` file.
    public var elementSize: Int { [1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 8: 2][dtypeCode]! }

    /// Every sequence's tokens, concatenated in index order.
    public func allTokens() throws -> [UInt32] {
        let bin = try CorpusInput.readFile(binPath)
        let w = elementSize
        var out: [UInt32] = []
        out.reserveCapacity(sizes.reduce(0, +))
        try bin.withUnsafeBytes { raw in
            for (i, (n, p)) in zip(sizes, pointers).enumerated() {
                guard n >= 0, p >= 0, p + n * w <= raw.count else {
                    throw TeacherError.input(path: binPath, reason: "sequence \(i) (\(n) tokens at byte \(p)) lies outside the file (\(raw.count) bytes)")
                }
                for j in 0..<n {
                    let o = p + j * w
                    let v: Int64
                    switch dtypeCode {
                    case 1: v = Int64(raw[o])
                    case 2: v = Int64(Int8(bitPattern: raw[o]))
                    case 3: v = Int64(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int16.self)))
                    case 4: v = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int32.self)))
                    case 5: v = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: Int64.self))
                    default: v = Int64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
                    }
                    guard v >= 0, v <= Int64(UInt32.max) else {
                        throw TeacherError.input(path: binPath, reason: "sequence \(i) token \(j) is \(v), not a valid token id")
                    }
                    out.append(UInt32(v))
                }
            }
        }
        return out
    }
}

/// Token sequences ready for the teacher: either packed from documents (EOS after every document, then cut
/// into `seqLen` pieces) or cut from raw tokens as they are. The last sequence may be shorter.
public struct PackedSequences: Sendable {
    /// All the tokens, sequence after sequence.
    public let tokens: [UInt32]
    /// Tokens per sequence (the last sequence may be shorter).
    public let seqLen: Int
    /// The number of sequences.
    public var count: Int { (tokens.count + seqLen - 1) / seqLen }
    /// Documents packed (0 for token inputs).
    public var documentCount: Int

    /// Sequences cut from `tokens` every `seqLen` tokens (`seqLen` must be positive).
    public init(tokens: [UInt32], seqLen: Int, documentCount: Int = 0) {
        precondition(seqLen > 0)
        self.tokens = tokens; self.seqLen = seqLen; self.documentCount = documentCount
    }

    /// The range of sequence `i` in `tokens`.
    public func range(_ i: Int) -> Range<Int> { (i * seqLen)..<min(tokens.count, (i + 1) * seqLen) }
    /// The tokens of sequence `i`.
    public func sequence(_ i: Int) -> ArraySlice<UInt32> { tokens[range(i)] }

    /// Tokenises each document of a text/JSONL input, appends `eos` after each, and cuts the stream into `seqLen` pieces.
    public static func pack(path: String, format: InputFormat, tokenizer: BPETokenizer, eos: UInt32, seqLen: Int,
                            maxTokens: Int? = nil) throws -> PackedSequences {
        var stream: [UInt32] = []
        var docs = 0
        let limit = maxTokens ?? .max
        struct Done: Error {}
        do {
            try CorpusInput.forEachDocument(path: path, format: format) { text in
                tokenizer.encode(text, into: &stream)
                stream.append(eos)
                docs += 1
                if stream.count >= limit { throw Done() }
            }
        } catch is Done {}
        if stream.count > limit { stream.removeLast(stream.count - limit) }
        return PackedSequences(tokens: stream, seqLen: seqLen, documentCount: docs)
    }

    /// Raw tokens (u32/u16/Megatron) taken exactly as they are and cut into `seqLen` pieces.
    public static func raw(path: String, format: InputFormat, vocabSize: Int, seqLen: Int, maxTokens: Int? = nil) throws -> PackedSequences {
        var t = try CorpusInput.readTokens(path: path, format: format, vocabSize: vocabSize)
        if let m = maxTokens, t.count > m { t.removeLast(t.count - m) }
        return PackedSequences(tokens: t, seqLen: seqLen)
    }
}
