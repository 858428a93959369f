import CPrefetch
import FastMath
#if canImport(Glibc)
import Glibc
#endif

/// Softmax, then top-p, then top-k over full-vocabulary logits rows — the writer's hot path.
///
/// Definition (also in Spec/FORMAT.md §"Truncation"): with q = softmax(x / τ) over the first
/// `vocabSize` columns, order tokens by q descending, ties by id ascending; keep the shortest prefix
/// whose mass Σq reaches `topP` (at least one token), then at most `topK` of it. Kept probabilities are
/// q rounded to float16 (round to nearest even), not re-normalised.
///
/// Implementation (no sort of the row):
/// 1. One fused SIMD pass over the row in 16 KiB spans: the maximum of every 64-wide block, a finiteness check,
///    and Σexp(x − m) (rescaled whenever a span raises m). The next span is prefetched into L2 while the
///    exponentials of this one run, so memory and arithmetic overlap.
/// 2. A lower bound L on the k-th largest value: a value with at least k block maxima ≥ L (so at least k distinct
///    entries ≥ L), found by bisection with SIMD counts and then set to the smallest block maximum above it.
/// 3. A SIMD scan of only the blocks whose maximum is ≥ L collects the candidates (every entry ≥ L, typically
///    about 2k), in id order.
/// 4. A counting sort of the candidates into buckets of m − x (bucket order is value order), then each bucket in
///    turn is ordered exactly by (value descending, id ascending) and emitted, computing q in double precision,
///    until the mass reaches p or k entries are kept: only the emitted prefix is ever ordered.
public final class Truncator {
    /// The real vocabulary V: kept ids are < V.
    public let vocabSize: Int
    /// Width of incoming rows (≥ vocabSize; padded columns are ignored).
    public let rowWidth: Int
    /// The top-p, top-k and temperature applied.
    public let policy: TruncationPolicy

    private var scratch: UnsafeMutableBufferPointer<Float>
    /// The maximum of each 64-wide block of the row, padded with −∞ to a multiple of 16 blocks.
    private let blockMax: UnsafeMutablePointer<Float>
    private let blockScratch: UnsafeMutablePointer<Float>
    /// Candidates (value, id, bucket) in id order, then their order keys sorted by bucket.
    private let candValue: UnsafeMutablePointer<Float>
    private let candId: UnsafeMutablePointer<UInt32>
    private let candBucket: UnsafeMutablePointer<UInt16>
    private let keys: UnsafeMutablePointer<UInt64>
    private let counts: UnsafeMutablePointer<Int32>

    /// - Parameters: vocabSize: real vocabulary; rowWidth: width of incoming rows (≥ vocabSize; padded columns ignored).
    public init(vocabSize: Int, rowWidth: Int? = nil, policy: TruncationPolicy) throws {
        try policy.validate()
        guard vocabSize > 0, vocabSize <= Int(UInt32.max) else { throw StoreError.invalidInput("vocabulary size must be in 1...2^32-1, got \(vocabSize)") }
        let width = rowWidth ?? vocabSize
        guard width >= vocabSize else { throw StoreError.invalidInput("padded row width \(width) is smaller than the vocabulary \(vocabSize)") }
        self.vocabSize = vocabSize; self.rowWidth = width; self.policy = policy
        scratch = .allocate(capacity: width)
        let paddedBlocks = (Truncator.blockCount(vocabSize) + 15) / 16 * 16
        blockMax = .allocate(capacity: paddedBlocks)
        blockMax.initialize(repeating: -.infinity, count: paddedBlocks)  // the pad stays −∞
        blockScratch = .allocate(capacity: paddedBlocks)
        candValue = .allocate(capacity: vocabSize)
        candId = .allocate(capacity: vocabSize)
        candBucket = .allocate(capacity: vocabSize)
        keys = .allocate(capacity: vocabSize)
        counts = .allocate(capacity: Truncator.orderBuckets + 1)
    }

    deinit {
        scratch.deallocate(); blockMax.deallocate(); blockScratch.deallocate()
        candValue.deallocate(); candId.deallocate(); candBucket.deallocate(); keys.deallocate(); counts.deallocate()
    }

