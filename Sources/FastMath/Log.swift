#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension FastMath {
    /// Natural logarithm (the C library's `logf`).
    @inlinable @inline(__always)
    public static func log(_ x: Float) -> Float { logf(x) }
}
