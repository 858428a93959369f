import FastMath
#if canImport(Glibc)
import Glibc
#endif

/// Sparse Logit Sampling (RS-KD, arXiv 2503.16870) over full-vocabulary logits rows: the writer's path for a
/// `sample` policy.
///
/// Definition (Spec/FORMAT.md, sampled targets): p = softmax(x/τ) over the first `vocabSize` columns, proposal
/// r ∝ p^(1/τs). N ids are drawn i.i.d. from r with the uniforms of `SampleDraws` for (seed, writer id, sequence
/// ordinal, position): a draw for u is the smallest id i with C_i > u·C_V, C_i = Σ_{j≤i} r_j in double precision.
/// The distinct drawn ids, with counts c_i, get weights c_i (counts, τs = 1) or c_i·p_i/r_i (importance) and are
/// stored as float16(w_i/Σw), ordered by stored probability descending, ties by lower id.
///
/// Implementation, O(V + N log N) per row with no per-draw scan of the vocabulary:
/// 1. The top-p-k truncator's fused pass gives max m and Σexp(x − m) in float32 (so the target log-prob is the
///    same bits as a top-p-k store's) and checks finiteness.
/// 2. One SIMD pass gives the double-precision proposal mass of every 64-wide block and the total C_V.
/// 3. The N uniforms are sorted; one walk over the blocks, ascending with the targets u·C_V, opens (recomputes
///    the 64 weights of) only the blocks a draw lands in. Sorted targets give the drawn ids in id order, so the
///    distinct ids and counts are runs.
public final class Sampler {
    /// The real vocabulary V: drawn ids are < V.
    public let vocabSize: Int
    /// Width of incoming rows (≥ vocabSize; padded columns are ignored).
    public let rowWidth: Int
    /// The sample policy (`kind == .sample`, validated).
    public let policy: TruncationPolicy
    /// The writer id that keys the draws.
    public let writerID: String

    private let samples: Int
    private let invScale: Double  // 1/τs
    private let importanceExponent: Double  // 1 − 1/τs: p_i/r_i ∝ exp((x_i − m)(1 − 1/τs))
    private var key: SampleKeyBuffer
    /// Owns the fused max/Σexp pass shared with top-p-k (its truncation buffers are not used).
    private let normaliser: Truncator
    private var scratch: UnsafeMutableBufferPointer<Float>
    private let blockMass: UnsafeMutablePointer<Double>
    private let blockWeights: UnsafeMutablePointer<Double>
    private let uniforms: UnsafeMutablePointer<UInt64>
    private let drawn: UnsafeMutablePointer<UInt32>
    private let entryKeys: UnsafeMutablePointer<UInt64>
    private let entryCounts: UnsafeMutablePointer<Int32>
    private let entryWeights: UnsafeMutablePointer<Double>

    /// - Parameters: vocabSize: real vocabulary; rowWidth: width of incoming rows (≥ vocabSize); policy: a valid
    ///   sample policy; writerID: the writer whose draws these are (part of the key).
    public init(vocabSize: Int, rowWidth: Int? = nil, policy: TruncationPolicy, writerID: String) throws {
        try policy.validate()
        guard policy.kind == .sample, let n = policy.samples, let ts = policy.sampleTemperature, let seed = policy.seed else {
            throw StoreError.invalidInput("the sampler needs a sample policy, got \(policy.label)")
        }
        normaliser = try Truncator(vocabSize: vocabSize, rowWidth: rowWidth, policy: TruncationPolicy())
        self.vocabSize = vocabSize; self.rowWidth = normaliser.rowWidth; self.policy = policy; self.writerID = writerID
        samples = n
        invScale = 1 / ts
        importanceExponent = 1 - 1 / ts
        key = SampleKeyBuffer(seed: seed, writerID: writerID)
        scratch = .allocate(capacity: normaliser.rowWidth)
        blockMass = .allocate(capacity: Truncator.blockCount(vocabSize))
        blockWeights = .allocate(capacity: Truncator.block)
        uniforms = .allocate(capacity: n)
        drawn = .allocate(capacity: n)
        entryKeys = .allocate(capacity: n)
        entryCounts = .allocate(capacity: n)
        entryWeights = .allocate(capacity: n)
    }

    deinit {
        scratch.deallocate(); blockMass.deallocate(); blockWeights.deallocate(); uniforms.deallocate()
        drawn.deallocate(); entryKeys.deallocate(); entryCounts.deallocate(); entryWeights.deallocate()
    }

