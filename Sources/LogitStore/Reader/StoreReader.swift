import Foundation

/// Reads a store: memory-mapped shards, blocks decoded on demand into reused buffers with a small LRU cache.
///
/// Every block's XXH3-64 is checked before it is decoded unless `verifyChecksums` is false; a damaged
/// block throws an error naming shard and block, never wrong data. Not thread-safe: open one reader per thread
/// (opening is cheap; the OS shares the mapped pages).
public final class StoreReader {
    /// The store directory, as given.
    public let directory: String
    /// The validated manifest.
    public let manifest: Manifest
    /// Verify each block's checksum before decoding it (default true).
    public var verifyChecksums: Bool
    /// Decoded blocks kept in memory (default 4).
    public var cacheCapacity = 4

    let shards: [OpenShard]
    /// shardPositionStart[s] = global index of shard s's first position; one extra element at the end.
    let shardPositionStart: [Int]
    let shardSequenceStart: [Int]
    private var cache: [DecodedBlock] = []
    private var cacheStamp: [Int] = []
    private var clock = 0
    private let decoder = BlockDecoder()
    /// Lends its arrays to a record while a whole block is decoded straight into it (see `read`).
    private let direct = DecodedBlock()
    /// Threads that decode the whole blocks of one `read` at once when it spans two or more of them (default: 2, or
    /// 1 when the process may run on one core only, e.g. under `taskset -c 0`; 1 turns it off). The reader itself
    /// stays single-caller: the threads live inside one call.
    public var decodeThreads = Swift.min(2, UsableCores.count)
    private var extraDecoders: [BlockDecoder] = []
    private var parallelBlocks: [DecodedBlock] = []

    /// Sequences in the store, over all shards.
    public var sequenceCount: Int { shardSequenceStart.last! }
    /// Positions in the store, over all shards (global positions are 0..<positionCount).
    public var positionCount: Int { shardPositionStart.last! }
    /// Kept entries in the store, as the manifest records them.
    public var entryCount: Int { manifest.entryCount }
    /// The teacher's vocabulary size V: every stored id is below it.
    public var vocabSize: Int { manifest.vocabSize }
    /// True when every block carries the target-log-prob stream.
    public var hasTargetLogprobs: Bool { manifest.targetLogprobs }
    /// Shards listed in the manifest.
    public var shardCount: Int { shards.count }

    /// Opens the store at `directory`: reads the manifest, maps every shard and checks its header, trailer and index.
    public init(directory: String, verifyChecksums: Bool = true) throws {
        self.directory = directory
        self.verifyChecksums = verifyChecksums
        manifest = try Manifest.load(directory: directory)
        var shards: [OpenShard] = []
        var ps = [0], ss = [0]
        let descriptorHash = manifest.descriptorHash
        for entry in manifest.shards {
            let s = try OpenShard(path: directory + "/" + entry.file, name: elided(entry.file, 160), entry: entry,
                                  vocabSize: manifest.vocabSize, descriptorHash: descriptorHash, verifyIndex: verifyChecksums)
            shards.append(s)
            ps.append(ps.last! + s.positions)
            ss.append(ss.last! + s.sequences.count)
        }
        self.shards = shards
        shardPositionStart = ps
        shardSequenceStart = ss
    }

    // MARK: Addressing

