/// One block's logical content, as the writer accumulates it.
struct BlockContent {
    var tokens: [UInt32] = []
    var counts: [UInt32] = []
    var ids: [UInt32] = []
    var probs: [UInt16] = []
    var targets: [UInt32]? = nil

    var positionCount: Int { tokens.count }
    var entryCount: Int { ids.count }
    /// Logical raw size used for the block-size target: 4 B token + 4 B count (+ 4 B target) per position, 6 B per entry.
    var logicalBytes: Int { tokens.count * (targets == nil ? 8 : 12) + ids.count * 6 }

    mutating func removeAll() {
        tokens.removeAll(keepingCapacity: true); counts.removeAll(keepingCapacity: true)
        ids.removeAll(keepingCapacity: true); probs.removeAll(keepingCapacity: true)
        targets?.removeAll(keepingCapacity: true)
    }
}

/// How each stream is filtered: the writer's choice, recorded per stream in every block.
public struct EncodingPlan: Sendable, Equatable {
    /// Filter of the tokens stream.
    public var tokens: FilterID = .shuffle
    /// Filter of the counts stream.
    public var counts: FilterID = .shuffle
    /// Filter of the ids stream (ranks under the shard's id table by default).
    public var ids: FilterID = .rankShuffle
    /// Filter of the probabilities stream (deltas of the float16 bit patterns by default).
    public var probs: FilterID = .deltaShuffle
    /// Filter of the target-log-prob stream.
    public var targets: FilterID = .shuffle
    /// The default plan.
    public init() {}
    /// The format's default choice (Spec/DESIGN.md gives the measurements behind it).
    public static let `default` = EncodingPlan()
}

/// Per-stream description of one block, as stored in its stream table.
public struct StreamInfo: Sendable, Equatable {
    /// Stream type id; `StreamType(rawValue:)` is nil for types this reader does not know.
    public var type: UInt16
    /// The descriptor's required flag: a reader that does not know the type must reject the block.
    public var required: Bool
    /// Codec id of the stored payload (0 none, 1 lz4, 2 zstd).
    public var codec: UInt8
    /// Filter id applied before the codec.
    public var filter: UInt8
    /// Bytes per element after the filter (1, 2 or 4).
    public var width: Int
    /// Bytes stored in the file for this stream (after filter and codec).
    public var storedBytes: Int
    /// Bytes after the filter, before the codec (= elements × width).
    public var rawBytes: Int
    /// Payload offset relative to the start of the block.
    var payloadOffset: Int

    /// The stream's name, or "unknown(<type>)" for a type this reader does not know.
    public var name: String { StreamType(rawValue: type)?.description ?? "unknown(\(type))" }
}

/// Serialises blocks: header, stream table, payloads.
final class BlockEncoder {
    private let compressor = Compressor()
    private var raw: [UInt8] = []
    private var payloads: [UInt8] = []

    /// Encodes `c` and appends the block bytes to `out`. Returns the block's raw (filtered) byte count.
    private var ranks: [UInt32] = []

