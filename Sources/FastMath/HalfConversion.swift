/// Bulk conversions between float32 and the 16-bit formats that logits and probabilities arrive in.
extension FastMath {
    /// dst_i = Float(src_i) for IEEE binary16 input.
    @inlinable
    public static func widen(_ src: UnsafeBufferPointer<Float16>, into dst: UnsafeMutableBufferPointer<Float>) {
        precondition(dst.count >= src.count)
        for i in 0..<src.count { dst[i] = Float(src[i]) }
    }

    /// dst_i = Float(src_i) for bfloat16 input given as raw UInt16 bit patterns (the upper half of a float32).
    @inlinable
    public static func widenBFloat16(_ src: UnsafeBufferPointer<UInt16>, into dst: UnsafeMutableBufferPointer<Float>) {
        precondition(dst.count >= src.count)
        for i in 0..<src.count { dst[i] = Float(bitPattern: UInt32(src[i]) << 16) }
    }

    /// dst_i = Float16(src_i), rounding to nearest even.
    @inlinable
    public static func narrow(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<Float16>) {
        precondition(dst.count >= src.count)
        for i in 0..<src.count { dst[i] = Float16(src[i]) }
    }
}
