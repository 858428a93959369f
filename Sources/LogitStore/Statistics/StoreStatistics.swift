import Foundation

/// What a store holds and what it costs on disk: the numbers behind `logitstore inspect`.
///
/// Sizes come from the shard layouts (no decompression); the entries-per-position histogram, the mean
/// kept mass and the teacher perplexity come from one sequential decode of every position.
public struct StoreStatistics: Codable, Equatable, Sendable {
    /// Positions (tokens) in the store.
    public var positions: Int
    /// Sequences in the store.
    public var sequences: Int
    /// Kept entries (id, probability) over all positions; distinct drawn ids for a sampled store.
    public var entries: Int
    /// Shard files listed in the manifest.
    public var shards: Int
    /// Blocks over all shards.
    public var blocks: Int
    /// Bytes on disk: the sum of the shard files (the manifest is not counted).
    public var bytes: Int
    /// `bytes` / `positions`.
    public var bytesPerPosition: Double
    /// `bytes` / `entries`.
    public var bytesPerEntry: Double
    /// `entries` / `positions`.
    public var entriesPerPosition: Double

    /// The teacher's vocabulary size.
    public var vocabSize: Int
    /// The policy's top-p (1 for a sampled store).
    public var topP: Double
    /// The policy's top-k (N for a sampled store).
    public var topK: Int
    /// The teacher temperature τ the entries were made at.
    public var temperature: Double
    /// The teacher's name from the manifest.
    public var teacher: String

    /// Where the bytes go: one share per stream, then block headers, shard headers and the footer indexes.
    public var split: [ByteShare]

    /// Raw size of the kept entries as plain arrays (4-byte id + 2-byte probability per entry) over `bytes`.
    public var ratioVsRaw: Double
    /// Full-vocabulary float32 rows (positions × vocabulary × 4 bytes) over `bytes`.
    public var ratioVsFullFloat32: Double

    /// Positions by number of kept entries: `entryHistogram[n]` positions keep exactly n entries.
    public var entryHistogram: [Int]
    /// Positions at the top-k cap.
    public var positionsAtCap: Int
    /// Mean over positions of the kept probability mass Σp (float16 values summed in double precision).
    public var meanKeptMass: Double
    /// exp(−mean log p(next token)) over positions whose target log-prob is known; nil without that stream.
    public var teacherPerplexity: Double?
    /// Positions that entered the perplexity (finite target log-probs).
    public var perplexityPositions: Int

    /// Which rule made the entries: "top-p-k" or "sample" (manifest `truncation.policy`).
    public var policy: String = TargetPolicyKind.topPK.rawValue
    /// The policy as people read it, e.g. "top-p 0.95, top-k 100" or "sample:64 (τs 1.0, seed 0)".
    public var policyLabel: String = ""
    /// Sampled stores: draws per position N.
    public var samples: Int?
    /// Sampled stores: the proposal temperature τs.
    public var sampleTemperature: Double?
    /// Sampled stores: the seed of the draws.
    public var seed: UInt64?
    /// Sampled stores: "counts" or "importance".
    public var weights: String?
    /// Bytes on disk per token (= per position: a store holds one distribution per input token).
    public var bytesPerToken: Double = 0
    /// Sampled stores: the mean number of distinct drawn ids per position (= entries per position); nil for top-p-k.
    public var distinctIdsPerPosition: Double?
    /// Sampled stores: `distinctIdsHistogram[n]` positions have exactly n distinct ids (the entry histogram); nil for top-p-k.
    public var distinctIdsHistogram: [Int]?

    /// Bytes of one part of the store.
    public struct ByteShare: Codable, Equatable, Sendable {
        /// "tokens", "counts", "ids", "probs", "target_logprobs", "block headers", "shard headers", "index".
        public var part: String
        /// Bytes on disk of this part.
        public var bytes: Int
        /// Raw bytes before compression (streams only; nil for headers and index).
        public var rawBytes: Int?
        /// Share of the store's bytes.
        public var fraction: Double
        /// Bytes of this part per position.
        public var bytesPerPosition: Double
        /// Bytes of this part per entry.
        public var bytesPerEntry: Double
    }

    enum CodingKeys: String, CodingKey {
        case positions, sequences, entries, shards, blocks, bytes, split, teacher, temperature
        case bytesPerPosition = "bytes_per_position", bytesPerEntry = "bytes_per_entry"
        case entriesPerPosition = "entries_per_position"
        case vocabSize = "vocab_size", topP = "top_p", topK = "top_k"
        case ratioVsRaw = "ratio_vs_raw", ratioVsFullFloat32 = "ratio_vs_full_float32"
        case entryHistogram = "entry_histogram", positionsAtCap = "positions_at_cap"
        case meanKeptMass = "mean_kept_mass", teacherPerplexity = "teacher_perplexity"
        case perplexityPositions = "perplexity_positions"
        case policy, policyLabel = "policy_label", samples, sampleTemperature = "sample_temperature", seed, weights
        case bytesPerToken = "bytes_per_token", distinctIdsPerPosition = "distinct_ids_per_position"
        case distinctIdsHistogram = "distinct_ids_histogram"
    }

    /// Sets the policy fields from a store's policy, and the per-token and distinct-id figures from the others.
    mutating func describe(_ t: TruncationPolicy) {
        policy = t.kind.rawValue
        policyLabel = t.label
        samples = t.samples; sampleTemperature = t.sampleTemperature; seed = t.seed; weights = t.weights?.rawValue
        bytesPerToken = bytesPerPosition
        distinctIdsPerPosition = t.isSampled ? entriesPerPosition : nil
        distinctIdsHistogram = t.isSampled ? entryHistogram : nil
    }