    /// `rankOfId` (π⁻¹ of the shard's id table) is required when `plan.ids` is `.rankShuffle`.
    func encode(_ c: BlockContent, codec: Codec, plan: EncodingPlan, rankOfId: [UInt32]?, into out: inout [UInt8]) throws -> Int {
        payloads.removeAll(keepingCapacity: true)
        var descriptors: [(StreamType, UInt8, FilterID, Int, Int, Int)] = []  // type, codec, filter, width, stored, raw
        func add<T: FixedWidthInteger & UnsignedInteger>(_ type: StreamType, _ values: [T], _ filter: FilterID, width fixed: Int? = nil) throws {
            let w: Int
            if let fixed { w = fixed } else {
                var m: UInt32 = 0
                for v in values { m = Swift.max(m, UInt32(truncatingIfNeeded: v)) }
                w = Filters.width(forMax: m)
            }
            raw.removeAll(keepingCapacity: true)
            values.withUnsafeBufferPointer { Filters.encode($0.baseAddress ?? UnsafePointer(bitPattern: 8)!, count: values.count, width: w, filter: filter, into: &raw) }
            let before = payloads.count
            let used = try raw.withUnsafeBytes { try compressor.compress($0, codec: codec, into: &payloads) }
            descriptors.append((type, used.rawValue, filter, w, payloads.count - before, raw.count))
        }
        try add(.tokens, c.tokens, plan.tokens)
        try add(.counts, c.counts, plan.counts)
        if plan.ids == .rankShuffle {
            guard let rankOfId else { throw StoreError.invalidInput("rank filter without an id table") }
            ranks.removeAll(keepingCapacity: true)
            for id in c.ids { ranks.append(rankOfId[Int(id)]) }
            try add(.ids, ranks, .rankShuffle)
        } else {
            try add(.ids, c.ids, plan.ids)
        }
        try add(.probs, c.probs, plan.probs, width: 2)
        if let t = c.targets { try add(.targetLogprobs, t, plan.targets, width: 4) }

        BlockHeader(streamCount: UInt16(descriptors.count), positionCount: UInt32(c.positionCount), entryCount: UInt32(c.entryCount))
            .serialize(into: &out)
        var rawTotal = 0
        for (type, codecID, filter, w, stored, rawBytes) in descriptors {
            StreamDescriptor(type: type.rawValue, required: type.required, codec: codecID, filter: filter.rawValue, width: UInt8(w),
                             storedBytes: UInt32(stored), rawBytes: UInt32(rawBytes)).serialize(into: &out)
            rawTotal += rawBytes
        }
        out.append(contentsOf: payloads)
        return rawTotal
    }
}

/// A decoded block, reused across decodes.
final class DecodedBlock {
    var positionCount = 0
    var entryCount = 0
    var tokens: [UInt32] = []
    /// positionCount + 1 local entry offsets.
    var offsets: [Int] = [0]
    var ids: [UInt32] = []
    var probs: [Float16] = []
    var targets: [Float]? = nil
    /// Cache key.
    var shard = -1
    var block = -1
}

/// Parses a block's stream table (no decompression). `bytes` is the whole block.
func parseStreamTable(_ bytes: UnsafeRawBufferPointer, file: String, block: Int,
                      positions: Int, entries: Int) throws -> [StreamInfo] {
    func bad(_ s: String) -> StoreError { .corrupt(file: file, block: block, detail: s) }
    var c = ByteReader(bytes)
    let header: BlockHeader
    do { header = try BlockHeader(parsing: &c) } catch { throw bad(error.description) }
    guard Int(header.positionCount) == positions, Int(header.entryCount) == entries else {
        throw bad("block header says \(header.positionCount) positions / \(header.entryCount) entries, index says \(positions) / \(entries)")
    }
    let n = Int(header.streamCount)
    var infos: [StreamInfo] = []
    var payload = BlockHeader.size + n * StreamDescriptor.size
    guard payload <= bytes.count else { throw bad("stream table runs past the block end") }
    infos.reserveCapacity(n)
    for _ in 0..<n {
        let d: StreamDescriptor
        do { d = try StreamDescriptor(parsing: &c) } catch { throw bad(error.description) }
        let stored = Int(d.storedBytes)
        guard stored <= bytes.count - payload else { throw bad("stream \(d.type) payload (\(stored) bytes) runs past the block end") }
        infos.append(StreamInfo(type: d.type, required: d.required, codec: d.codec, filter: d.filter, width: Int(d.width),
                                storedBytes: stored, rawBytes: Int(d.rawBytes), payloadOffset: payload))
        payload += stored
    }
    guard payload == bytes.count else { throw bad("block has \(bytes.count - payload) bytes after its last stream") }
    return infos
}

/// Decodes block bytes (checksum already verified by the caller) into `out`.
final class BlockDecoder {
    private let compressor = Compressor()
    private var raw: UnsafeMutableRawPointer = .allocate(byteCount: 1 << 20, alignment: 64)
    private var rawCapacity = 1 << 20
    private var counts: [UInt32] = []

    deinit { raw.deallocate() }

