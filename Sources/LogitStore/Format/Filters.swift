/// Reversible filters applied to a stream before its codec (Spec/FORMAT.md §4.4.1).
///
/// A stream is a sequence of unsigned integers of a logical width (u32 for tokens, counts, ids and
/// target log-prob bits; u16 for float16 probability bits). It is stored at a physical width W ∈ {1, 2, 4}
/// (every value must fit) after one of these filters.
public enum FilterID: UInt8, Sendable, CaseIterable {
    /// W-byte little-endian elements, one after the other.
    case none = 0
    /// Byte-shuffle (as Blosc / Parquet BYTE_STREAM_SPLIT): all first bytes, then all second bytes, ...
    case shuffle = 1
    /// d_i = v_{i-1} − v_i modulo 2^(8W) with v_{-1} = 0 (small for descending runs), then byte-shuffle.
    case deltaShuffle = 2
    /// Ids only: the id's rank under the shard's id table (π⁻¹(id), §4.6), then byte-shuffle.
    case rankShuffle = 3
}

enum Filters {
    /// Encodes `count` values at physical width `width` with `filter`, appending count·width bytes to `out`.
    /// The caller guarantees each value fits in `width` bytes.
    static func encode<T: FixedWidthInteger & UnsignedInteger>(_ v: UnsafePointer<T>, count n: Int, width w: Int,
                                                                filter: FilterID, into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: n * w))
        out.withUnsafeMutableBufferPointer { buf in
            let d = buf.baseAddress! + start
            switch filter {
            case .none:
                for i in 0..<n {
                    let x = UInt32(truncatingIfNeeded: v[i])
                    for b in 0..<w { d[i * w + b] = UInt8(truncatingIfNeeded: x >> (8 * UInt32(b))) }
                }
            case .shuffle, .rankShuffle:  // ranks are mapped by the caller
                shuffle(w, n, d) { UInt32(truncatingIfNeeded: v[$0]) }
            case .deltaShuffle:
                let mask: UInt32 = w == 4 ? .max : (1 << (8 * UInt32(w))) - 1
                shuffle(w, n, d) { i in
                    let prev: UInt32 = i == 0 ? 0 : UInt32(truncatingIfNeeded: v[i - 1])
                    return (prev &- UInt32(truncatingIfNeeded: v[i])) & mask
                }
            }
        }
    }

    @inline(__always)
    private static func shuffle(_ w: Int, _ n: Int, _ d: UnsafeMutablePointer<UInt8>, _ value: (Int) -> UInt32) {
        switch w {
        case 1: for i in 0..<n { d[i] = UInt8(truncatingIfNeeded: value(i)) }
        case 2: for i in 0..<n { let x = value(i); d[i] = UInt8(truncatingIfNeeded: x); d[n + i] = UInt8(truncatingIfNeeded: x >> 8) }
        default:
            for i in 0..<n {
                let x = value(i)
                d[i] = UInt8(truncatingIfNeeded: x); d[n + i] = UInt8(truncatingIfNeeded: x >> 8)
                d[2 * n + i] = UInt8(truncatingIfNeeded: x >> 16); d[3 * n + i] = UInt8(truncatingIfNeeded: x >> 24)
            }
        }
    }

    /// Decodes `n` values of physical width `w` from `src` (exactly n·w bytes) into `dst`.
    static func decode<T: FixedWidthInteger & UnsignedInteger>(_ src: UnsafePointer<UInt8>, count n: Int, width w: Int,
                                                                filter: FilterID, into dst: UnsafeMutablePointer<T>) {
        switch filter {
        case .none:
            switch w {
            case 1: for i in 0..<n { dst[i] = T(truncatingIfNeeded: src[i]) }
            case 2: for i in 0..<n { dst[i] = T(truncatingIfNeeded: UInt32(src[2 * i]) | UInt32(src[2 * i + 1]) << 8) }
            default:
                for i in 0..<n {
                    let x = UInt32(src[4 * i]) | UInt32(src[4 * i + 1]) << 8 | UInt32(src[4 * i + 2]) << 16 | UInt32(src[4 * i + 3]) << 24
                    dst[i] = T(truncatingIfNeeded: x)
                }
            }
        case .shuffle, .rankShuffle:  // ranks are mapped back by the caller
            unshuffle(src, n, w, dst)
        case .deltaShuffle where w == 2:
            // v_i = v_{i-1} − d_i mod 2^16. In L1-sized tiles: a vectorised unshuffle of the tile, then its running
            // values four at a time (the dependency chain is one subtraction per four values).
            var prev: UInt16 = 0
            var t = 0
            while t < n {
                let e = Swift.min(n, t + 4096)
                for i in t..<e { dst[i] = T(truncatingIfNeeded: UInt32(src[i]) | UInt32(src[n + i]) << 8) }
                var i = t
                while i + 4 <= e {
                    let d0 = UInt16(truncatingIfNeeded: dst[i])
                    let d01 = d0 &+ UInt16(truncatingIfNeeded: dst[i + 1])
                    let d012 = d01 &+ UInt16(truncatingIfNeeded: dst[i + 2])
                    let d0123 = d012 &+ UInt16(truncatingIfNeeded: dst[i + 3])
                    dst[i] = T(truncatingIfNeeded: prev &- d0)
                    dst[i + 1] = T(truncatingIfNeeded: prev &- d01)
                    dst[i + 2] = T(truncatingIfNeeded: prev &- d012)
                    prev = prev &- d0123
                    dst[i + 3] = T(truncatingIfNeeded: prev)
                    i += 4
                }
                while i < e { prev = prev &- UInt16(truncatingIfNeeded: dst[i]); dst[i] = T(truncatingIfNeeded: prev); i += 1 }
                t = e
            }
        case .deltaShuffle:
            unshuffle(src, n, w, dst)
            let mask: UInt32 = w == 4 ? .max : (1 << (8 * UInt32(w))) - 1
            var prev: UInt32 = 0
            for i in 0..<n {
                let cur = (prev &- UInt32(truncatingIfNeeded: dst[i])) & mask
                dst[i] = T(truncatingIfNeeded: cur)
                prev = cur
            }
        }
    }

    @inline(__always)
    private static func unshuffle<T: FixedWidthInteger & UnsignedInteger>(_ s: UnsafePointer<UInt8>, _ n: Int, _ w: Int, _ dst: UnsafeMutablePointer<T>) {
        switch w {
        case 1: for i in 0..<n { dst[i] = T(truncatingIfNeeded: s[i]) }
        case 2: for i in 0..<n { dst[i] = T(truncatingIfNeeded: UInt32(s[i]) | UInt32(s[n + i]) << 8) }
        default:
            for i in 0..<n {
                let x = UInt32(s[i]) | UInt32(s[n + i]) << 8 | UInt32(s[2 * n + i]) << 16 | UInt32(s[3 * n + i]) << 24
                dst[i] = T(truncatingIfNeeded: x)
            }
        }
    }

    /// Decodes `n` rank-shuffled ids of physical width `w` from `src` into `dst`, mapping each rank r to
    /// `table[r]`. Works in L1-sized tiles (unshuffle, check the tile's largest rank, map) so each tile is read back
    /// from L1. Returns false when a rank is not below `table.count` (`dst` is then partly written).
    static func decodeRanks(_ src: UnsafePointer<UInt8>, count n: Int, width w: Int, table: RankMap,
                            into dst: UnsafeMutablePointer<UInt32>) -> Bool {
        let listedCount = table.listed.count
        return table.listed.withUnsafeBufferPointer { listed -> Bool in
            var t = 0
            while t < n {
                let e = Swift.min(n, t + 4096)
                switch w {
                case 1: for i in t..<e { dst[i] = UInt32(src[i]) }
                case 2: for i in t..<e { dst[i] = UInt32(src[i]) | UInt32(src[n + i]) << 8 }
                default:
                    for i in t..<e { dst[i] = UInt32(src[i]) | UInt32(src[n + i]) << 8 | UInt32(src[2 * n + i]) << 16 | UInt32(src[3 * n + i]) << 24 }
                }
                var top: UInt32 = 0
                for i in t..<e { top = Swift.max(top, dst[i]) }
                if Int(top) < listedCount {
                    for i in t..<e { dst[i] = listed[Int(dst[i])] }  // the common case: every rank is a listed one
                } else {
                    for i in t..<e {
                        guard let id = table.id(ofRank: dst[i]) else { return false }
                        dst[i] = id
                    }
                }
                t = e
            }
            return true
        }
    }

    /// The smallest width in {1, 2, 4} that holds `maxValue`.
    static func width(forMax maxValue: UInt32) -> Int {
        maxValue <= 0xFF ? 1 : (maxValue <= 0xFFFF ? 2 : 4)
    }
}
