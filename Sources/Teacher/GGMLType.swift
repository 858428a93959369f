/// The GGML tensor element types this reader can dequantise, with their block layouts.
///
/// Layouts (little-endian, `f16` = IEEE binary16), as defined by ggml:
/// - `F32`, `F16`, `BF16`: one value per element.
/// - `Q8_0`: blocks of 32: `f16 d; i8 q[32]` (34 B); x = d·q.
/// - `Q4_0`: blocks of 32: `f16 d; u8 qs[16]` (18 B); x[j] = d·((qs[j] & 15) − 8), x[j+16] = d·((qs[j] >> 4) − 8).
/// - `Q4_1`: blocks of 32: `f16 d; f16 m; u8 qs[16]` (20 B); x[j] = d·(qs[j] & 15) + m, x[j+16] = d·(qs[j] >> 4) + m.
/// - `Q4_K`: super-blocks of 256: `f16 d; f16 dmin; u8 scales[12]; u8 qs[128]` (144 B), eight 32-element
///   sub-blocks with 6-bit scales and mins.
/// - `Q6_K`: super-blocks of 256: `u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d` (210 B), sixteen 16-element
///   sub-blocks with 8-bit scales, 6-bit quants offset by 32.
public enum GGMLType: UInt32, CaseIterable, Sendable {
    /// The type ids as in the GGUF tensor table (ggml's `ggml_type`).
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q8_0 = 8, q4_K = 12, q6_K = 14, bf16 = 30

    /// Elements per block.
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q8_0: return 32
        case .q4_K, .q6_K: return 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q8_0: return 34
        case .q4_K: return 144
        case .q6_K: return 210
        }
    }

    /// Bytes taken by `elements` values (which must be a whole number of blocks).
    public func byteCount(elements: Int) -> Int? {
        guard elements % blockElements == 0 else { return nil }
        return elements / blockElements * blockBytes
    }

    /// A readable name for any GGML type id, including those not supported here.
    public static func name(of raw: UInt32) -> String {
        let names: [UInt32: String] = [0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 6: "Q5_0", 7: "Q5_1", 8: "Q8_0", 9: "Q8_1",
                                       10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 14: "Q6_K", 15: "Q8_K",
                                       16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
                                       22: "IQ2_S", 23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
                                       29: "IQ1_M", 30: "BF16"]
        return names[raw] ?? "type#\(raw)"
    }
}