    /// `rawBytes` is the block entry's raw size (it MUST equal Σ of the streams' raw sizes); `maxCount` bounds every
    /// count (the store's top_k). `idTable` returns the shard's π (rank → id); called only for an ids stream with the
    /// rank filter.
    /// With `appending`, the block is added after what `out` already holds (a record being assembled:
    /// `out.offsets` has tokens.count + 1 entries ending at ids.count, and `out.targets` is non-nil exactly when
    /// target log-probs are wanted); `positionCount` and `entryCount` are then left alone. Returns whether the
    /// block has a target-log-prob stream.
    @discardableResult
    func decode(_ bytes: UnsafeRawBufferPointer, file: String, block: Int, positions: Int, entries: Int, rawBytes: Int,
                maxCount: Int, vocabSize: Int, idTable: () throws -> RankMap?, into out: DecodedBlock, appending: Bool = false) throws -> Bool {
        func bad(_ s: String) -> StoreError { .corrupt(file: file, block: block, detail: s) }
        let infos = try parseStreamTable(bytes, file: file, block: block, positions: positions, entries: entries)
        var previousType = 0
        var rawSum = 0
        for info in infos {
            guard Int(info.type) > previousType else {
                throw bad("stream \(info.name) is out of order or repeated (stream types must be strictly ascending)")
            }
            previousType = Int(info.type)
            rawSum += info.rawBytes
        }
        guard rawSum == rawBytes else { throw bad("streams' raw sizes sum to \(rawSum), the block entry says \(rawBytes)") }
        var seen = Set<UInt16>()
        // Where this block's values start in out's arrays (0 unless appending).
        let pBase = appending ? out.tokens.count : 0
        let eBase = appending ? out.ids.count : 0
        if appending {
            guard out.offsets.count == pBase + 1, out.offsets[pBase] == eBase, out.probs.count == eBase,
                  out.targets.map({ $0.count == pBase }) ?? true else {
                preconditionFailure("BlockDecoder: inconsistent record to append to")
            }
        } else {
            out.positionCount = positions
            out.entryCount = entries
            out.targets = nil
        }
        for info in infos {
            guard seen.insert(info.type).inserted else { throw bad("stream \(info.name) appears twice") }
            guard let type = StreamType(rawValue: info.type) else {
                if info.required { throw bad("required stream type \(info.type) is unknown to this reader (format too new)") }
                continue  // unknown optional stream: skipped
            }
            let n = type.perPosition ? positions : entries
            guard let filter = FilterID(rawValue: info.filter) else { throw bad("stream \(type) has unknown filter \(info.filter)") }
            guard filter != .rankShuffle || type == .ids else { throw bad("stream \(type) uses the rank filter, which only ids may use") }
            guard let codec = CodecID(rawValue: info.codec) else { throw bad("stream \(type) has unknown codec \(info.codec)") }
            guard info.required == type.required else {
                throw bad("stream \(type) has the required flag \(info.required ? "set" : "clear"); it must be \(type.required ? "set" : "clear")")
            }
            let validWidth = type == .probs ? info.width == 2 : (type == .targetLogprobs ? info.width == 4 : [1, 2, 4].contains(info.width))
            guard validWidth else { throw bad("stream \(type) has invalid width \(info.width)") }
            guard info.rawBytes == n * info.width else { throw bad("stream \(type) raw size \(info.rawBytes) is not \(n) × \(info.width)") }
            guard info.rawBytes > 0 || codec == .none else { throw bad("empty stream \(type) must use codec 0 (none)") }
            if info.rawBytes > rawCapacity {
                raw.deallocate(); rawCapacity = info.rawBytes; raw = .allocate(byteCount: rawCapacity, alignment: 64)
            }
            let src = UnsafeRawBufferPointer(rebasing: bytes[info.payloadOffset..<(info.payloadOffset + info.storedBytes)])
            if let err = compressor.decompress(src, codec: codec, into: UnsafeMutableRawBufferPointer(start: raw, count: info.rawBytes)) {
                throw StoreError.codec(file: file, block: block, detail: "stream \(type): \(err)")
            }
            let r = raw.assumingMemoryBound(to: UInt8.self)
            switch type {
            case .tokens:
                resize(&out.tokens, pBase + n)
                let maxToken = out.tokens.withUnsafeMutableBufferPointer { b -> UInt32 in
                    Filters.decode(r, count: n, width: info.width, filter: filter, into: b.baseAddress! + pBase)
                    var m: UInt32 = 0
                    for v in b[pBase...] { m = Swift.max(m, v) }
                    return m
                }
                if n > 0 && Int(maxToken) >= vocabSize { throw bad("token \(maxToken) is not below the vocabulary size \(vocabSize)") }
            case .counts:
                resize(&counts, n)
                counts.withUnsafeMutableBufferPointer { Filters.decode(r, count: n, width: info.width, filter: filter, into: $0.baseAddress!) }
            case .ids:
                resize(&out.ids, eBase + n)
                if filter == .rankShuffle {
                    guard let perm = try idTable() else { throw bad("ids use the rank filter but the shard has no id table") }
                    let bad = out.ids.withUnsafeMutableBufferPointer { b -> Bool in
                        !Filters.decodeRanks(r, count: n, width: info.width, table: perm, into: b.baseAddress! + eBase)
                    }
                    if bad { throw StoreError.corrupt(file: file, block: block, detail: "id rank outside the id table") }
                    continue
                }
                let maxID = out.ids.withUnsafeMutableBufferPointer { b -> UInt32 in
                    Filters.decode(r, count: n, width: info.width, filter: filter, into: b.baseAddress! + eBase)
                    var m: UInt32 = 0
                    for v in b[eBase...] { m = Swift.max(m, v) }
                    return m
                }
                if n > 0 && Int(maxID) >= vocabSize { throw bad("id \(maxID) is not below the vocabulary size \(vocabSize)") }
            case .probs:
                resize(&out.probs, eBase + n)
                out.probs.withUnsafeMutableBufferPointer { b in
                    b.withMemoryRebound(to: UInt16.self) { Filters.decode(r, count: n, width: 2, filter: filter, into: $0.baseAddress! + eBase) }
                }
            case .targetLogprobs:
                if appending && out.targets == nil { continue }  // not wanted
                var t = out.targets ?? []
                out.targets = nil  // t is then the array's only reference: resizing it does not copy
                resize(&t, pBase + n)
                t.withUnsafeMutableBufferPointer { b in
                    b.withMemoryRebound(to: UInt32.self) { Filters.decode(r, count: n, width: 4, filter: filter, into: $0.baseAddress! + pBase) }
                }
                out.targets = t
            }
        }
        for t in StreamType.allCases where t.required && !seen.contains(t.rawValue) {
            throw bad("required stream \(t) is missing")
        }
        // Counts → offsets, checked against the entry count; every count is in 1...maxCount.
        resize(&out.offsets, pBase + positions + 1)
        var outOfRange: UInt32? = nil
        let total = out.offsets.withUnsafeMutableBufferPointer { o -> Int in
            var s = 0
            o[pBase] = eBase
            for j in 0..<positions {
                let c = counts[j]
                if c == 0 || Int(c) > maxCount { outOfRange = c }
                s += Int(c); o[pBase + j + 1] = eBase + s
            }
            return s
        }
        if let c = outOfRange { throw bad("a position keeps \(c) entries; counts must be in 1...\(maxCount) (top_k)") }
        guard total == entries else { throw bad("counts sum to \(total), the block holds \(entries) entries") }
        return seen.contains(StreamType.targetLogprobs.rawValue)
    }

    @inline(__always) private func resize<T: FixedWidthInteger>(_ a: inout [T], _ n: Int) {
        if a.count != n { if a.count > n { a.removeSubrange(n...) } else { a.append(contentsOf: repeatElement(0, count: n - a.count)) } }
    }
    @inline(__always) private func resize(_ a: inout [Float16], _ n: Int) {
        if a.count != n { if a.count > n { a.removeSubrange(n...) } else { a.append(contentsOf: repeatElement(0, count: n - a.count)) } }
    }
    @inline(__always) private func resize(_ a: inout [Float], _ n: Int) {
        if a.count != n { if a.count > n { a.removeSubrange(n...) } else { a.append(contentsOf: repeatElement(0, count: n - a.count)) } }
    }
}