    /// Samples `rows.count / rowWidth` Float32 rows of one sequence and appends them to `out`. Row r is position
    /// `firstPosition + r` of the sequence with ordinal `sequenceOrdinal` (its index among all sequences this
    /// writer id has committed to the store). `nextTokens[r]`, when given, is the actual next token of row r; its
    /// log-probability under p goes into `out.targetLogprobs` (NaN when nil). Throws on a wrong length or a
    /// non-finite logit (naming the row); `out` is then left unchanged.
    public func sample(rows: UnsafeBufferPointer<Float>, sequenceOrdinal: Int, firstPosition: Int = 0,
                       nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        let n = try rowCount(rows.count, nextTokens)
        let mark = RowsMark(out)
        do {
            for r in 0..<n {
                let row = UnsafeBufferPointer(rebasing: rows[(r * rowWidth)..<(r * rowWidth + vocabSize)])
                try sampleRow(row, row: r, ordinal: sequenceOrdinal, position: firstPosition + r, next: nextTokens?[r],
                              recordTarget: nextTokens != nil, into: &out)
            }
        } catch { mark.restore(&out); throw error }
    }

    /// Float16 rows (widened to Float32 first, as the truncator does).
    public func sample(rows: UnsafeBufferPointer<Float16>, sequenceOrdinal: Int, firstPosition: Int = 0,
                       nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        try sampleWidening(rows, ordinal: sequenceOrdinal, firstPosition: firstPosition, nextTokens: nextTokens, into: &out, widen: FastMath.widen)
    }

    /// BFloat16 rows given as raw bit patterns (widened to Float32 first).
    public func sample(bfloat16Rows rows: UnsafeBufferPointer<UInt16>, sequenceOrdinal: Int, firstPosition: Int = 0,
                       nextTokens: [UInt32?]? = nil, into out: inout TruncatedRows) throws {
        try sampleWidening(rows, ordinal: sequenceOrdinal, firstPosition: firstPosition, nextTokens: nextTokens, into: &out, widen: FastMath.widenBFloat16)
    }

