import CXXHash

/// The one checksum of the format: XXH3-64 (xxHash 0.8, `XXH3_64bits`, seed 0) of the bytes concerned.
public enum Checksum {
    /// XXH3-64 (seed 0) of the bytes.
    @inline(__always)
    public static func xxh3(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        XXH3_64bits(bytes.baseAddress, bytes.count)
    }

    /// XXH3-64 (seed 0) of the array's bytes.
    public static func xxh3(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { xxh3($0) }
    }

    /// Lower-case 16-digit hex, as written in the manifest.
    public static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Incremental XXH3-64 over a whole file, used when committing and verifying shards.
    public final class Streaming {
        private let state: OpaquePointer
        /// Starts an empty hash.
        public init() { state = XXH3_createState(); XXH3_64bits_reset(state) }
        deinit { XXH3_freeState(state) }
        /// Adds the next bytes.
        public func update(_ bytes: UnsafeRawBufferPointer) { _ = XXH3_64bits_update(state, bytes.baseAddress, bytes.count) }
        /// The XXH3-64 of everything added so far.
        public var digest: UInt64 { XXH3_64bits_digest(state) }
    }
}
