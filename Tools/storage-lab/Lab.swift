import Foundation
import LogitStore

enum Lab {
    /// Teacher-shaped synthetic data: Zipf ids with per-document topical locality, geometric-ish descending probs.
    static func synthRows(positions: Int, seqLen: Int, vocab: Int, k: Int, seed: UInt64) -> [([UInt32], TruncatedRows)] {
        var rng = SplitMix64(seed: seed)
        func unit() -> Double { Double(rng.next(below: 1 << 40)) / Double(1 << 40) }
        func zipf() -> UInt32 { UInt32(min(Double(vocab - 1), exp(unit() * log(Double(vocab))) - 1)) }
        var out: [([UInt32], TruncatedRows)] = []
        var left = positions
        while left > 0 {
            let n = min(seqLen, left); left -= n
            var topic = (0..<64).map { _ in zipf() }
            var tokens: [UInt32] = [], rows = TruncatedRows()
            for _ in 0..<n {
                if unit() < 0.05 { topic[Int(rng.next(below: 64))] = zipf() }
                tokens.append(unit() < 0.5 ? topic[Int(rng.next(below: 64))] : zipf())
                // Peakedness varies per position: the kept mass reaches 0.95 after 1..k entries.
                let decay = 0.35 + 0.64 * unit()
                var p = (1 - decay) / (1 - pow(decay, Double(k))) * 0.97
                var used = Set<UInt32>(), mass = 0.0, c = 0
                while c < k && mass < 0.95 {
                    var id: UInt32
                    repeat { id = unit() < 0.3 ? topic[Int(rng.next(below: 64))] : zipf() } while !used.insert(id).inserted
                    let q = Float16(Float(p * (0.9 + 0.2 * unit())))
                    let prev = rows.probs.count > 0 && c > 0 ? rows.probs[rows.probs.count - 1] : Float16(1)
                    rows.ids.append(id); rows.probs.append(min(q, prev))
                    mass += Double(min(q, prev)); p *= decay; c += 1
                }
                rows.counts.append(UInt32(c))
            }
            out.append((tokens, rows))
        }
        return out
    }

    /// A store written from real logits rows (the writer's own truncation). Tokens are a stand-in: the previous
    /// row's most probable id (the rows' true input tokens are not in the logits file).
    static func fromLogits() throws {
        guard args.count >= 2 else { fail("from-logits LOGITS.npy OUT [--top-p P] [--top-k K] [--seq-len L]") }
        let p = Double(option("--top-p") ?? "0.95")!, k = Int(option("--top-k") ?? "100")!, seqLen = Int(option("--seq-len") ?? "500")!
        let (rows, n, v) = try loadFloat32Matrix(args[0])
        let w = try StoreWriter(directory: args[1], options: WriterOptions(vocabSize: v, policy: TruncationPolicy(topP: p, topK: k),
                                                                           teacher: TeacherIdentity(name: "real-logits"), recordTargetLogprobs: false))
        var start = 0
        var prevTop: UInt32 = 0
        let t = try Truncator(vocabSize: v, policy: TruncationPolicy(topP: p, topK: k))
        while start < n {
            let m = min(seqLen, n - start)
            var out = TruncatedRows()
            try rows.withUnsafeBufferPointer { try t.truncate(rows: UnsafeBufferPointer(rebasing: $0[(start * v)..<((start + m) * v)]), into: &out) }
            var tokens: [UInt32] = []
            var e = 0
            for j in 0..<m { tokens.append(prevTop); prevTop = out.ids[e]; e += Int(out.counts[j]) }
            try w.append(tokens: tokens, truncated: out)
            start += m
        }
        try w.finish()
        print("wrote \(args[1]) from \(n) rows")
    }

    static func synth() throws {
        guard let outDir = args.first else { fail("synth OUT") }
        let positions = Int(option("--positions") ?? "200000")!, seqLen = Int(option("--seq-len") ?? "2048")!
        let k = Int(option("--top-k") ?? "100")!, seed = UInt64(option("--seed") ?? "1")!
        let w = try StoreWriter(directory: outDir, options: WriterOptions(vocabSize: 49_152, policy: TruncationPolicy(topP: 0.95, topK: k),
                                                                          teacher: TeacherIdentity(name: "synthetic"), recordTargetLogprobs: false))
        for (t, r) in synthRows(positions: positions, seqLen: seqLen, vocab: 49_152, k: k, seed: seed) { try w.append(tokens: t, truncated: r) }
        try w.finish()
        print("wrote \(outDir)")
    }

