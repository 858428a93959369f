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
/// Implementation: one fused SIMD pass for the maximum, a finiteness check and Σexp (in L1-sized chunks,
/// rescaling when the maximum rises), then one SIMD scan for the exact top-k with a rising threshold and a
/// bounded heap; the top-p prefix is cut from those k in double precision. No sort of the row.
public final class Truncator {
    public let vocabSize: Int
    public let rowWidth: Int
    public let policy: TruncationPolicy

    private var scratch: UnsafeMutableBufferPointer<Float>
    private let heapV: UnsafeMutablePointer<Float>
    private let heapI: UnsafeMutablePointer<UInt32>
    private let keys: UnsafeMutablePointer<UInt64>
    private let chunkMax: UnsafeMutablePointer<Float>

    /// - Parameters: vocabSize: real vocabulary; rowWidth: width of incoming rows (≥ vocabSize; padded columns ignored).
    public init(vocabSize: Int, rowWidth: Int? = nil, policy: TruncationPolicy) throws {
        try policy.validate()
        guard vocabSize > 0, vocabSize <= Int(UInt32.max) else { throw StoreError.invalidInput("vocabulary size must be in 1...2^32-1, got \(vocabSize)") }
        let width = rowWidth ?? vocabSize
        guard width >= vocabSize else { throw StoreError.invalidInput("padded row width \(width) is smaller than the vocabulary \(vocabSize)") }
        self.vocabSize = vocabSize; self.rowWidth = width; self.policy = policy
        scratch = .allocate(capacity: width)
        heapV = .allocate(capacity: Swift.min(policy.topK, vocabSize))
        heapI = .allocate(capacity: Swift.min(policy.topK, vocabSize))
        keys = .allocate(capacity: vocabSize)
        chunkMax = .allocate(capacity: (vocabSize + Truncator.chunk - 1) / Truncator.chunk)
    }

    deinit { scratch.deallocate(); heapV.deallocate(); heapI.deallocate(); keys.deallocate(); chunkMax.deallocate() }

    /// Truncates `rows.count / rowWidth` Float32 rows and appends them to `out`.
    /// `nextTokens[r]`, when given and non-nil, is the actual next token of row r; its log-probability goes into
    /// `out.targetLogprobs` (NaN when nil). Throws on a wrong length or a non-finite logit (naming the row);
    /// `out` is then left unchanged.
    public func truncate(rows: UnsafeBufferPointer<Float>, nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        let n = try rowCount(rows.count, nextTokens)
        let mark = Mark(out)
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
        let mark = Mark(out)
        do {
            for r in 0..<n {
                let src = UnsafeBufferPointer(rebasing: rows[(r * rowWidth)..<(r * rowWidth + vocabSize)])
                let dst = UnsafeMutableBufferPointer(rebasing: scratch[0..<vocabSize])
                widen(src, dst)
                try truncateRow(UnsafeBufferPointer(dst), row: r, next: nextTokens?[r], recordTarget: nextTokens != nil, into: &out)
            }
        } catch { mark.restore(&out); throw error }
    }

    private struct Mark {
        let counts: Int, entries: Int, targets: Int?
        init(_ o: TruncatedRows) { counts = o.counts.count; entries = o.ids.count; targets = o.targetLogprobs?.count }
        func restore(_ o: inout TruncatedRows) {
            o.counts.removeSubrange(counts...); o.ids.removeSubrange(entries...); o.probs.removeSubrange(entries...)
            if let t = targets { o.targetLogprobs?.removeSubrange(t...) } else { o.targetLogprobs = nil }
        }
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
        let k = policy.topK
        let p = policy.topP
        let chosen = selectTopK(x, k: Swift.min(k, vocabSize))
        let zd = Double(z)
        var cum = 0.0
        var kept = 0
        for i in 0..<chosen {
            let q = Glibc.exp(Double(heapV[i] - m)) / zd
            out.ids.append(heapI[i])
            out.probs.append(Float16(Float(q)))
            kept += 1
            cum += q
            if cum >= p { break }
        }
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

