import Foundation

/// Joins stores written by parallel writers into one store without copying data.
public enum StoreMerge {
    /// Writes `output/manifest.json` listing every shard of `inputs`, in order, by paths relative to `output`.
    /// Refuses inputs whose store descriptors differ (Spec §3.3: vocabulary, policy, target-log-prob stream, teacher
    /// name and hashes; every shard header carries the descriptor's hash, so they cannot be mixed),
    /// a shard listed twice, and an `output` that already holds a manifest. Every input is opened (and its shard
    /// indexes checked) first; nothing is written unless all pass. The merged store reads like any other; to write
    /// into it, use a writer id not already present in it.
    public static func merge(output: String, inputs: [String]) throws {
        guard !inputs.isEmpty else { throw StoreError.invalidInput("merge needs at least one input store") }
        if FileManager.default.fileExists(atPath: output + "/" + Manifest.fileName) {
            throw StoreError.invalidInput("\(output) already holds a store; merge writes a new one")
        }
        let outAbs = absolute(output)
        var merged: Manifest?
        var seen = Set<String>()
        for input in inputs {
            let reader = try StoreReader(directory: input)  // validates manifest and every shard index
            let m = reader.manifest
            if let acc = merged {
                if let why = acc.incompatibility(with: m) { throw StoreError.incompatible("cannot merge \(input): \(why)") }
                if let a = acc.teacher.weightsHash, let b = m.teacher.weightsHash, a != b {
                    throw StoreError.incompatible("cannot merge \(input): teacher weights \(elided(a, 60)) vs \(elided(b, 60))")
                }
                if let line = StoreDescriptor.firstDifference(acc, m) {
                    throw StoreError.incompatible("cannot merge \(elided(input)): its store descriptor differs in \(line) (Spec §3.3)")
                }
            } else {
                merged = m
                merged!.shards = []
            }
            let inAbs = absolute(input)
            for s in m.shards {
                let shardAbs = normalise(inAbs + "/" + s.file)
                guard seen.insert(shardAbs).inserted else { throw StoreError.invalidInput("shard \(shardAbs) appears twice among the inputs") }
                var e = s
                e.file = relativePath(from: outAbs, to: shardAbs)
                merged!.shards.append(e)
            }
        }
        try DurableFile.createDirectory(output)
        try merged!.save(directory: output)
    }

    static func absolute(_ p: String) -> String {
        let base = p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
        return normalise((URL(fileURLWithPath: base).resolvingSymlinksInPath()).path)
    }

    static func normalise(_ p: String) -> String {
        var out: [Substring] = []
        for c in p.split(separator: "/") {
            if c == "." || c.isEmpty { continue }
            if c == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(c)
        }
        return "/" + out.joined(separator: "/")
    }

    /// `to` expressed relative to directory `from` (both absolute and normalised).
    static func relativePath(from: String, to: String) -> String {
        let a = from.split(separator: "/"), b = to.split(separator: "/")
        var i = 0
        while i < a.count && i < b.count && a[i] == b[i] { i += 1 }
        let ups = Array(repeating: "..", count: a.count - i)
        return (ups + b[i...].map(String.init)).joined(separator: "/")
    }
}