    /// Reads every sequence of a store back (to re-encode it).
    static func load(_ dir: String) throws -> (Manifest, [(UInt32Array, TruncatedRows)]) {
        let r = try StoreReader(directory: dir)
        var out: [(UInt32Array, TruncatedRows)] = []
        for i in 0..<r.sequenceCount {
            let s = try r.sequence(i)
            var counts: [UInt32] = []
            for j in 0..<s.positionCount { counts.append(UInt32(s.count(at: j))) }
            out.append((s.tokens, TruncatedRows(counts: counts, ids: s.ids, probs: s.probs, targetLogprobs: s.targetLogprobs)))
        }
        return (r.manifest, out)
    }
    typealias UInt32Array = [UInt32]

    static func codecs() throws {
        guard let dir = args.first else { fail("codecs STORE") }
        let blockSizes = options("--block").compactMap(Int.init)
        let levels = options("--level").compactMap(Int.init)
        let (m, data) = try load(dir)
        let entries = data.reduce(0) { $0 + $1.1.ids.count }, positions = data.reduce(0) { $0 + $1.0.count }
        print("store \(dir): \(positions) positions, \(entries) entries, \(String(format: "%.1f", Double(entries) / Double(positions))) entries/position")
        print(String(format: "%-34@ %10@ %8@ %8@ %8@ %8@ %8@ %8@ %9@", "variant" as NSString, "bytes" as NSString, "B/entry" as NSString,
                     "ids" as NSString, "probs" as NSString, "tokens" as NSString, "counts" as NSString, "targets" as NSString, "index+hdr" as NSString))
        var variants: [(String, Codec, EncodingPlan, Int)] = []
        for b in (blockSizes.isEmpty ? [256 << 10] : blockSizes) {
            for l in (levels.isEmpty ? [3] : levels) {
                for idf in FilterID.allCases {
                    for pf in [FilterID.shuffle, .deltaShuffle] {
                        var plan = EncodingPlan(); plan.ids = idf; plan.probs = pf
                        variants.append(("zstd\(l) ids=\(idf) probs=\(pf) b=\(b >> 10)K", .zstd(level: l), plan, b))
                    }
                }
            }
            variants.append(("lz4 default b=\(b >> 10)K", .lz4, .default, b))
            variants.append(("none default b=\(b >> 10)K", .none, .default, b))
        }
        for (name, codec, plan, block) in variants {
            let tmp = NSTemporaryDirectory() + "storage-lab-\(getpid())"
            try? FileManager.default.removeItem(atPath: tmp)
            var o = WriterOptions(vocabSize: m.vocabSize, policy: m.truncation, teacher: m.teacher, codec: codec,
                                  shardTargetBytes: 1 << 40, blockTargetBytes: block, recordTargetLogprobs: m.targetLogprobs)
            o.paddedVocabSize = m.paddedVocabSize
            let w = try StoreWriter(directory: tmp, options: o)
            w.encodingPlan = plan
            for (t, r) in data { try w.append(tokens: t, truncated: r) }
            try w.finish()
            let b = try StoreReader(directory: tmp).storageBreakdown()
            func per(_ x: Int) -> String { String(format: "%.3f", Double(x) / Double(entries)) }
            print(String(format: "%-34@ %10d %8@ %8@ %8@ %8@ %8@ %8@ %9@", name as NSString, b.totalBytes, per(b.totalBytes) as NSString,
                         per(b.streamBytes["ids"] ?? 0) as NSString, per(b.streamBytes["probs"] ?? 0) as NSString,
                         per(b.streamBytes["tokens"] ?? 0) as NSString, per(b.streamBytes["counts"] ?? 0) as NSString,
                         per(b.streamBytes["target_logprobs"] ?? 0) as NSString,
                         per(b.indexBytes + b.blockHeaderBytes + b.shardHeaderBytes) as NSString))
            try? FileManager.default.removeItem(atPath: tmp)
        }
    }

