import Foundation

/// What `verify` checked and what it found.
public struct VerifyReport: Sendable {
    /// Shards checked.
    public var shards = 0
    /// Blocks checked.
    public var blocks = 0
    /// Positions decoded.
    public var positions = 0
    /// Entries decoded.
    public var entries = 0
    /// Shard bytes hashed.
    public var bytes = 0
    /// One line per failure (shard, block and what failed). Empty when the store is intact.
    public var problems: [String] = []
    /// `*.lgs` files in the store directory that the manifest does not list (each also has a line in `problems`):
    /// crash leftovers between rename and manifest update, or shards whose manifest entry was lost.
    public var unlistedFiles: [String] = []
    /// True when no check failed.
    public var ok: Bool { problems.isEmpty }
}

extension StoreReader {
    /// Checks every shard's whole-file XXH3-64 against the manifest, then every block's checksum and decode
    /// (stream table, sizes, ids below the vocabulary, counts in 1...top_k summing to the entries, the target-log-prob
    /// stream against the manifest), the probabilities of every position (Spec §5: finite, +0 or positive, ≤ 1,
    /// non-increasing, ids distinct, Σ ≤ 1 + n·2^-11; on a sampled store Σ = 1 within n·2^-11, and with counts
    /// weights every probability float16(c/N) with the counts summing to N, so Σ = 1 exactly when N is a power of
    /// two), and that the store directory holds no `*.lgs` file the
    /// manifest does not list. Collects every failure rather than stopping at the first.
    /// `progress(doneBytes, totalBytes)` is called after each block.
    public func verify(progress: ((Int, Int) -> Void)? = nil) throws -> VerifyReport {
        var report = VerifyReport()
        let total = manifest.byteCount
        var done = 0
        let scratch = DecodedBlock()
        var rules = PositionRules(manifest.truncation)
        report.unlistedFiles = unlistedShardFiles()
        report.problems += report.unlistedFiles.map {
            "unlisted shard: \(elided($0)) is in the store directory but not in the manifest (a crash leftover, or a shard whose manifest entry was lost)"
        }
        for (s, sh) in shards.enumerated() {
            report.shards += 1
            let entry = manifest.shards[s]
            let h = Checksum.Streaming()
            let chunk = 1 << 22
            var off = 0
            while off < sh.file.count {
                let n = Swift.min(chunk, sh.file.count - off)
                h.update(UnsafeRawBufferPointer(start: sh.file.base + off, count: n))
                off += n
            }
            if Checksum.hex(h.digest) != entry.xxh3 {
                report.problems.append(StoreError.checksumMismatch(file: sh.name, block: nil, what: "whole file (manifest \(entry.xxh3), file \(Checksum.hex(h.digest)))").description)
            }
            for b in 0..<sh.blocks.count {
                report.blocks += 1
                do {
                    try decode(shard: s, block: b, into: scratch, forceVerify: true)
                    if let t = scratch.targets, let j = t.firstIndex(where: { $0 > 0 }) {
                        throw StoreError.corrupt(file: sh.name, block: b, detail: "position \(j) of the block: target log-prob \(t[j]) is positive")
                    }
                    for j in 0..<scratch.positionCount {
                        let range = scratch.offsets[j]..<scratch.offsets[j + 1]
                        if let why = rules.violation(ids: scratch.ids[range], probs: scratch.probs[range]) {
                            throw StoreError.corrupt(file: sh.name, block: b, detail: "position \(j) of the block: \(why)")
                        }
                    }
                    report.positions += scratch.positionCount
                    report.entries += scratch.entryCount
                } catch {
                    report.problems.append("\(error)")
                }
                done += Int(sh.blocks[b].storedBytes)
                progress?(done, total)
            }
            report.bytes += sh.file.count
        }
        progress?(total, total)
        return report
    }

    /// The `*.lgs` files in the store directory that the manifest does not list, sorted.
    func unlistedShardFiles() -> [String] {
        let listed = Set(manifest.shards.map(\.file))
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        return names.filter { $0.hasSuffix("." + ShardLayout.fileExtension) && !listed.contains($0) }
    }
}
