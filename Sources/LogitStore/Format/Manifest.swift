import Foundation

/// The store's manifest, `manifest.json` (Spec/FORMAT.md §3). Written last and atomically.
public struct Manifest: Encodable, Equatable, Sendable {
    /// Always "logitstore".
    public var format: String = "logitstore"
    /// The manifest format version; this implementation reads and writes 2 only.
    public var formatVersion: Int = Manifest.currentVersion
    /// The teacher's vocabulary size V (`vocab_size`): every stored id is below it.
    public var vocabSize: Int
    /// Width of the teacher's logits rows when it pads its vocabulary; nil when equal to `vocabSize`.
    public var paddedVocabSize: Int?
    /// The target policy that made every stored distribution (`truncation`).
    public var truncation: TruncationPolicy
    /// The teacher's name and hashes (`teacher`).
    public var teacher: TeacherIdentity
    /// True when shards carry the target-log-prob stream.
    public var targetLogprobs: Bool
    /// Shards in global order; positions and sequences are numbered across them in this order.
    public var shards: [ShardEntry]

    /// One listed shard: its file, writer, counts, size and whole-file hash (Spec/FORMAT.md §3).
    public struct ShardEntry: Encodable, Equatable, Sendable {
        /// Path of the shard relative to the store directory (a merged store may point into other stores with `../`).
        public var file: String
        /// The writer id whose name space the shard belongs to (`writer_id`).
        public var writerID: String
        /// Sequences in the shard.
        public var sequences: Int
        /// Positions in the shard.
        public var positions: Int
        /// Kept entries in the shard.
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

    /// The manifest's file name inside the store directory.
    public static let fileName = "manifest.json"
    /// The only `format_version` this implementation reads and writes (Spec/FORMAT.md §3).
    public static let currentVersion = 2
    /// Manifests larger than this are refused before parsing (Spec/FORMAT.md §12, limits).
    public static let maximumBytes = 256 << 20

    /// Sequences over all shards.
    public var sequenceCount: Int { shards.reduce(0) { $0 + $1.sequences } }
    /// Positions over all shards.
    public var positionCount: Int { shards.reduce(0) { $0 + $1.positions } }
    /// Kept entries over all shards.
    public var entryCount: Int { shards.reduce(0) { $0 + $1.entries } }
    /// Bytes of all shard files together.
    public var byteCount: Int { shards.reduce(0) { $0 + $1.bytes } }

    /// A manifest from its fields (the writer's way; readers use `load` or `parse`).
    public init(vocabSize: Int, paddedVocabSize: Int?, truncation: TruncationPolicy, teacher: TeacherIdentity,
                targetLogprobs: Bool, shards: [ShardEntry] = []) {
        self.vocabSize = vocabSize; self.paddedVocabSize = paddedVocabSize; self.truncation = truncation
        self.teacher = teacher; self.targetLogprobs = targetLogprobs; self.shards = shards
    }

    /// Reads and validates `<directory>/manifest.json` (Spec/FORMAT.md §3: typing, ranges, shard list rules).
    /// A version-1 (or any other version's) manifest is refused with a one-line `StoreError.incompatible`.
    public static func load(directory: String) throws -> Manifest {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: directory) else { throw StoreError.notFound("store directory \(elided(directory))") }
        guard let data = FileManager.default.contents(atPath: path) else { throw StoreError.notFound("\(elided(path)) (not a logitstore store?)") }
        return try parse(data, path: path)
    }

    /// Parses and validates manifest bytes; `path` only names the file in errors.
    public static func parse(_ data: Data, path: String) throws -> Manifest {
        func bad(_ s: String) -> StoreError { .corrupt(file: elided(path), block: nil, detail: s) }
        guard data.count <= maximumBytes else { throw bad("manifest is \(data.count) bytes, more than the limit \(maximumBytes)") }
        let json: JSONValue
        do { json = try StrictJSON.parse([UInt8](data)) } catch let e as StrictJSON.ParseError {
            throw bad("manifest is not valid JSON: \(e)")
        }
        return try ManifestSchema.manifest(from: json, bad: bad)
    }
    /// Writes the manifest atomically: temp file, fsync, rename, fsync of the directory.
    public func save(directory: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try enc.encode(self)
        try DurableFile.writeAtomically(directory: directory, name: Manifest.fileName, data: [UInt8](data) + [0x0A])
    }

    /// The canonical store descriptor's XXH3-64, written at offset 24 of every shard header of this store.
    public var descriptorHash: UInt64 { StoreDescriptor.hash(of: self) }

    /// Whether stores written under `other` may be mixed with this one (merge, resume). Returns the reason if not.
    public func incompatibility(with other: Manifest) -> String? {
        if vocabSize != other.vocabSize { return "vocabulary size \(vocabSize) vs \(other.vocabSize)" }
        if (paddedVocabSize ?? vocabSize) != (other.paddedVocabSize ?? other.vocabSize) { return "padded vocabulary size differs" }
        if teacher.tokenizerHash != other.teacher.tokenizerHash {
            return "tokenizer \(elided(teacher.tokenizerHash ?? "unknown", 60)) vs \(elided(other.teacher.tokenizerHash ?? "unknown", 60))"
        }
        if truncation != other.truncation {
            return "truncation \(truncation.label) vs \(other.truncation.label)"
        }
        if targetLogprobs != other.targetLogprobs { return "one store has the target-log-prob stream and the other does not" }
        return nil
    }
}

/// `s` cut to at most `limit` characters, with `…` marking the cut, so error lines stay short.
func elided(_ s: String, _ limit: Int = 96) -> String {
    s.count <= limit ? s : String(s.prefix(limit - 1)) + "…"
}