    /// Minimal .npy reader for float32 [N, V] little-endian C-order (lab only).
    static func loadFloat32Matrix(_ path: String) throws -> ([Float], Int, Int) {
        guard let d = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
        let bytes = [UInt8](d)
        guard bytes.count > 10, bytes[0] == 0x93 else { fail("\(path): not .npy") }
        let hl = bytes[6] == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8 : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let ho = bytes[6] == 1 ? 10 : 12
        let header = String(decoding: bytes[ho..<(ho + hl)], as: UTF8.self)
        guard header.contains("'<f4'"), header.contains("'fortran_order': False") else { fail("\(path): need little-endian float32 C order, got \(header)") }
        let shape = header.split(separator: "(")[1].split(separator: ")")[0].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let n = shape[0], v = shape[1]
        var out = [Float](repeating: 0, count: n * v)
        out.withUnsafeMutableBytes { dst in bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(ho + hl)...].prefix(n * v * 4))) } }
        return (out, n, v)
    }

    static func truncate() throws {
        let p = Double(option("--top-p") ?? "0.95")!, k = Int(option("--top-k") ?? "100")!
        var rows: [Float], n: Int, v: Int
        if let path = option("--logits") {
            (rows, n, v) = try loadFloat32Matrix(path)
            if let limit = option("--limit").flatMap(Int.init), limit < n { n = limit; rows = Array(rows[0..<(n * v)]) }
        } else {
            v = Int(option("--vocab") ?? "49152")!; n = Int(option("--rows") ?? "2000")!
            var rng = SplitMix64(seed: 7)
            rows = (0..<(n * v)).map { _ in
                let u = Double(rng.next(below: 1 << 30)) / Double(1 << 30)
                return Float(u < 0.001 ? 8 + u * 6000 : -6 + 10 * u)
            }
        }
        let t = try Truncator(vocabSize: v, policy: TruncationPolicy(topP: p, topK: k))
        var out = TruncatedRows()
        var best = Double.infinity, bestCPU = Double.infinity
        let repeats = Int(option("--repeats") ?? "5")!
        for _ in 0..<repeats {
            out.removeAll()
            let t0 = now(), c0 = cpuNow()
            try rows.withUnsafeBufferPointer { try t.truncate(rows: $0, into: &out) }
            best = min(best, now() - t0); bestCPU = min(bestCPU, cpuNow() - c0)
        }
        print(String(format: "{\"rows\": %d, \"vocab\": %d, \"rows_per_second\": %.0f, \"rows_per_cpu_second\": %.0f, \"entries_per_row\": %.2f}",
                     n, v, Double(n) / best, Double(n) / bestCPU, Double(out.ids.count) / Double(n)))
    }

    static func read() throws {
        guard let dir = args.first else { fail("read STORE") }
        let r = try StoreReader(directory: dir)
        var rec = SequenceRecord()
        var best = Double.infinity, bestCPU = Double.infinity
        for _ in 0..<3 {
            let t0 = now(), c0 = cpuNow()
            var p = 0
            while p < r.positionCount { let e = min(r.positionCount, p + 4096); try r.read(p..<e, into: &rec); p = e }
            best = min(best, now() - t0); bestCPU = min(bestCPU, cpuNow() - c0)
        }
        var rng = SplitMix64(seed: 3)
        var times: [Double] = [], cpuTimes: [Double] = []
        let fresh = try StoreReader(directory: dir)
        for _ in 0..<200 {
            let i = Int(rng.next(below: UInt64(r.sequenceCount)))
            let t0 = now(), c0 = cpuNow(); _ = try fresh.sequence(i); times.append(now() - t0); cpuTimes.append(cpuNow() - c0)
        }
        times.sort(); cpuTimes.sort()
        print(String(format: "{\"positions_per_second\": %.0f, \"positions_per_cpu_second\": %.0f, \"random_sequence_ms_p50\": %.3f, \"random_sequence_ms_p99\": %.3f, \"random_sequence_cpu_ms_p50\": %.3f}",
                     Double(r.positionCount) / best, Double(r.positionCount) / bestCPU, times[times.count / 2] * 1e3, times[times.count * 99 / 100] * 1e3, cpuTimes[cpuTimes.count / 2] * 1e3))
    }
}