    /// Truncates `rows.count / rowWidth` Float32 rows and appends them to `out`.
    /// `nextTokens[r]`, when given and non-nil, is the actual next token of row r; its log-probability goes into
    /// `out.targetLogprobs` (NaN when nil). Throws on a wrong length or a non-finite logit (naming the row);
    /// `out` is then left unchanged.
    public func truncate(rows: UnsafeBufferPointer<Float>, nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        let n = try rowCount(rows.count, nextTokens)
        let mark = RowsMark(out)
        do {
            for r in 0..<n {
                let row = UnsafeBufferPointer(rebasing: rows[(r * rowWidth)..<(r * rowWidth + vocabSize)])
                try truncateRow(row, row: r, next: nextTokens?[r], recordTarget: nextTokens != nil, into: &out)
            }
        } catch { mark.restore(&out); throw error }
    }

    /// Float16 rows (widened to Float32 first).
    public func truncate(rows: UnsafeBufferPointer<Float16>, nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        try truncateWidening(rows, nextTokens: nextTokens, into: &out, widen: FastMath.widen)
    }

    /// BFloat16 rows given as raw bit patterns (widened to Float32 first).
    public func truncate(bfloat16Rows rows: UnsafeBufferPointer<UInt16>, nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        try truncateWidening(rows, nextTokens: nextTokens, into: &out, widen: FastMath.widenBFloat16)
    }

