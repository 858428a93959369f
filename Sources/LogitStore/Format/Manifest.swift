import Foundation

/// The store's manifest, `manifest.json` (Spec/FORMAT.md §"Manifest"). Written last and atomically.
public struct Manifest: Codable, Equatable, Sendable {
    /// Always "logitstore".
    public var format: String = "logitstore"
    public var formatVersion: Int = 1
    public var vocabSize: Int
    /// Width of the teacher's logits rows when it pads its vocabulary; nil when equal to `vocabSize`.
    public var paddedVocabSize: Int?
    public var truncation: TruncationPolicy
    public var teacher: TeacherIdentity
    /// True when shards carry the target-log-prob stream.
    public var targetLogprobs: Bool
    /// Shards in global order; positions and sequences are numbered across them in this order.
    public var shards: [ShardEntry]

    public struct ShardEntry: Codable, Equatable, Sendable {
        /// Path of the shard relative to the store directory (a merged store may point into other stores with `../`).
        public var file: String
        public var writerID: String
        public var sequences: Int
        public var positions: Int
        public var entries: Int
        /// File size in bytes.
        public var bytes: Int
        /// XXH3-64 (seed 0) of the whole file, 16 lower-case hex digits.
        public var xxh3: String

        enum CodingKeys: String, CodingKey {
            case file, sequences, positions, entries, bytes, xxh3
            case writerID = "writer_id"
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, shards, truncation, teacher
        case formatVersion = "format_version"
        case vocabSize = "vocab_size"
        case paddedVocabSize = "padded_vocab_size"
        case targetLogprobs = "target_logprobs"
    }

    public static let fileName = "manifest.json"

    public var sequenceCount: Int { shards.reduce(0) { $0 + $1.sequences } }
    public var positionCount: Int { shards.reduce(0) { $0 + $1.positions } }
    public var entryCount: Int { shards.reduce(0) { $0 + $1.entries } }
    public var byteCount: Int { shards.reduce(0) { $0 + $1.bytes } }

    public init(vocabSize: Int, paddedVocabSize: Int?, truncation: TruncationPolicy, teacher: TeacherIdentity,
                targetLogprobs: Bool, shards: [ShardEntry] = []) {
        self.vocabSize = vocabSize; self.paddedVocabSize = paddedVocabSize; self.truncation = truncation
        self.teacher = teacher; self.targetLogprobs = targetLogprobs; self.shards = shards
    }

    /// Reads and validates `<directory>/manifest.json`.
    public static func load(directory: String) throws -> Manifest {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: directory) else { throw StoreError.notFound("store directory \(directory)") }
        guard let data = FileManager.default.contents(atPath: path) else { throw StoreError.notFound("\(path) (not a logitstore store?)") }
        let m: Manifest
        do { m = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw StoreError.corrupt(file: path, block: nil, detail: "manifest is not valid JSON for this format (\(shortDecodingError(error)))")
        }
        guard m.format == "logitstore" else { throw StoreError.corrupt(file: path, block: nil, detail: "format is \"\(m.format)\", expected \"logitstore\"") }
        guard m.formatVersion == 1 else { throw StoreError.incompatible("\(path) has format version \(m.formatVersion); this reader reads version 1") }
        guard m.vocabSize > 0, m.vocabSize <= Int(UInt32.max) else { throw StoreError.corrupt(file: path, block: nil, detail: "invalid vocab_size \(m.vocabSize)") }
        for s in m.shards {
            guard s.sequences >= 0, s.positions >= s.sequences, s.entries >= 0, s.bytes > 0, s.xxh3.count == 16, UInt64(s.xxh3, radix: 16) != nil else {
                throw StoreError.corrupt(file: path, block: nil, detail: "invalid shard entry for \(s.file)")
            }
        }
        return m
    }

    /// Writes the manifest atomically: temp file, fsync, rename, fsync of the directory.
    public func save(directory: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(self)
        try DurableFile.writeAtomically(directory: directory, name: Manifest.fileName, data: [UInt8](data) + [0x0A])
    }

    /// Whether stores written under `other` may be mixed with this one (merge, resume). Returns the reason if not.
    public func incompatibility(with other: Manifest) -> String? {
        if vocabSize != other.vocabSize { return "vocabulary size \(vocabSize) vs \(other.vocabSize)" }
        if (paddedVocabSize ?? vocabSize) != (other.paddedVocabSize ?? other.vocabSize) { return "padded vocabulary size differs" }
        if teacher.tokenizerHash != other.teacher.tokenizerHash {
            return "tokenizer \(teacher.tokenizerHash ?? "unknown") vs \(other.teacher.tokenizerHash ?? "unknown")"
        }
        if truncation != other.truncation {
            return "truncation \(truncation.label) vs \(other.truncation.label)"
        }
        if targetLogprobs != other.targetLogprobs { return "one store has the target-log-prob stream and the other does not" }
        return nil
    }
}

func shortDecodingError(_ e: Error) -> String {
    if let d = e as? DecodingError {
        switch d {
        case .keyNotFound(let k, _): return "missing key \(k.stringValue)"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return c.codingPath.map(\.stringValue).joined(separator: ".") + ": " + c.debugDescription
        @unknown default: return "\(d)"
        }
    }
    return "\(e)"
}
