import Foundation

/// What `verify` checked and what it found.
public struct VerifyReport: Sendable {
    public var shards = 0
    public var blocks = 0
    public var positions = 0
    public var entries = 0
    public var bytes = 0
    /// One line per failure (shard, block and what failed). Empty when the store is intact.
    public var problems: [String] = []
    public var ok: Bool { problems.isEmpty }
}

extension StoreReader {
    /// Checks every shard's whole-file XXH3-64 against the manifest, then every block's checksum and decode
    /// (stream table, sizes, ids below the vocabulary, counts in 1...top_k summing to the entries, the target-log-prob
    /// stream against the manifest), the probabilities of every position (Spec §5: finite, +0 or positive, ≤ 1,
    /// non-increasing, Σ ≤ 1 + n·2^-11; on a sampled store Σ = 1 within n·2^-11, and with counts weights every
    /// probability a multiple of 1/N and Σ exactly 1), and that the store directory holds no `*.lgs` file the
    /// manifest does not list. Collects every failure rather than stopping at the first.
    /// `progress(doneBytes, totalBytes)` is called after each block.
    public func verify(progress: ((Int, Int) -> Void)? = nil) throws -> VerifyReport {
        var report = VerifyReport()
        let total = manifest.byteCount
        var done = 0
        let scratch = DecodedBlock()
        report.problems += unlistedShardFiles()
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
                    if let why = ProbabilityRules(manifest.truncation).firstViolation(in: scratch) {
                        throw StoreError.corrupt(file: sh.name, block: b, detail: why)
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

    /// One problem line per `*.lgs` file in the store directory that the manifest does not list.
    func unlistedShardFiles() -> [String] {
        let listed = Set(manifest.shards.map(\.file))
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        return names.filter { $0.hasSuffix("." + ShardLayout.fileExtension) && !listed.contains($0) }.map {
            "unlisted shard: \(elided($0)) is in the store directory but not in the manifest (a crash leftover, or a shard whose manifest entry was lost)"
        }
    }
}

/// The per-position probability rules of Spec/FORMAT.md §5, checked by `verify`.
struct ProbabilityRules {
    let sampled: Bool
    /// N when every probability must be a multiple of 1/N (sampled store, counts weights).
    let countsOf: Int?

    init(_ policy: TruncationPolicy) {
        sampled = policy.isSampled
        countsOf = policy.isSampled && policy.weights == .counts ? policy.samples : nil
    }

    /// A description of the first position that breaks the rules, or nil.
    func firstViolation(in blk: DecodedBlock) -> String? {
        for j in 0..<blk.positionCount {
            let a = blk.offsets[j], b = blk.offsets[j + 1]
            var sum = 0.0
            var previous = Float16.infinity
            for i in a..<b {
                let p = blk.probs[i]
                guard p.isFinite, p >= 0, p.bitPattern != 0x8000, p <= 1 else { return "position \(j) of the block has probability \(p) (bits 0x\(String(p.bitPattern, radix: 16)))" }
                guard p <= previous else { return "position \(j) of the block: probabilities are not non-increasing (\(previous) then \(p))" }
                previous = p
                sum += Double(p)
                if let n = countsOf {
                    let c = Double(p) * Double(n)
                    guard c == c.rounded() else { return "position \(j) of the block: probability \(p) is not a multiple of 1/\(n)" }
                }
            }
            let slack = Double(b - a) * 0x1p-11
            if countsOf != nil {
                guard sum == 1 else { return "position \(j) of the block: counts weights sum to \(sum), not exactly 1" }
            } else if sampled {
                guard abs(sum - 1) <= slack else { return "position \(j) of the block: sampled weights sum to \(sum), not 1 within \(slack)" }
            } else {
                guard sum <= 1 + slack else { return "position \(j) of the block: kept probabilities sum to \(sum), more than 1 + \(slack)" }
            }
        }
        return nil
    }
}