    /// 16-bit rows: each row is widened into the scratch row, then truncated; on error nothing of the call is kept.
    private func truncateWidening<T>(_ rows: UnsafeBufferPointer<T>, nextTokens: [UInt32?]?, into out: inout TruncatedRows,
                                     widen: (UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        let n = try rowCount(rows.count, nextTokens)
        let mark = RowsMark(out)
        do {
            for r in 0..<n {
                let src = UnsafeBufferPointer(rebasing: rows[(r * rowWidth)..<(r * rowWidth + vocabSize)])
                let dst = UnsafeMutableBufferPointer(rebasing: scratch[0..<vocabSize])
                widen(src, dst)
                try truncateRow(UnsafeBufferPointer(dst), row: r, next: nextTokens?[r], recordTarget: nextTokens != nil, into: &out)
            }
        } catch { mark.restore(&out); throw error }
    }

    private func rowCount(_ total: Int, _ next: [UInt32?]?) throws -> Int {
        guard total % rowWidth == 0 else {
            throw StoreError.invalidInput("logits length \(total) is not a multiple of the row width \(rowWidth)")
        }
        let n = total / rowWidth
        if let next, next.count != n { throw StoreError.invalidInput("\(next.count) next tokens for \(n) logits rows") }
        return n
    }

    /// Truncates one row of exactly `vocabSize` logits.
    @inline(__always)
    private func truncateRow(_ input: UnsafeBufferPointer<Float>, row: Int, next: UInt32?, recordTarget: Bool, into out: inout TruncatedRows) throws {
        var x = input
        let invT = Float(1 / policy.temperature)
        if invT != 1 {
            let dst = UnsafeMutableBufferPointer(rebasing: scratch[0..<vocabSize])
            if x.baseAddress != UnsafePointer(dst.baseAddress) {
                for i in 0..<vocabSize { dst[i] = x[i] }
            }
            FastMath.scale(dst, by: invT)
            x = UnsafeBufferPointer(dst)
        }
        let (m, z, finite) = maxSumExp(x)
        guard finite else {
            let bad = x.firstIndex { !$0.isFinite } ?? 0
            throw StoreError.invalidInput("logits row \(row) has a non-finite value (\(x[bad])) at column \(bad)")
        }
        let kept = emitTopPTopK(x, max: m, sumExp: z, k: Swift.min(policy.topK, vocabSize), p: policy.topP, into: &out)
        out.counts.append(UInt32(kept))
        if recordTarget {
            let tl: Float
            if let t = next {
                guard Int(t) < vocabSize else {
                    throw StoreError.invalidInput("next token \(t) of row \(row) is not below the vocabulary size \(vocabSize)")
                }
                tl = Swift.min(0, x[Int(t)] - m - Glibc.logf(z))
            } else { tl = .nan }
            if out.targetLogprobs == nil { out.targetLogprobs = [] }
            out.targetLogprobs!.append(tl)
        }
    }

    /// One pass over the row in spans of 4,096: the maximum m, Σ exp(x − m) (rescaled whenever a span raises m),
    /// whether every element is finite, and the maximum of each 64-wide block (in `blockMax`). Fusing keeps the row
    /// streaming from memory while the exponentials run; the span summation order is part of the numerics (the
    /// float sum z), so it stays fixed.
    @inline(__always)
    func maxSumExp(_ x: UnsafeBufferPointer<Float>) -> (Float, Float, Bool) {
        let n = x.count
        let base = x.baseAddress!
        let block = Truncator.block
        let span = 64 * block  // 16 KiB of a row: long enough bursts for the hardware prefetcher, still in L1
        var m = -Float.infinity
        var acc = FastMath.Vector(repeating: 0)
        // Finiteness: −∞ shows in the minimum; NaN and +∞ turn Σexp into NaN (x − m is NaN for them). A running
        // minimum has latency 1, unlike a running sum of v − v (a 3-cycle dependency chain in the max loop).
        var low = FastMath.Vector(repeating: .infinity)
        var tail: Float = 0
        var start = 0, b = 0
        while start < n {
            let spanEnd = Swift.min(n, start + span)
            // Maxima of each 64-wide block of the span (kept for the top-k bound), and of the span.
            var spanMax = -Float.infinity
            var bs = start
            while bs < spanEnd {
                let end = Swift.min(spanEnd, bs + block)
                var mv = FastMath.Vector(repeating: -.infinity)
                var i = bs
                while i + 16 <= end {
                    let v = UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self)
                    mv.replace(with: v, where: v .> mv)  // pointwiseMax is not vectorised (≈100× slower)
                    low.replace(with: v, where: v .< low)
                    i += 16
                }
                var bm = FastMath.horizontalMax(mv)
                while i < end { bm = Swift.max(bm, base[i]); low[0] = Swift.min(low[0], base[i]); i += 1 }
                blockMax[b] = bm; b += 1
                spanMax = Swift.max(spanMax, bm)
                bs = end
            }
            if spanMax > m {
                if m > -.infinity {
                    let r = FastMath.expNonPositive(FastMath.Vector(repeating: m - spanMax))[0]
                    acc *= r; tail *= r
                }
                m = spanMax
            }
            let sv = FastMath.Vector(repeating: m)
            var i = start
            while i + 16 <= spanEnd {
                // One cache line per step: bring the next span into L2 while this one's exponentials run.
                // (A prefetch past the row's end is a harmless hint; it never faults.)
                logitstore_prefetch_l2(base + i + span)
                acc += FastMath.expNonPositive(UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self) - sv)
                i += 16
            }
            while i < spanEnd { tail += FastMath.expNonPositive(FastMath.Vector(repeating: base[i] - m))[0]; i += 1 }
            start = spanEnd
        }
        let z = acc.sum() + tail
        return (m, z, z.isFinite && -FastMath.horizontalMax(-low) > -.infinity)
    }

    /// Width of the blocks whose maxima bound the top-k (a multiple of 16).
    static let block = 64
    static func blockCount(_ n: Int) -> Int { (n + block - 1) / block }

    /// A UInt64 whose unsigned order is (value ascending, then id descending): sorting keys descending
    /// gives value descending, ties by id ascending.
    @inline(__always)
    static func key(_ value: Float, _ id: UInt32) -> UInt64 {
        let b = value.bitPattern
        let ordered = (b & 0x8000_0000) != 0 ? ~b : b | 0x8000_0000
        return UInt64(ordered) << 32 | UInt64(~id)
    }

    /// The bound bisects within this many logits below the maximum (else quickselect).
    static let boundRange: Float = 32
    /// Buckets of the candidates' counting sort.
    static let orderBuckets = 256

    /// The kept prefix of the row, best first by (value descending, id ascending): entries are appended to `out`
    /// until their mass Σq reaches p or k of them are kept; returns how many. q = exp(x − m) / z in double precision.
    @inline(__always)
    private func emitTopPTopK(_ x: UnsafeBufferPointer<Float>, max m: Float, sumExp z: Float, k: Int, p: Double,
                              into out: inout TruncatedRows) -> Int {
        let n = x.count
        let base = x.baseAddress!
        let block = Truncator.block
        let groups = (Truncator.blockCount(n) + 15) / 16  // of 16 block maxima (padded with −∞)
        let lower = topKLowerBound(max: m, blocks: Truncator.blockCount(n), k: k)

        // Candidates: every entry ≥ lower. Only blocks whose maximum reaches the bound can hold one; a SIMD
        // compare of 16 block maxima at a time gives a bit mask of them.
        var nc = 0
        if lower > -.infinity {
            let lv = FastMath.Vector(repeating: lower)
            for g in 0..<groups {
                let v = UnsafeRawPointer(blockMax + 16 * g).loadUnaligned(as: FastMath.Vector.self)
                var bits = Truncator.laneMask(v .>= lv)
                while bits != 0 {
                    let s = (16 * g + bits.trailingZeroBitCount) * block
                    if s + block <= n {
                        collectBlock(base + s, id: s, lower: lower, count: &nc)
                    } else {
                        collect(base, from: s, to: n, lower: lower, count: &nc)
                    }
                    bits &= bits - 1
                }
            }
        } else {
            collect(base, from: 0, to: n, lower: lower, count: &nc)
        }

        // Counting sort by bucket of m − x: bucket order is value order (the bucket index never decreases as
        // the value falls), so the buckets, each ordered exactly by key, give the full order.
        let top = Float(Truncator.orderBuckets - 1)
        let spread = m - lower
        let scale: Float = spread > 0 && spread.isFinite ? top / spread : 0
        for b in 0...Truncator.orderBuckets { counts[b] = 0 }
        for j in 0..<nc {
            let b = scale == 0 ? 0 : Int(Swift.min(top, (m - candValue[j]) * scale))
            candBucket[j] = UInt16(truncatingIfNeeded: b)
            counts[b + 1] += 1
        }
        for b in 0..<Truncator.orderBuckets { counts[b + 1] += counts[b] }  // counts[b] = start of bucket b
        for j in 0..<nc {
            let b = Int(candBucket[j])
            keys[Int(counts[b])] = Truncator.key(candValue[j], candId[j])
            counts[b] += 1  // afterwards counts[b] = end of bucket b
        }

        let zd = Double(z)
        var cum = 0.0
        var kept = 0
        var start = 0
        buckets: for b in 0..<Truncator.orderBuckets {
            let end = Int(counts[b])
            let size = end - start
            if size > 0 {
                let segment = keys + start
                let take = Swift.min(size, k - kept)
                if size > 1 {
                    if size > take { Selection.partitionLargest(segment, count: size, k: take) }
                    Selection.sortDescending(segment, count: take)
                }
                for j in 0..<take {
                    let key = segment[j]
                    let ordered = UInt32(truncatingIfNeeded: key >> 32)
                    let bits = (ordered & 0x8000_0000) != 0 ? ordered & 0x7FFF_FFFF : ~ordered
                    let q = Glibc.exp(Double(Float(bitPattern: bits) - m)) / zd
                    out.ids.append(~UInt32(truncatingIfNeeded: key))
                    out.probs.append(Float16(Float(q)))
                    kept += 1
                    cum += q
                    if cum >= p { break buckets }
                }
                if kept == k { break }
            }
            start = end
        }
        return kept
    }

    /// A lower bound L on the k-th largest entry of the row: a value with at least k block maxima ≥ L (so at
    /// least k distinct entries are), or −∞ when there are fewer than k blocks. Bisection on [m − 32, m] with SIMD
    /// counts finds a t with count(block maxima ≥ t) ≥ k within 32/2^12 logit of the largest such t; L is the
    /// smallest block maximum ≥ t. When the k-th largest block maximum lies lower than m − 32: quickselect.
    @inline(__always)
    private func topKLowerBound(max m: Float, blocks: Int, k: Int) -> Float {
        guard blocks >= k else { return -.infinity }
        let groups = (blocks + 15) / 16
        let mv = blockMax
        func atLeast(_ t: Float) -> Int {
            let tv = FastMath.Vector(repeating: t)
            var acc = SIMD16<Int32>(repeating: 0)
            for g in 0..<groups {
                let v = UnsafeRawPointer(mv + 16 * g).loadUnaligned(as: FastMath.Vector.self)
                acc &-= unsafeBitCast(v .>= tv, to: SIMD16<Int32>.self)  // a true lane is −1
            }
            return Int(acc.wrappedSum())
        }
        if atLeast(m) >= k { return m }
        var lo = m - Truncator.boundRange, hi = m  // invariant: count(≥ lo) ≥ k > count(≥ hi)
        guard atLeast(lo) >= k else {
            for j in 0..<blocks { blockScratch[j] = blockMax[j] }
            Selection.partitionLargest(blockScratch, count: blocks, k: k)
            return blockScratch[k - 1]
        }
        for _ in 0..<12 {
            let mid = lo + (hi - lo) * 0.5
            if !(mid > lo && mid < hi) { break }
            if atLeast(mid) >= k { lo = mid } else { hi = mid }
        }
        // The smallest block maximum ≥ lo (there are at least k of them).
        let lov = FastMath.Vector(repeating: lo)
        var low = FastMath.Vector(repeating: .infinity)
        for g in 0..<groups {
            var v = UnsafeRawPointer(mv + 16 * g).loadUnaligned(as: FastMath.Vector.self)
            v.replace(with: .infinity, where: v .< lov)
            low.replace(with: v, where: v .< low)
        }
        return -FastMath.horizontalMax(-low)
    }

    /// Bit l of the result is set when lane l of the mask is. The lanes (−1 or 0) narrow to bytes with vector packs;
    /// then a multiply gathers the top bit of each of 8 bytes into the top byte (the bits never collide).
    @inline(__always)
    static func laneMask(_ mask: SIMDMask<SIMD16<Int32>>) -> UInt64 {
        let bytes = SIMD16<Int8>(truncatingIfNeeded: unsafeBitCast(mask, to: SIMD16<Int32>.self))
        let w = unsafeBitCast(bytes, to: SIMD2<UInt64>.self)
        let lo = ((w[0] & 0x8080_8080_8080_8080) &* 0x0002_0408_1020_4081) >> 56
        let hi = ((w[1] & 0x8080_8080_8080_8080) &* 0x0002_0408_1020_4081) >> 56
        return lo | hi << 8
    }

    /// `collect` for one whole 64-wide block starting at `id`: the four loads and compares are independent and
    /// branch-free (one 64-bit mask), so only the candidates themselves cost a branch.
    @inline(__always)
    private func collectBlock(_ p: UnsafePointer<Float>, id: Int, lower: Float, count nc: inout Int) {
        let tv = FastMath.Vector(repeating: lower)
        let raw = UnsafeRawPointer(p)
        var bits = Truncator.laneMask(raw.loadUnaligned(fromByteOffset: 0, as: FastMath.Vector.self) .>= tv)
        bits |= Truncator.laneMask(raw.loadUnaligned(fromByteOffset: 64, as: FastMath.Vector.self) .>= tv) << 16
        bits |= Truncator.laneMask(raw.loadUnaligned(fromByteOffset: 128, as: FastMath.Vector.self) .>= tv) << 32
        bits |= Truncator.laneMask(raw.loadUnaligned(fromByteOffset: 192, as: FastMath.Vector.self) .>= tv) << 48
        while bits != 0 {
            let l = bits.trailingZeroBitCount
            candValue[nc] = p[l]; candId[nc] = UInt32(id + l); nc += 1
            bits &= bits - 1
        }
    }

    /// Appends every entry of base[from..<to] that is ≥ lower to the candidates, in id order.
    @inline(__always)
    private func collect(_ base: UnsafePointer<Float>, from: Int, to: Int, lower: Float, count nc: inout Int) {
        let tv = FastMath.Vector(repeating: lower)
        var i = from
        while i + 16 <= to {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self)
            let hit = v .>= tv
            if any(hit) {
                // Visit only the set lanes: mask → 16-bit integer → trailing-zero loop.
                var bits = Truncator.laneMask(hit)
                while bits != 0 {
                    let l = bits.trailingZeroBitCount
                    candValue[nc] = base[i + l]; candId[nc] = UInt32(i + l); nc += 1
                    bits &= bits - 1
                }
            }
            i += 16
        }
        while i < to {
            if base[i] >= lower { candValue[nc] = base[i]; candId[nc] = UInt32(i); nc += 1 }
            i += 1
        }
    }
}

