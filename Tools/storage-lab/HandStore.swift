import Foundation
import LogitStore

/// A store assembled byte by byte from the Spec's tables (not by the writer), so that a must-reject vector can break
/// exactly one rule while every checksum and every other field stays valid. Streams use filter 0 and codec 0 unless
/// a knob says otherwise; one shard (`v-000000.lgs`, writer `v`), one block, sequences of the given lengths.
struct HandStore {
    /// Per position: token, kept ids, float16 probability bits.
    var positions: [(token: UInt32, ids: [UInt32], probs: [UInt16])] = [
        (5, [3, 7], [0x3800, 0x3400]),   // 0.5, 0.25
        (3, [1], [0x3A00]),              // 0.75
        (9, [2, 4, 6], [0x3400, 0x3000, 0x2C00]),  // 0.25, 0.125, 0.0625
        (1, [9], [0x3C00]),              // 1.0
    ]
    var sequenceLengths = [3, 1]
    var vocabSize = 10
    var topK = 4
    /// Target log-prob float32 bits per position, or nil for no stream 5.
    var targets: [UInt32]? = nil

    // Knobs that break one rule each.
    var headerMajor: UInt16 = ShardLayout.versionMajor
    var headerFlags: UInt32 = 0
    var descriptorHashOverride: UInt64? = nil
    var swapStreams = false
    var unknownStream: (type: UInt16, required: Bool)? = nil
    var rawSizeDelta: Int = 0
    var gapAfterBlock = 0
    /// Zstandard payload variant for the tokens stream (hand-written frames with one raw block, RFC 8878).
    var tokensZstd: ZstdVariant? = nil
    /// Overrides per stream type: codec id, filter id, width, required flag (applied to the descriptor only).
    var descriptorOverrides: [UInt16: (codec: UInt8?, filter: UInt8?, width: UInt8?, required: Bool?)] = [:]
    /// When set, the shard has this id table (§4.6, codec 0, filter 0, width 4) and the ids stream uses
    /// rank+shuffle (filter 3) at width 1.
    var idTable: [UInt32]? = nil
    /// Adds this to the first stored rank (to push it out of range).
    var firstRankDelta: UInt32 = 0
    /// Replaces the counts stream's values (entries keep their order).
    var countsOverride: [UInt32]? = nil

    enum ZstdVariant { case valid, noContentSize, wrongContentSize, dictionary, trailingByte, skippableFirst }

    /// The manifest this store is honest about.
    var manifest: Manifest {
        Manifest(vocabSize: vocabSize, paddedVocabSize: nil, truncation: TruncationPolicy(topP: 1, topK: topK),
                 teacher: TeacherIdentity(name: "hand", tokenizerHash: "T"), targetLogprobs: targets != nil)
    }