    /// One pass over the row in chunks of 256: the maximum m, Σ exp(x − m) (rescaled whenever a chunk raises m),
    /// whether every element is finite, and each chunk's maximum (in `chunkMax`). Fusing keeps the row streaming
    /// from memory while the exponentials run.
    @inline(__always)
    func maxSumExp(_ x: UnsafeBufferPointer<Float>) -> (Float, Float, Bool) {
        let n = x.count
        let base = x.baseAddress!
        let chunk = Truncator.chunk
        let span = 16 * chunk  // 16 KiB of a row: long enough bursts for the hardware prefetcher, still in L1
        var m = -Float.infinity
        var acc = FastMath.Vector(repeating: 0)
        var finite = FastMath.Vector(repeating: 0)
        var tail: Float = 0
        var start = 0, c = 0
        while start < n {
            let spanEnd = Swift.min(n, start + span)
            // Maxima of each 256-wide chunk of the span (kept for the top-k bound), and of the span.
            var spanMax = -Float.infinity
            var cs = start
            while cs < spanEnd {
                let end = Swift.min(spanEnd, cs + chunk)
                var mv = FastMath.Vector(repeating: -.infinity)
                var i = cs
                while i + 16 <= end {
                    let v = UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self)
                    mv.replace(with: v, where: v .> mv)  // pointwiseMax is not vectorised (≈100× slower)
                    finite += v - v
                    i += 16
                }
                var cm = horizontalMax(mv)
                while i < end { cm = Swift.max(cm, base[i]); finite[0] += base[i] - base[i]; i += 1 }
                chunkMax[c] = cm; c += 1
                spanMax = Swift.max(spanMax, cm)
                cs = end
            }
            if spanMax > m {
                if m > -.infinity {
                    let r = expNonPositive(FastMath.Vector(repeating: m - spanMax))[0]
                    acc *= r; tail *= r
                }
                m = spanMax
            }
            let sv = FastMath.Vector(repeating: m)
            var i = start
            while i + 16 <= spanEnd {
                acc += expNonPositive(UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self) - sv)
                i += 16
            }
            while i < spanEnd { tail += expNonPositive(FastMath.Vector(repeating: base[i] - m))[0]; i += 1 }
            start = spanEnd
        }
        return (m, acc.sum() + tail, finite.sum() == 0)
    }

    static let chunk = 256
    static let laneBits = SIMD16<Int32>(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)

    /// A UInt64 whose unsigned order is (value ascending, then id descending): sorting keys descending
    /// gives value descending, ties by id ascending.
    @inline(__always)
    static func key(_ value: Float, _ id: UInt32) -> UInt64 {
        let b = value.bitPattern
        let ordered = (b & 0x8000_0000) != 0 ? ~b : b | 0x8000_0000
        return UInt64(ordered) << 32 | UInt64(~id)
    }

    /// Exact top-k of the row by (value descending, id ascending), written best-first to heapV/heapI; returns
    /// how many (min(k, V)). The k-th largest chunk maximum is a lower bound L on the k-th largest value (those
    /// k chunk maxima are k distinct entries ≥ L), so one vectorised scan collects every entry ≥ L — typically a
    /// few hundred — and only those are sorted.
    @inline(__always)
    private func selectTopK(_ x: UnsafeBufferPointer<Float>, k: Int) -> Int {
        let n = x.count
        let base = x.baseAddress!
        let chunks = (n + Truncator.chunk - 1) / Truncator.chunk
        var lower = -Float.infinity
        if chunks >= k {
            Selection.partitionLargest(chunkMax, count: chunks, k: k)
            lower = chunkMax[k - 1]
        }
        let tv = FastMath.Vector(repeating: lower)
        var nc = 0
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self)
            let hit = v .>= tv
            if any(hit) {
                // Visit only the set lanes: mask → 16-bit integer → trailing-zero loop.
                var bits = UInt32(truncatingIfNeeded: (unsafeBitCast(hit, to: SIMD16<Int32>.self) & Truncator.laneBits).wrappedSum())
                while bits != 0 {
                    let l = bits.trailingZeroBitCount
                    keys[nc] = Truncator.key(base[i + l], UInt32(i + l)); nc += 1
                    bits &= bits - 1
                }
            }
            i += 16
        }
        while i < n { if base[i] >= lower { keys[nc] = Truncator.key(base[i], UInt32(i)); nc += 1 }; i += 1 }
        let kept = Swift.min(k, nc)
        if nc > kept { Selection.partitionLargest(keys, count: nc, k: kept) }
        Selection.sortDescending(keys, count: kept)
        for j in 0..<kept {
            let key = keys[j]
            let ordered = UInt32(truncatingIfNeeded: key >> 32)
            let bits = (ordered & 0x8000_0000) != 0 ? ordered & 0x7FFF_FFFF : ~ordered
            heapV[j] = Float(bitPattern: bits)
            heapI[j] = ~UInt32(truncatingIfNeeded: key)
        }
        return kept
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