    /// Bytes a store of `tokens` positions would take at this store's bytes per position.
    public func projectedBytes(tokens: Double) -> Double { bytesPerPosition * tokens }

    /// The histogram grouped into at most `bins` ranges of entry counts, for display: ranges of equal width over
    /// 1...topK (0 gets its own range when present), each with its position count.
    public func histogramBins(_ bins: Int = 10) -> [(range: ClosedRange<Int>, positions: Int)] {
        let maxCount = entryHistogram.count - 1
        guard maxCount >= 0 else { return [] }
        var out: [(ClosedRange<Int>, Int)] = []
        if entryHistogram.first.map({ $0 > 0 }) ?? false { out.append((0...0, entryHistogram[0])) }
        let top = Swift.max(maxCount, topK)  // the display spans 1...top_k; the histogram itself holds only the data's range
        guard top >= 1 else { return out }
        let width = max(1, (top + bins - 1) / bins)
        var lo = 1
        while lo <= top {
            let hi = min(top, lo + width - 1)
            let n = (lo...hi).reduce(0) { $0 + ($1 < entryHistogram.count ? entryHistogram[$1] : 0) }
            out.append((lo...hi, n))
            lo = hi + 1
        }
        return out
    }
}

extension StoreReader {
    /// Computes the statistics of the whole store. `progress(donePositions, totalPositions)` is called as
    /// the sequential pass advances.
    public func statistics(progress: ((Int, Int) -> Void)? = nil) throws -> StoreStatistics {
        let breakdown = try storageBreakdown()
        var blocks = 0
        for s in 0..<shardCount { blocks += shardLayout(s).blocks.count }

        // One sequential pass over every position.
        var histogram = [0]  // grown from the data (never sized from the manifest's top_k, which may be huge)
        var massSum = 0.0
        var logprobSum = 0.0
        var logprobCount = 0
        var record = SequenceRecord()
        let total = positionCount
        let chunk = 65_536
        var start = 0
        while start < total {
            let end = min(total, start + chunk)
            try read(start..<end, into: &record)
            record.probs.withUnsafeBufferPointer { probs in
                for j in 0..<record.positionCount {
                    let a = record.offsets[j], b = record.offsets[j + 1]
                    let n = b - a
                    if n >= histogram.count { histogram += [Int](repeating: 0, count: n + 1 - histogram.count) }
                    histogram[n] += 1
                    var m = 0.0
                    for i in a..<b { m += Double(Float(probs[i])) }
                    massSum += m
                }
            }
            if let tl = record.targetLogprobs {
                for v in tl where v.isFinite { logprobSum += Double(v); logprobCount += 1 }
            }
            start = end
            progress?(start, total)
        }

        let positions = positionCount, entries = entryCount, bytes = breakdown.totalBytes
        let perPos = positions > 0 ? Double(bytes) / Double(positions) : 0
        let perEntry = entries > 0 ? Double(bytes) / Double(entries) : 0
        func share(_ part: String, _ b: Int, raw: Int?) -> StoreStatistics.ByteShare {
            StoreStatistics.ByteShare(part: part, bytes: b, rawBytes: raw,
                                      fraction: bytes > 0 ? Double(b) / Double(bytes) : 0,
                                      bytesPerPosition: positions > 0 ? Double(b) / Double(positions) : 0,
                                      bytesPerEntry: entries > 0 ? Double(b) / Double(entries) : 0)
        }
        let order = ["tokens", "counts", "ids", "probs", "target_logprobs"]
        let names = breakdown.streamBytes.keys.sorted { (order.firstIndex(of: $0) ?? 99, $0) < (order.firstIndex(of: $1) ?? 99, $1) }
        var split = names.map { share($0, breakdown.streamBytes[$0]!, raw: breakdown.streamRawBytes[$0]) }
        split.append(share("block headers", breakdown.blockHeaderBytes, raw: nil))
        split.append(share("shard headers", breakdown.shardHeaderBytes, raw: nil))
        split.append(share("index", breakdown.indexBytes, raw: nil))

        let k = manifest.truncation.topK
        var stats = StoreStatistics(
            positions: positions, sequences: sequenceCount, entries: entries, shards: shardCount, blocks: blocks,
            bytes: bytes, bytesPerPosition: perPos, bytesPerEntry: perEntry,
            entriesPerPosition: positions > 0 ? Double(entries) / Double(positions) : 0,
            vocabSize: vocabSize, topP: manifest.truncation.topP, topK: k, temperature: manifest.truncation.temperature,
            teacher: manifest.teacher.name, split: split,
            ratioVsRaw: bytes > 0 ? Double(6 * entries) / Double(bytes) : 0,
            ratioVsFullFloat32: bytes > 0 ? Double(positions) * Double(vocabSize) * 4 / Double(bytes) : 0,
            entryHistogram: histogram, positionsAtCap: k < histogram.count ? histogram[k] : 0,
            meanKeptMass: positions > 0 ? massSum / Double(positions) : 0,
            teacherPerplexity: hasTargetLogprobs && logprobCount > 0 ? Foundation.exp(-logprobSum / Double(logprobCount)) : nil,
            perplexityPositions: logprobCount)
        stats.describe(manifest.truncation)
        return stats
    }
}