    /// One Zstandard frame holding `raw` in a single raw block, with the frame header the variant asks for.
    static func zstdFrame(_ raw: [UInt8], _ variant: ZstdVariant) -> [UInt8] {
        precondition(raw.count < 256)
        var f: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]
        switch variant {
        case .noContentSize: f += [0x00, 0x00]                       // no single segment, no FCS; window descriptor 0
        case .dictionary: f += [0x21, 0x07, UInt8(raw.count)]        // single segment, 1-byte dictionary id 7, FCS
        case .wrongContentSize: f += [0x20, UInt8(raw.count + 1)]
        default: f += [0x20, UInt8(raw.count)]                       // single segment, 1-byte FCS
        }
        let blockHeader = UInt32(1) | UInt32(raw.count) << 3        // last block, raw, size
        f += [UInt8(blockHeader & 0xFF), UInt8((blockHeader >> 8) & 0xFF), UInt8(blockHeader >> 16)]
        f += raw
        switch variant {
        case .trailingByte: f.append(0)
        case .skippableFirst: f = [0x50, 0x2A, 0x4D, 0x18, 1, 0, 0, 0, 0xEE] + f
        default: break
        }
        return f
    }

    static func le<T: FixedWidthInteger>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v.littleEndian) { Array($0) } }

    /// The block bytes and its raw size.
    func block() -> ([UInt8], Int) {
        let counts = countsOverride ?? positions.map { UInt32($0.ids.count) }
        var streams: [(type: UInt16, required: Bool, width: UInt8, raw: [UInt8], codec: UInt8, payload: [UInt8])] = []
        var descriptorFilters: [UInt16: UInt8] = [:]
        func add(_ type: UInt16, _ required: Bool, _ width: UInt8, _ raw: [UInt8]) { streams.append((type, required, width, raw, 0, raw)) }
        add(1, true, 4, positions.flatMap { Self.le($0.token) })
        if let v = tokensZstd { streams[0].codec = 2; streams[0].payload = Self.zstdFrame(streams[0].raw, v) }
        add(2, true, 4, counts.flatMap { Self.le($0) })
        if let table = idTable {
            // π⁻¹(id): its index among the listed ids, else n + the number of unlisted ids below it.
            func rank(_ id: UInt32) -> UInt32 {
                if let r = table.firstIndex(of: id) { return UInt32(r) }
                return UInt32(table.count) + id - UInt32(table.filter { $0 < id }.count)
            }
            var ranks = positions.flatMap { $0.ids.map(rank) }
            ranks[0] += firstRankDelta
            add(3, true, 1, ranks.map { UInt8($0) })  // width 1: the shuffle of 1-byte elements is the bytes themselves
            streams[streams.count - 1].codec = 0
            descriptorFilters[3] = 3
        } else {
            add(3, true, 4, positions.flatMap { $0.ids.flatMap { Self.le($0) } })
        }
        add(4, true, 2, positions.flatMap { $0.probs.flatMap { Self.le($0) } })
        if let t = targets { add(5, false, 4, t.flatMap { Self.le($0) }) }
        if let u = unknownStream { add(u.type, u.required, 1, [1, 2, 3]) }
        if swapStreams { streams.swapAt(0, 1) }
        let entries = positions.reduce(0) { $0 + $1.ids.count }
        var out = BlockHeader(streamCount: UInt16(streams.count), positionCount: UInt32(positions.count), entryCount: UInt32(entries)).bytes
        for s in streams {
            let o = descriptorOverrides[s.type]
            StreamDescriptor(type: s.type, required: o?.required ?? s.required, codec: o?.codec ?? s.codec, filter: o?.filter ?? descriptorFilters[s.type] ?? 0,
                             width: o?.width ?? s.width, storedBytes: UInt32(s.payload.count), rawBytes: UInt32(s.raw.count)).serialize(into: &out)
        }
        for s in streams { out += s.payload }
        return (out, streams.reduce(0) { $0 + $1.raw.count })
    }

    /// The shard file bytes.
    func shard() -> [UInt8] {
        var out = ShardHeader(versionMajor: headerMajor, vocabSize: UInt64(vocabSize),
                              descriptorHash: descriptorHashOverride ?? manifest.descriptorHash).bytes
        if headerFlags != 0 { out.replaceSubrange(12..<16, with: Self.le(headerFlags)) }
        let (blk, raw) = block()
        let entry = BlockEntry(offset: UInt64(out.count), firstPosition: 0, firstEntry: 0, storedBytes: UInt32(blk.count),
                               rawBytes: UInt32(raw + rawSizeDelta), positionCount: UInt32(positions.count),
                               entryCount: UInt32(positions.reduce(0) { $0 + $1.ids.count }),
                               checksum: Checksum.xxh3(blk))
        out += blk
        out += [UInt8](repeating: 0, count: gapAfterBlock)
        var tableOffset: UInt64 = 0, tableLength: UInt64 = 0, tableSum: UInt64 = 0
        if let table = idTable {
            let payload = table.flatMap { Self.le($0) }
            let section = IdTableHeader(codec: 0, filter: 0, width: 4, count: UInt32(table.count), rawBytes: UInt32(payload.count),
                                        storedBytes: UInt32(payload.count)).bytes + payload
            tableOffset = UInt64(out.count); tableLength = UInt64(section.count); tableSum = Checksum.xxh3(section)
            out += section
        }
        var index = IndexHeader(blockCount: 1, sequenceCount: UInt64(sequenceLengths.count), positionCount: UInt64(positions.count),
                                entryCount: UInt64(entry.entryCount), idTableOffset: tableOffset, idTableLength: tableLength,
                                idTableChecksum: tableSum).bytes
        entry.serialize(into: &index)
        var first = 0
        for n in sequenceLengths { SequenceEntry(firstPosition: UInt64(first), length: UInt64(n)).serialize(into: &index); first += n }
        let trailer = ShardTrailer(indexOffset: UInt64(out.count), indexLength: UInt64(index.count), indexChecksum: Checksum.xxh3(index))
        out += index
        out += trailer.bytes
        return out
    }

    /// The manifest JSON text for `shard` (hand-written, so that vectors can change single tokens of it).
    func manifestText(shard: [UInt8]) -> String {
        let policyLine = "\"policy\": \"top-p-k\", \"top_p\": 1, \"top_k\": \(topK), \"temperature\": 1"
        return """
        {
          "format": "logitstore",
          "format_version": 2,
          "vocab_size": \(vocabSize),
          "truncation": {\(policyLine)},
          "teacher": {"name": "hand", "tokenizer_hash": "T"},
          "target_logprobs": \(targets != nil),
          "shards": [
            {"file": "v-000000.lgs", "writer_id": "v", "sequences": \(sequenceLengths.count), "positions": \(positions.count),
             "entries": \(positions.reduce(0) { $0 + $1.ids.count }), "bytes": \(shard.count), "xxh3": "\(Checksum.hex(Checksum.xxh3(shard)))"}
          ]
        }

        """
    }

    /// Writes the store into `dir` (replacing it); `editManifest` may change the manifest text.
    func write(to dir: String, editManifest: (String) -> String = { $0 }) throws {
        try? FileManager.default.removeItem(atPath: dir)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let bytes = shard()
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/v-000000.lgs"))
        try Data(editManifest(manifestText(shard: bytes)).utf8).write(to: URL(fileURLWithPath: dir + "/manifest.json"))
    }
}

