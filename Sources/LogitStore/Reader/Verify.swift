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
    /// (stream table, sizes, ids below the vocabulary, counts summing to the entries). Collects every failure
    /// rather than stopping at the first. `progress(doneBytes, totalBytes)` is called after each block.
    public func verify(progress: ((Int, Int) -> Void)? = nil) throws -> VerifyReport {
        var report = VerifyReport()
        let total = manifest.byteCount
        var done = 0
        let scratch = DecodedBlock()
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
            if Checksum.hex(h.digest) != entry.xxh3.lowercased() {
                report.problems.append(StoreError.checksumMismatch(file: sh.name, block: nil, what: "whole file (manifest \(entry.xxh3), file \(Checksum.hex(h.digest)))").description)
            }
            for b in 0..<sh.blocks.count {
                report.blocks += 1
                do {
                    try decode(shard: s, block: b, into: scratch, forceVerify: true)
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
}
