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
/// Implementation: one SIMD pass for the maximum and a finiteness check, one pass for Σexp that also
/// collects the few candidates within `δ` of the maximum, then a bounded heap over the candidates.
/// No full sort. If the candidates cannot hold the answer (fewer than k of them and mass below p),
/// the threshold is lowered and the pass repeated (rare on real teacher rows).
public final class Truncator {
    public let vocabSize: Int
    public let rowWidth: Int
    public let policy: TruncationPolicy

    private var scratch: UnsafeMutableBufferPointer<Float>
    private var candValues: UnsafeMutablePointer<Float>
    private var candIds: UnsafeMutablePointer<UInt32>
    private var heapValues: [Float]
    private var heapIds: [UInt32]

    /// - Parameters: vocabSize: real vocabulary; rowWidth: width of incoming rows (≥ vocabSize; padded columns ignored).
    public init(vocabSize: Int, rowWidth: Int? = nil, policy: TruncationPolicy) throws {
        try policy.validate()
        guard vocabSize > 0, vocabSize <= Int(UInt32.max) else { throw StoreError.invalidInput("vocabulary size must be in 1...2^32-1, got \(vocabSize)") }
        let width = rowWidth ?? vocabSize
        guard width >= vocabSize else { throw StoreError.invalidInput("padded row width \(width) is smaller than the vocabulary \(vocabSize)") }
        self.vocabSize = vocabSize; self.rowWidth = width; self.policy = policy
        scratch = .allocate(capacity: width)
        candValues = .allocate(capacity: vocabSize)
        candIds = .allocate(capacity: vocabSize)
        heapValues = []; heapIds = []
        heapValues.reserveCapacity(policy.topK); heapIds.reserveCapacity(policy.topK)
    }