extension HandStore {
    /// An annotated hex dump of `shard()`, region by region, for readers implementing the Spec by hand.
    func annotatedDump() -> String {
        let bytes = shard()
        var lines: [String] = []
        var at = 0
        func region(_ n: Int, _ what: String) {
            let hex = bytes[at..<(at + n)].map { String(format: "%02x", $0) }
            var first = true
            for chunk in stride(from: 0, to: hex.count, by: 16) {
                let row = hex[chunk..<Swift.min(hex.count, chunk + 16)].joined(separator: " ")
                lines.append(String(format: "%06d  ", at + chunk) + row.padding(toLength: 48, withPad: " ", startingAt: 0) + (first ? "  " + what : ""))
                first = false
            }
            at += n
        }
        region(8, "shard header: magic"); region(2, "version major 2"); region(2, "version minor 0"); region(4, "flags 0")
        region(8, "vocab size \(vocabSize)"); region(8, "descriptor hash (XXH3-64 of the store descriptor), little-endian")
        let (blk, _) = block()
        let header = blk.withUnsafeBytes { try! BlockHeader.parse($0) }
        region(2, "block 0 header: stream count \(header.streamCount)"); region(2, "reserved"); region(4, "positions \(header.positionCount)")
        region(4, "entries \(header.entryCount)"); region(4, "reserved")
        var descriptors: [StreamDescriptor] = []
        for k in 0..<Int(header.streamCount) {
            let d = blk.withUnsafeBytes { try! StreamDescriptor.parse(UnsafeRawBufferPointer(rebasing: $0[(16 + 16 * k)...])) }
            descriptors.append(d)
            region(16, "stream descriptor: type \(d.type), required \(d.required ? 1 : 0), codec \(d.codec), filter \(d.filter), width \(d.width), stored \(d.storedBytes), raw \(d.rawBytes)")
        }
        let names = [1: "tokens", 2: "counts", 3: "ids", 4: "probs (float16 bits)", 5: "target log-probs (float32 bits)"]
        for d in descriptors { region(Int(d.storedBytes), "payload of stream \(d.type) (\(names[Int(d.type)] ?? "unknown"))") }
        region(8, "footer index: block count"); region(8, "sequence count"); region(8, "position count"); region(8, "entry count")
        region(8, "id table offset"); region(8, "id table length"); region(8, "id table checksum"); region(8, "reserved")
        region(8, "block entry 0: offset"); region(8, "first position"); region(8, "first entry"); region(4, "stored size")
        region(4, "raw size"); region(4, "positions"); region(4, "entries"); region(8, "block checksum (XXH3-64)")
        for s in 0..<sequenceLengths.count { region(8, "sequence \(s): first position"); region(8, "length") }
        region(8, "trailer: index offset"); region(8, "index length"); region(8, "index checksum (XXH3-64)"); region(8, "trailer magic LGSINDEX")
        precondition(at == bytes.count, "dump does not cover the shard")
        return lines.joined(separator: "\n") + "\n"
    }
}