/// In-place selection and sorting on raw buffers (no allocation; Swift's `sort` is a stable merge sort that allocates).
enum Selection {
    /// Reorders a[0..<n] so that a[0..<k] hold the k largest values and a[k-1] is the k-th largest (quickselect,
    /// median-of-three pivots). Requires 1 ≤ k ≤ n.
    @inline(__always)
    static func partitionLargest<T: Comparable>(_ a: UnsafeMutablePointer<T>, count n: Int, k: Int) {
        var lo = 0, hi = n - 1
        let target = k - 1
        while hi > lo {
            let mid = lo + (hi - lo) / 2
            // Median of three, placed at hi as the pivot.
            if a[mid] > a[lo] { swap(a, mid, lo) }
            if a[hi] > a[lo] { swap(a, hi, lo) }
            if a[mid] > a[hi] { swap(a, mid, hi) }
            let pivot = a[hi]
            var store = lo
            for i in lo..<hi where a[i] > pivot { swap(a, i, store); store += 1 }
            swap(a, store, hi)
            if store == target { return }
            if store < target { lo = store + 1 } else { hi = store - 1 }
        }
    }

    /// Sorts a[0..<n] in descending order (insertion sort for short runs, else quicksort).
    static func sortDescending<T: Comparable>(_ a: UnsafeMutablePointer<T>, count n: Int) {
        if n <= 32 {
            if n < 2 { return }
            for i in 1..<n {
                let x = a[i]
                var j = i
                while j > 0 && a[j - 1] < x { a[j] = a[j - 1]; j -= 1 }
                a[j] = x
            }
            return
        }
        let mid = n / 2
        if a[mid] > a[0] { swap(a, mid, 0) }
        if a[n - 1] > a[0] { swap(a, n - 1, 0) }
        if a[mid] > a[n - 1] { swap(a, mid, n - 1) }
        let pivot = a[n - 1]
        var store = 0
        for i in 0..<(n - 1) where a[i] > pivot { swap(a, i, store); store += 1 }
        swap(a, store, n - 1)
        sortDescending(a, count: store)
        sortDescending(a + store + 1, count: n - store - 1)
    }

    @inline(__always) static func swap<T>(_ a: UnsafeMutablePointer<T>, _ i: Int, _ j: Int) {
        let t = a[i]; a[i] = a[j]; a[j] = t
    }
}

/// Convenience entry points for truncation (a dump loop may run one `Truncator` per thread and hand the
/// resulting `TruncatedRows` to `StoreWriter.append(tokens:truncated:)`).
public enum Truncation {
    /// Softmax → top-p → top-k over Float32 rows of width `rowWidth` (default `vocabSize`).
    /// `tokens`, when given, are the rows' input tokens: target log-probs are then recorded for every row but
    /// the last (whose next token is unknown, NaN).
    public static func topPTopK(logits: UnsafeBufferPointer<Float>, vocabSize: Int, rowWidth: Int? = nil,
                                policy: TruncationPolicy, tokens: [UInt32]? = nil) throws -> TruncatedRows {
        let t = try Truncator(vocabSize: vocabSize, rowWidth: rowWidth, policy: policy)
        var out = TruncatedRows()
        let next: [UInt32?]? = tokens.map { tk in (0..<tk.count).map { $0 + 1 < tk.count ? tk[$0 + 1] : nil } }
        try t.truncate(rows: logits, nextTokens: next, into: &out)
        return out
    }
}