    deinit { scratch.deallocate(); candValues.deallocate(); candIds.deallocate() }

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
        let n = try rowCount(rows.count, nextTokens)
        let mark = Mark(out)
        do {
            for r in 0..<n {
                let src = UnsafeBufferPointer(rebasing: rows[(r * rowWidth)..<(r * rowWidth + vocabSize)])
                let dst = UnsafeMutableBufferPointer(rebasing: scratch[0..<vocabSize])
                FastMath.widen(src, into: dst)
                try truncateRow(UnsafeBufferPointer(dst), row: r, next: nextTokens?[r], recordTarget: nextTokens != nil, into: &out)
            }
        } catch { mark.restore(&out); throw error }
    }

    /// BFloat16 rows given as raw bit patterns (widened to Float32 first).
    public func truncate(bfloat16Rows rows: UnsafeBufferPointer<UInt16>, nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        let n = try rowCount(rows.count, nextTokens)
        let mark = Mark(out)
        do {
            for r in 0..<n {
                let src = UnsafeBufferPointer(rebasing: rows[(r * rowWidth)..<(r * rowWidth + vocabSize)])
                let dst = UnsafeMutableBufferPointer(rebasing: scratch[0..<vocabSize])
                FastMath.widenBFloat16(src, into: dst)
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
        let (m, finite) = Truncator.maxAndFinite(x)
        guard finite else {
            let bad = x.firstIndex { !$0.isFinite } ?? 0
            throw StoreError.invalidInput("logits row \(row) has a non-finite value (\(x[bad])) at column \(bad)")
        }
        let k = policy.topK
        let p = policy.topP
        var delta: Float = 10
        var z: Float = 0
        var chosen = 0
        while true {
            let threshold = delta.isInfinite ? -Float.infinity : m - delta
            var nc = 0
            z = collect(x, shift: m, threshold: threshold, count: &nc)
            selectTop(nc, k: k)
            chosen = heapValues.count
            if chosen >= k || delta.isInfinite { break }
            // Fewer than k candidates: they suffice only if their mass reaches p.
            var mass = 0.0
            for i in 0..<chosen { mass += Double(FastMath.exp(heapValues[i] - m)) }
            if mass / Double(z) >= p { break }
            delta = delta < 30 ? delta * 2 : .infinity
        }
        // heapValues/heapIds are sorted best-first now.
        let zd = Double(z)
        var cum = 0.0
        var kept = 0
        for i in 0..<chosen {
            let q = Double(Glibc.exp(Double(heapValues[i] - m))) / zd
            out.ids.append(heapIds[i])
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
                tl = x[Int(t)] - m - Glibc.logf(z)
            } else { tl = .nan }
            if out.targetLogprobs == nil { out.targetLogprobs = [] }
            out.targetLogprobs!.append(tl)
        }
    }

    /// One pass: max over the row and whether every element is finite.
    @inline(__always)
    static func maxAndFinite(_ x: UnsafeBufferPointer<Float>) -> (Float, Bool) {
        let n = x.count
        let base = x.baseAddress!
        var i = 0
        var mv = FastMath.Vector(repeating: -.infinity)
        var acc = FastMath.Vector(repeating: 0)
        while i + 16 <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self)
            mv = pointwiseMax(mv, v)
            acc += v - v
            i += 16
        }
        var m = mv.max()
        var s = acc.sum()
        while i < n { m = Swift.max(m, base[i]); s += base[i] - base[i]; i += 1 }
        return (m, s == 0)
    }

    /// Σ exp(x − shift) over the row; also copies every (x_i, i) with x_i ≥ threshold into the candidate arrays.
    @inline(__always)
    private func collect(_ x: UnsafeBufferPointer<Float>, shift: Float, threshold: Float, count: inout Int) -> Float {
        let n = x.count
        let base = x.baseAddress!
        var i = 0
        var acc = FastMath.Vector(repeating: 0)
        let sv = FastMath.Vector(repeating: shift)
        let tv = FastMath.Vector(repeating: threshold)
        var nc = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(base + i).loadUnaligned(as: FastMath.Vector.self)
            acc += FastMath.exp(v - sv)
            if any(v .>= tv) {
                for l in 0..<16 where v[l] >= threshold {
                    candValues[nc] = v[l]; candIds[nc] = UInt32(i + l); nc += 1
                }
            }
            i += 16
        }
        var s = acc.sum()
        while i < n {
            let v = base[i]
            s += FastMath.exp(v - shift)
            if v >= threshold { candValues[nc] = v; candIds[nc] = UInt32(i); nc += 1 }
            i += 1
        }
        count = nc
        return s
    }

    /// Keeps the best min(k, n) candidates (value descending, id ascending) in heapValues/heapIds, sorted best first.
    @inline(__always)
    private func selectTop(_ n: Int, k: Int) {
        heapValues.removeAll(keepingCapacity: true)
        heapIds.removeAll(keepingCapacity: true)
        // `worse(a, b)`: a ranks below b.
        @inline(__always) func worse(_ va: Float, _ ia: UInt32, _ vb: Float, _ ib: UInt32) -> Bool {
            va < vb || (va == vb && ia > ib)
        }
        // Min-heap by rank (root = worst kept).
        for c in 0..<n {
            let v = candValues[c], id = candIds[c]
            if heapValues.count < k {
                heapValues.append(v); heapIds.append(id)
                var j = heapValues.count - 1
                while j > 0 {
                    let parent = (j - 1) >> 1
                    if worse(heapValues[j], heapIds[j], heapValues[parent], heapIds[parent]) {
                        heapValues.swapAt(j, parent); heapIds.swapAt(j, parent); j = parent
                    } else { break }
                }
            } else if worse(heapValues[0], heapIds[0], v, id) {
                heapValues[0] = v; heapIds[0] = id
                siftDown(0, heapValues.count, worse)
            }
        }
        // Heap sort: repeatedly move the worst to the end → best first.
        var end = heapValues.count
        while end > 1 {
            end -= 1
            heapValues.swapAt(0, end); heapIds.swapAt(0, end)
            siftDown(0, end, worse)
        }
    }

    @inline(__always)
    private func siftDown(_ start: Int, _ end: Int, _ worse: (Float, UInt32, Float, UInt32) -> Bool) {
        var j = start
        while true {
            let l = 2 * j + 1
            if l >= end { break }
            var c = l
            let r = l + 1
            if r < end && worse(heapValues[r], heapIds[r], heapValues[l], heapIds[l]) { c = r }
            if worse(heapValues[c], heapIds[c], heapValues[j], heapIds[j]) {
                heapValues.swapAt(c, j); heapIds.swapAt(c, j); j = c
            } else { break }
        }
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