    private func sampleWidening<T>(_ rows: UnsafeBufferPointer<T>, ordinal: Int, firstPosition: Int, nextTokens: [UInt32?]?,
                                   into out: inout TruncatedRows,
                                   widen: (UnsafeBufferPointer<T>, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        let n = try rowCount(rows.count, nextTokens)
        let mark = RowsMark(out)
        do {
            for r in 0..<n {
                let src = UnsafeBufferPointer(rebasing: rows[(r * rowWidth)..<(r * rowWidth + vocabSize)])
                let dst = UnsafeMutableBufferPointer(rebasing: scratch[0..<vocabSize])
                widen(src, dst)
                try sampleRow(UnsafeBufferPointer(dst), row: r, ordinal: ordinal, position: firstPosition + r, next: nextTokens?[r],
                              recordTarget: nextTokens != nil, into: &out)
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

    /// Samples one row of exactly `vocabSize` logits.
    private func sampleRow(_ input: UnsafeBufferPointer<Float>, row: Int, ordinal: Int, position: Int, next: UInt32?,
                           recordTarget: Bool, into out: inout TruncatedRows) throws {
        var x = input
        let invT = Float(1 / policy.temperature)
        if invT != 1 {  // x/τ in float32, exactly as the truncator forms it
            let dst = UnsafeMutableBufferPointer(rebasing: scratch[0..<vocabSize])
            if x.baseAddress != UnsafePointer(dst.baseAddress) { for i in 0..<vocabSize { dst[i] = x[i] } }
            FastMath.scale(dst, by: invT)
            x = UnsafeBufferPointer(dst)
        }
        let (m, z, finite) = normaliser.maxSumExp(x)
        guard finite else {
            let bad = x.firstIndex { !$0.isFinite } ?? 0
            throw StoreError.invalidInput("logits row \(row) has a non-finite value (\(x[bad])) at column \(bad)")
        }
        var targetLogprob = Float.nan
        if recordTarget, let t = next {
            guard Int(t) < vocabSize else {
                throw StoreError.invalidInput("next token \(t) of row \(row) is not below the vocabulary size \(vocabSize)")
            }
            targetLogprob = Swift.min(0, x[Int(t)] - m - Glibc.logf(z))
        }
        var draws = key.draws(sequenceOrdinal: UInt64(ordinal), position: UInt64(position))
        drawIDs(x, max: Double(m), draws: &draws)
        emitEntries(x, max: Double(m), into: &out)
        if recordTarget {
            if out.targetLogprobs == nil { out.targetLogprobs = [] }
            out.targetLogprobs!.append(targetLogprob)
        }
    }

    /// Fills `drawn[0..<N]` with the N drawn ids in ascending order.
    @inline(__always)
    private func drawIDs(_ x: UnsafeBufferPointer<Float>, max m: Double, draws: inout SampleDraws) {
        let base = x.baseAddress!
        let n = x.count, width = Truncator.block
        let blocks = Truncator.blockCount(n)
        var total = 0.0
        for b in 0..<blocks {
            let s = b * width
            let mass = ProposalExp.blockSum(base + s, count: Swift.min(width, n - s), max: m, scale: invScale)
            blockMass[b] = mass
            total += mass
        }
        for k in 0..<samples { uniforms[k] = draws.nextUniformBits() }
        Selection.sortDescending(uniforms, count: samples)

        var b = 0, opened = -1, j = 0
        var before = 0.0  // Σ of the masses of blocks 0..<b
        var cum = 0.0     // before + the weights of block b's elements 0..<j
        var k = samples - 1  // ascending targets: the descending sort read backwards
        while k >= 0 {
            let target = Double(uniforms[k]) * 0x1p-53 * total
            var id = -1
            while id < 0 {
                if opened != b {
                    while b < blocks && before + blockMass[b] <= target { before += blockMass[b]; b += 1 }
                    if b == blocks { id = lastPositive(x, max: m); break }  // u·C_V rounded up to C_V
                    ProposalExp.proposal(base + b * width, count: Swift.min(width, n - b * width), max: m, scale: invScale, into: blockWeights)
                    opened = b; j = 0; cum = before
                }
                let len = Swift.min(width, n - b * width)
                while j < len {
                    let c = cum + blockWeights[j]
                    if c > target { id = b * width + j; break }
                    cum = c; j += 1
                }
                if id < 0 { before += blockMass[b]; b += 1 }  // rounding left the target past this block's sum
            }
            drawn[samples - 1 - k] = UInt32(id)
            k -= 1
        }
    }

    /// The last id with a positive proposal weight (the draw for a target that rounding put at or past C_V).
    private func lastPositive(_ x: UnsafeBufferPointer<Float>, max m: Double) -> Int {
        let n = x.count, width = Truncator.block
        var b = Truncator.blockCount(n) - 1
        while b > 0 && !(blockMass[b] > 0) { b -= 1 }
        let len = Swift.min(width, n - b * width)
        ProposalExp.proposal(x.baseAddress! + b * width, count: len, max: m, scale: invScale, into: blockWeights)
        var j = len - 1
        while j > 0 && !(blockWeights[j] > 0) { j -= 1 }
        return b * width + j
    }

    /// Runs of `drawn` → distinct ids with counts → weights → float16 probabilities, appended to `out` in the
    /// stored order (probability descending, ties by lower id).
    @inline(__always)
    private func emitEntries(_ x: UnsafeBufferPointer<Float>, max m: Double, into out: inout TruncatedRows) {
        var distinct = 0
        var i = 0
        while i < samples {
            let id = drawn[i]
            var c: Int32 = 1
            while i + Int(c) < samples && drawn[i + Int(c)] == id { c += 1 }
            entryCounts[distinct] = c
            entryKeys[distinct] = UInt64(id)
            distinct += 1
            i += Int(c)
        }
        if importanceExponent == 0 {
            let nInv = 1 / Double(samples)
            for e in 0..<distinct { entryWeights[e] = Double(entryCounts[e]) * nInv }
        } else {
            // w_i = c_i·p_i/r_i ∝ c_i·exp((x_i − m)(1 − 1/τs)), shifted by the largest exponent before exp.
            var top = -Double.infinity
            for e in 0..<distinct {
                let a = (Double(x[Int(entryKeys[e])]) - m) * importanceExponent
                entryWeights[e] = a
                top = Swift.max(top, a)
            }
            var sum = 0.0
            for e in 0..<distinct {
                let w = Double(entryCounts[e]) * Glibc.exp(entryWeights[e] - top)
                entryWeights[e] = w
                sum += w
            }
            for e in 0..<distinct { entryWeights[e] /= sum }
        }
        // Order key: stored float16 bits descending (non-negative halves order as their bits), then id ascending.
        for e in 0..<distinct {
            let p = Float16(entryWeights[e])
            entryKeys[e] = UInt64(p.bitPattern) << 32 | UInt64(~UInt32(truncatingIfNeeded: entryKeys[e]))
        }
        Selection.sortDescending(entryKeys, count: distinct)
        for e in 0..<distinct {
            let k = entryKeys[e]
            out.ids.append(~UInt32(truncatingIfNeeded: k))
            out.probs.append(Float16(bitPattern: UInt16(truncatingIfNeeded: k >> 32)))
        }
        out.counts.append(UInt32(distinct))
    }
}

/// Where a batch of rows began in a `TruncatedRows`, to undo a partly appended batch after an error.
struct RowsMark {
    let counts: Int, entries: Int, targets: Int?
    init(_ o: TruncatedRows) { counts = o.counts.count; entries = o.ids.count; targets = o.targetLogprobs?.count }
    func restore(_ o: inout TruncatedRows) {
        o.counts.removeSubrange(counts...); o.ids.removeSubrange(entries...); o.probs.removeSubrange(entries...)
        if let t = targets { o.targetLogprobs?.removeSubrange(t...) } else { o.targetLogprobs = nil }
    }
}
