/// The canonical store descriptor (Spec/FORMAT.md §3.3): the manifest's store-level fields as one UTF-8 byte
/// string, `key=value\n` per line in a fixed order. Its XXH3-64 (seed 0) sits in every shard header (offset 24), so
/// a manifest whose policy, vocabulary, teacher or stream flags were changed no longer matches its shards.
public enum StoreDescriptor {
    /// The first line, naming the descriptor's own version.
    public static let firstLine = "logitstore-store-descriptor 2"

    /// The descriptor bytes of `manifest` (its shard list plays no part).
    public static func bytes(of manifest: Manifest) -> [UInt8] {
        let t = manifest.truncation
        let sampled = t.kind == .sample
        func hex64(_ d: Double) -> String { Checksum.hex(d.bitPattern) }
        var lines: [String] = [firstLine]
        lines.append("vocab_size=\(manifest.vocabSize)")
        lines.append("padded_vocab_size=\(manifest.paddedVocabSize ?? manifest.vocabSize)")
        lines.append("policy=\(t.kind.rawValue)")
        lines.append("top_p=\(hex64(t.topP))")
        lines.append("top_k=\(t.topK)")
        lines.append("temperature=\(hex64(t.temperature))")
        lines.append("samples=\(sampled ? t.samples.map(String.init) ?? "-" : "-")")
        lines.append("sample_temperature=\(sampled ? t.sampleTemperature.map(hex64) ?? "-" : "-")")
        lines.append("seed=\(sampled ? t.seed.map(String.init) ?? "-" : "-")")
        lines.append("weights=\(sampled ? t.weights?.rawValue ?? "-" : "-")")
        lines.append("target_logprobs=\(manifest.targetLogprobs ? 1 : 0)")
        lines.append("teacher_name=\(manifest.teacher.name.utf8.count):" + manifest.teacher.name)
        lines.append("weights_hash=" + absentOrCounted(manifest.teacher.weightsHash))
        lines.append("tokenizer_hash=" + absentOrCounted(manifest.teacher.tokenizerHash))
        return Array(lines.map { $0 + "\n" }.joined().utf8)
    }

    /// XXH3-64 (seed 0) of `bytes(of:)`: the value of shard header offset 24.
    public static func hash(of manifest: Manifest) -> UInt64 { Checksum.xxh3(bytes(of: manifest)) }

    /// The key of the first descriptor line where `a` and `b` differ (e.g. "teacher_name"), or nil when equal.
    public static func firstDifference(_ a: Manifest, _ b: Manifest) -> String? {
        let x = String(decoding: bytes(of: a), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let y = String(decoding: bytes(of: b), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for (l, r) in zip(x, y) where l != r { return String(l.prefix { $0 != "=" }) }
        return x.count == y.count ? nil : "descriptor"
    }

    /// `<byte length>:<bytes>`, or `-` when absent.
    static func absentOrCounted(_ s: String?) -> String {
        guard let s else { return "-" }
        return "\(s.utf8.count):" + s
    }
}
