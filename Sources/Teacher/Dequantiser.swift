/// Dequantisation of GGML blocks to Float32 (see `GGMLType` for the layouts).
public enum Dequantiser {
    /// Dequantises `source` (whole blocks of `type`) into `destination`, which holds exactly the element count.
    public static func dequantise(type: GGMLType, source: UnsafeRawBufferPointer, into destination: UnsafeMutableBufferPointer<Float>) {
        let blocks = destination.count / type.blockElements
        precondition(blocks * type.blockElements == destination.count && source.count >= blocks * type.blockBytes,
                     "dequantise: buffer sizes do not match \(type)")
        guard blocks > 0, let src = source.baseAddress, let dst = destination.baseAddress else { return }
        switch type {
        case .f32:
            for i in 0..<blocks { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<blocks { dst[i] = half(src, 2 * i) }
        case .bf16:
            for i in 0..<blocks { dst[i] = Float(bitPattern: UInt32(u16(src, 2 * i)) << 16) }
        case .q8_0:
            for b in 0..<blocks { q8_0(src + b * 34, dst + b * 32) }
        case .q4_0:
            for b in 0..<blocks { q4_0(src + b * 18, dst + b * 32) }
        case .q4_1:
            for b in 0..<blocks { q4_1(src + b * 20, dst + b * 32) }
        case .q4_K:
            for b in 0..<blocks { q4_K(src + b * 144, dst + b * 256) }
        case .q6_K:
            for b in 0..<blocks { q6_K(src + b * 210, dst + b * 256) }
        }
    }

    @inline(__always) static func u16(_ p: UnsafeRawPointer, _ o: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: o, as: UInt16.self))
    }
    @inline(__always) static func half(_ p: UnsafeRawPointer, _ o: Int) -> Float {
        Float(Float16(bitPattern: u16(p, o)))
    }

    @inline(__always) static func q8_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(b, 0)
        let q = (b + 2).assumingMemoryBound(to: Int8.self)
        for j in 0..<32 { y[j] = d * Float(q[j]) }
    }

    @inline(__always) static func q4_0(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(b, 0)
        let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            y[j] = d * Float(Int(qs[j] & 0x0F) - 8)
            y[j + 16] = d * Float(Int(qs[j] >> 4) - 8)
        }
    }

    @inline(__always) static func q4_1(_ b: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(b, 0), m = half(b, 2)
        let qs = (b + 4).assumingMemoryBound(to: UInt8.self)
        for j in 0..<16 {
            y[j] = d * Float(qs[j] & 0x0F) + m
            y[j + 16] = d * Float(qs[j] >> 4) + m
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) packed in the 12 `scales` bytes of a Q4_K block.
    @inline(__always) static func scaleMinK4(_ j: Int, _ q: UnsafePointer<UInt8>) -> (Float, Float) {
        if j < 4 { return (Float(q[j] & 63), Float(q[j + 4] & 63)) }
        let sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)
        let m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4)
        return (Float(sc), Float(m))
    }

    @inline(__always) static func q4_K(_ b: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        let d = half(b, 0), dmin = half(b, 2)
        let scales = (b + 4).assumingMemoryBound(to: UInt8.self)
        var q = (b + 16).assumingMemoryBound(to: UInt8.self)
        var y = out
        var s = 0
        for _ in 0..<4 {                       // 64 elements per step: two sub-blocks sharing 32 bytes
            let (sc1, m1) = scaleMinK4(s, scales), (sc2, m2) = scaleMinK4(s + 1, scales)
            let d1 = d * sc1, mm1 = dmin * m1, d2 = d * sc2, mm2 = dmin * m2
            for l in 0..<32 { y[l] = d1 * Float(q[l] & 0x0F) - mm1 }
            for l in 0..<32 { y[l + 32] = d2 * Float(q[l] >> 4) - mm2 }
            q += 32; y += 64; s += 2
        }
    }

    @inline(__always) static func q6_K(_ b: UnsafeRawPointer, _ out: UnsafeMutablePointer<Float>) {
        var ql = b.assumingMemoryBound(to: UInt8.self)
        var qh = (b + 128).assumingMemoryBound(to: UInt8.self)
        var sc = (b + 192).assumingMemoryBound(to: Int8.self)
        let d = half(b, 208)
        var y = out
        for _ in 0..<2 {                       // 128 elements per half
            for l in 0..<32 {
                let isc = l / 16
                let q1 = Int(ql[l] & 0x0F | ((qh[l] >> 0) & 3) << 4) - 32
                let q2 = Int(ql[l + 32] & 0x0F | ((qh[l] >> 2) & 3) << 4) - 32
                let q3 = Int(ql[l] >> 4 | ((qh[l] >> 4) & 3) << 4) - 32
                let q4 = Int(ql[l + 32] >> 4 | ((qh[l] >> 6) & 3) << 4) - 32
                y[l] = d * Float(sc[isc]) * Float(q1)
                y[l + 32] = d * Float(sc[isc + 2]) * Float(q2)
                y[l + 64] = d * Float(sc[isc + 4]) * Float(q3)
                y[l + 96] = d * Float(sc[isc + 6]) * Float(q4)
            }
            y += 128; ql += 64; qh += 32; sc += 8
        }
    }
}
