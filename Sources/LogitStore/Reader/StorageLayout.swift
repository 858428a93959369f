/// The physical layout of one shard, for statistics (`inspect`) and audits. No decompression involved.
public struct ShardLayoutInfo: Sendable {
    /// File name as listed in the manifest.
    public var file: String
    /// Whole file size.
    public var bytes: Int
    /// The fixed header (32 bytes).
    public var headerBytes: Int
    /// Footer index plus trailer, plus the id table section (§4.6) when present.
    public var indexBytes: Int
    /// The footer index's block entries, in file order.
    public var blocks: [BlockEntry]
    /// Positions of each sequence in the shard, in order.
    public var sequenceLengths: [Int]
    /// Positions in the shard.
    public var positions: Int
    /// Kept entries in the shard.
    public var entries: Int
}

/// Bytes on disk split by what they hold, summed over shards.
public struct StorageBreakdown: Sendable {
    /// Stored (compressed) bytes per stream name ("tokens", "counts", "ids", "probs", "target_logprobs", ...).
    public var streamBytes: [String: Int] = [:]
    /// Raw (filtered, uncompressed) bytes per stream name.
    public var streamRawBytes: [String: Int] = [:]
    /// Block headers and stream tables.
    public var blockHeaderBytes = 0
    /// Footer indexes and trailers.
    public var indexBytes = 0
    /// Shard headers.
    public var shardHeaderBytes = 0
    /// Everything (= Σ shard file sizes).
    public var totalBytes = 0
}

extension StoreReader {
    /// The layout of shard `s` (0 ≤ s < shardCount).
    public func shardLayout(_ s: Int) -> ShardLayoutInfo {
        let sh = shards[s]
        return ShardLayoutInfo(file: sh.name, bytes: sh.file.count, headerBytes: ShardLayout.headerSize,
                               indexBytes: sh.indexLength + ShardLayout.trailerSize + sh.idTableRange.count, blocks: sh.blocks,
                               sequenceLengths: sh.sequences.map { Int($0.length) }, positions: sh.positions, entries: sh.entries)
    }

    /// The stream table of one block (sizes, codec, filter, width per stream), read without decompressing.
    public func streams(shard s: Int, block b: Int) throws -> [StreamInfo] {
        let sh = shards[s]
        let e = sh.blocks[b]
        return try parseStreamTable(sh.blockBytes(b), file: sh.name, block: b, positions: Int(e.positionCount), entries: Int(e.entryCount))
    }

    /// Bytes per stream, block headers, indexes and shard headers over the whole store.
    public func storageBreakdown() throws -> StorageBreakdown {
        var r = StorageBreakdown()
        for s in 0..<shardCount {
            let l = shardLayout(s)
            r.totalBytes += l.bytes
            r.indexBytes += l.indexBytes
            r.shardHeaderBytes += l.headerBytes
            for b in 0..<l.blocks.count {
                var payload = 0
                for st in try streams(shard: s, block: b) {
                    r.streamBytes[st.name, default: 0] += st.storedBytes
                    r.streamRawBytes[st.name, default: 0] += st.rawBytes
                    payload += st.storedBytes
                }
                r.blockHeaderBytes += Int(l.blocks[b].storedBytes) - payload
            }
        }
        return r
    }
}
