import CXXHash

/// The normative random numbers of a sampled store (Spec/FORMAT.md, sampled targets): one SplitMix64 stream
/// per position, keyed by the manifest seed, the writer id, the sequence ordinal and the position, so a second
/// implementation reproduces every uniform and the stored bits depend on nothing else (not on threads, not on
/// resume).
public struct SampleDraws: Sendable {
    /// The position's generator: `SplitMix64` (the same one that shuffles epochs) started at the key.
    public private(set) var generator: SplitMix64

    /// The stream of one position: state = XXH3-64 with seed `seed` over writer_id (UTF-8) ‖ u64 LE
    /// `sequenceOrdinal` ‖ u64 LE `position`.
    public init(seed: UInt64, writerID: String, sequenceOrdinal: UInt64, position: UInt64) {
        var bytes = Array(writerID.utf8)
        bytes.reserveCapacity(bytes.count + 16)
        withUnsafeBytes(of: sequenceOrdinal.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: position.littleEndian) { bytes.append(contentsOf: $0) }
        generator = SplitMix64(seed: bytes.withUnsafeBytes { XXH3_64bits_withSeed($0.baseAddress, $0.count, seed) })
    }

    /// A stream that starts from a given state (the key derivation is `init(seed:writerID:...)`).
    public init(state: UInt64) { generator = SplitMix64(seed: state) }

    /// The key this stream started from (before any draw), or its current state after draws.
    public var state: UInt64 { generator.state }

    /// The next 64-bit output of SplitMix64.
    @inline(__always)
    public mutating func next() -> UInt64 { generator.next() }

    /// The next uniform in [0, 1) as its 53-bit integer numerator: u = (z >> 11) · 2^-53.
    @inline(__always)
    public mutating func nextUniformBits() -> UInt64 { next() >> 11 }

    /// The next uniform u = (z >> 11) · 2^-53 in [0, 1) (exact in double precision).
    @inline(__always)
    public mutating func nextUniform() -> Double { Double(nextUniformBits()) * 0x1p-53 }
}

/// The key prefix of one writer: its id's UTF-8 bytes, with room for the ordinal and position, hashed per
/// position without allocating.
struct SampleKeyBuffer {
    private var bytes: [UInt8]
    private let prefix: Int
    let seed: UInt64

    init(seed: UInt64, writerID: String) {
        self.seed = seed
        bytes = Array(writerID.utf8)
        prefix = bytes.count
        bytes += [UInt8](repeating: 0, count: 16)
    }

    /// The same state as `SampleDraws(seed:writerID:sequenceOrdinal:position:)`.
    @inline(__always)
    mutating func draws(sequenceOrdinal: UInt64, position: UInt64) -> SampleDraws {
        let p = prefix, s = seed
        return bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: sequenceOrdinal.littleEndian, toByteOffset: p, as: UInt64.self)
            raw.storeBytes(of: position.littleEndian, toByteOffset: p + 8, as: UInt64.self)
            return SampleDraws(state: XXH3_64bits_withSeed(raw.baseAddress, raw.count, s))
        }
    }
}