    private func shardIndex(forPosition p: Int) -> Int {
        var lo = 0, hi = shards.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if shardPositionStart[mid] <= p { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    private func shardIndex(forSequence q: Int) -> Int {
        var lo = 0, hi = shards.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if shardSequenceStart[mid] <= q { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    /// Global positions of sequence `index` (precondition: 0 ≤ index < sequenceCount).
    public func sequenceRange(_ index: Int) -> Range<Int> {
        precondition(index >= 0 && index < sequenceCount, "sequence \(index) out of range 0..<\(sequenceCount)")
        let s = shardIndex(forSequence: index)
        let e = shards[s].sequences[index - shardSequenceStart[s]]
        let start = shardPositionStart[s] + Int(e.firstPosition)
        return start..<(start + Int(e.length))
    }

    /// The sequence holding global position `p`.
    public func sequenceIndex(containing p: Int) throws -> Int {
        guard p >= 0 && p < positionCount else { throw StoreError.outOfRange("position \(p) (store has \(positionCount))") }
        let s = shardIndex(forPosition: p)
        let local = UInt64(p - shardPositionStart[s])
        let seqs = shards[s].sequences
        var lo = 0, hi = seqs.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) >> 1
            if seqs[mid].firstPosition <= local { lo = mid } else { hi = mid - 1 }
        }
        return shardSequenceStart[s] + lo
    }

    // MARK: Reading

    /// One whole sequence.
    public func sequence(_ index: Int) throws -> SequenceRecord {
        guard index >= 0 && index < sequenceCount else { throw StoreError.outOfRange("sequence \(index) (store has \(sequenceCount))") }
        return try positions(sequenceRange(index))
    }

    /// Any global position range; it may cross sequence, block and shard boundaries.
    public func positions(_ range: Range<Int>) throws -> SequenceRecord {
        var r = SequenceRecord()
        try read(range, into: &r)
        return r
    }

    /// Like `positions(_:)` but reuses `record`'s storage (for streaming without allocation).
    public func read(_ range: Range<Int>, into record: inout SequenceRecord) throws {
        guard range.lowerBound >= 0, range.upperBound <= positionCount else {
            throw StoreError.outOfRange("positions \(range) (store has \(positionCount))")
        }
        record.tokens.removeAll(keepingCapacity: true)
        record.offsets.removeAll(keepingCapacity: true)
        record.offsets.append(0)
        record.ids.removeAll(keepingCapacity: true)
        record.probs.removeAll(keepingCapacity: true)
        record.truncation = manifest.truncation
        if hasTargetLogprobs {
            if record.targetLogprobs == nil { record.targetLogprobs = [] }
            record.targetLogprobs!.removeAll(keepingCapacity: true)
        } else { record.targetLogprobs = nil }
        var p = range.lowerBound
        while p < range.upperBound {
            if decodeThreads > 1 {
                let run = wholeUncachedBlocks(from: p, to: range.upperBound)
                if run.count >= 2 {
                    p += try decodeInParallel(run, appendingTo: &record)
                    continue
                }
            }
            let s = shardIndex(forPosition: p)
            let local = p - shardPositionStart[s]
            let b = shards[s].blockIndex(forPosition: local)
            let first = Int(shards[s].blocks[b].firstPosition)
            let blockPositions = Int(shards[s].blocks[b].positionCount)
            if local == first && blockPositions <= range.upperBound - p && !isCached(shard: s, block: b) {
                // The whole block is wanted and not cached: decode it straight onto the end of the record
                // (no copy; the block is not cached, as a read that wants all of it will not ask for it again soon).
                try decodeAppending(shard: s, block: b, to: &record)
                p += blockPositions
                continue
            }
            let blk = try decoded(shard: s, block: b)
            let a = local - first
            let e = Swift.min(blk.positionCount, a + (range.upperBound - p))
            append(blk, a, e, to: &record)
            p += e - a
        }
    }

    /// The blocks that start at global position p and lie wholly before `end`, none of them cached, in order
    /// (possibly across shards).
    private func wholeUncachedBlocks(from p0: Int, to end: Int) -> [(shard: Int, block: Int)] {
        var run: [(shard: Int, block: Int)] = []
        var p = p0
        while p < end {
            let s = shardIndex(forPosition: p)
            let local = p - shardPositionStart[s]
            let b = shards[s].blockIndex(forPosition: local)
            let n = Int(shards[s].blocks[b].positionCount)
            guard local == Int(shards[s].blocks[b].firstPosition), n <= end - p, !isCached(shard: s, block: b) else { break }
            run.append((s, b))
            p += n
        }
        return run
    }

    /// Decodes `run` on up to `decodeThreads` threads (each with its own decoder and buffers), then appends the
    /// blocks to `record` in order. Returns the positions appended. The first failing block's error is thrown.
    private func decodeInParallel(_ run: [(shard: Int, block: Int)], appendingTo record: inout SequenceRecord) throws -> Int {
        let n = run.count, threads = Swift.min(decodeThreads, n)
        while parallelBlocks.count < n { parallelBlocks.append(DecodedBlock()) }
        while extraDecoders.count < threads - 1 { extraDecoders.append(BlockDecoder()) }
        // Shared lazily-built state (each shard's id table) is built here, before the threads start.
        for s in Set(run.map(\.shard)) { _ = try shards[s].idTable(vocabSize: vocabSize, verify: verifyChecksums) }
        var errors = [Error?](repeating: nil, count: n)
        let blocks = parallelBlocks, decoders = [decoder] + extraDecoders
        errors.withUnsafeMutableBufferPointer { errs in
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var i = t
                while i < n {
                    do { try decode(shard: run[i].shard, block: run[i].block, into: blocks[i], using: decoders[t]) } catch { errs[i] = error }
                    i += threads
                }
            }
        }
        if let e = errors.lazy.compactMap({ $0 }).first { throw e }
        var positions = 0
        for i in 0..<n {
            append(blocks[i], 0, blocks[i].positionCount, to: &record)
            positions += blocks[i].positionCount
        }
        return positions
    }

    @inline(__always)
    private func append(_ blk: DecodedBlock, _ a: Int, _ e: Int, to r: inout SequenceRecord) {
        r.tokens.append(contentsOf: blk.tokens[a..<e])
        let ea = blk.offsets[a], ee = blk.offsets[e]
        let shift = r.ids.count - ea
        for j in (a + 1)...e { r.offsets.append(blk.offsets[j] + shift) }
        r.ids.append(contentsOf: blk.ids[ea..<ee])
        r.probs.append(contentsOf: blk.probs[ea..<ee])
        if r.targetLogprobs != nil {
            r.targetLogprobs!.append(contentsOf: blk.targets![a..<e])
        }
    }

    private func isCached(shard s: Int, block b: Int) -> Bool {
        cache.contains { $0.shard == s && $0.block == b }
    }

    /// Decodes block b of shard s onto the end of `record` (its arrays are lent to `direct` meanwhile).
    private func decodeAppending(shard s: Int, block b: Int, to record: inout SequenceRecord) throws {
        swap(&direct.tokens, &record.tokens); swap(&direct.offsets, &record.offsets)
        swap(&direct.ids, &record.ids); swap(&direct.probs, &record.probs)
        direct.targets = record.targetLogprobs; record.targetLogprobs = nil
        defer {
            swap(&direct.tokens, &record.tokens); swap(&direct.offsets, &record.offsets)
            swap(&direct.ids, &record.ids); swap(&direct.probs, &record.probs)
            record.targetLogprobs = direct.targets; direct.targets = nil
        }
        try decode(shard: s, block: b, into: direct, appending: true)
    }

    /// The decoded block (from the cache when present).
    func decoded(shard s: Int, block b: Int) throws -> DecodedBlock {
        for (i, c) in cache.enumerated() where c.shard == s && c.block == b {
            clock += 1; cacheStamp[i] = clock
            return c
        }
        let target: DecodedBlock
        let slot: Int
        if cache.count < Swift.max(1, cacheCapacity) {
            target = DecodedBlock(); cache.append(target); cacheStamp.append(0); slot = cache.count - 1
        } else {
            slot = cacheStamp.indices.min { cacheStamp[$0] < cacheStamp[$1] }!
            target = cache[slot]
        }
        target.shard = -1; target.block = -1
        try decode(shard: s, block: b, into: target)
        target.shard = s; target.block = b
        clock += 1; cacheStamp[slot] = clock
        return target
    }

    func decode(shard s: Int, block b: Int, into target: DecodedBlock, forceVerify: Bool = false, appending: Bool = false,
                using blockDecoder: BlockDecoder? = nil) throws {
        let decoder = blockDecoder ?? self.decoder
        let sh = shards[s]
        let e = sh.blocks[b]
        let bytes = sh.blockBytes(b)
        if (verifyChecksums || forceVerify) && Checksum.xxh3(bytes) != e.checksum {
            throw StoreError.checksumMismatch(file: sh.name, block: b, what: "block data")
        }
        let vocab = vocabSize, verify = verifyChecksums || forceVerify
        let hadTargets = try decoder.decode(bytes, file: sh.name, block: b, positions: Int(e.positionCount), entries: Int(e.entryCount),
                                            rawBytes: Int(e.rawBytes), maxCount: manifest.truncation.topK, vocabSize: vocab, idTable: { try sh.idTable(vocabSize: vocab, verify: verify) },
                                            into: target, appending: appending)
        if hasTargetLogprobs && !hadTargets {
            throw StoreError.corrupt(file: sh.name, block: b, detail: "target-log-prob stream missing (the manifest says the store has it)")
        }
        if !hasTargetLogprobs && hadTargets {
            throw StoreError.corrupt(file: sh.name, block: b, detail: "block carries the target-log-prob stream but the manifest says target_logprobs false")
        }
        if appending { return }
        if !hasTargetLogprobs { target.targets = nil }
    }
}
