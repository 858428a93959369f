import CZstd
import CLZ4

/// Codec identifiers as stored in a stream descriptor (Spec/FORMAT.md §4.4.2, registry §11).
enum CodecID: UInt8 {
    case none = 0
    case lz4 = 1
    case zstd = 2
}

/// zstd / lz4 / none, with reused contexts.
final class Compressor {
    private let cctx: OpaquePointer
    private let dctx: OpaquePointer

    init() {
        cctx = ZSTD_createCCtx()
        dctx = ZSTD_createDCtx()
    }
    deinit { ZSTD_freeCCtx(cctx); ZSTD_freeDCtx(dctx) }

    /// Compresses `src` with `codec`, appending to `dst`. Returns the codec id actually used: a stream that does
    /// not shrink is stored with codec `none` (readers handle every codec in every stream).
    func compress(_ src: UnsafeRawBufferPointer, codec: Codec, into dst: inout [UInt8]) throws -> CodecID {
        let start = dst.count
        switch codec {
        case .none:
            dst.append(contentsOf: src)
            return .none
        case .zstd(let level):
            let bound = ZSTD_compressBound(src.count)
            dst.reserveCapacity(start + bound)
            var written = 0
            dst.append(contentsOf: repeatElement(0, count: bound))
            try dst.withUnsafeMutableBytes { d in
                ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters)
                ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, Int32(level))
                let r = ZSTD_compress2(cctx, d.baseAddress! + start, bound, src.baseAddress, src.count)
                if ZSTD_isError(r) != 0 { throw StoreError.codec(file: "(writer)", block: nil, detail: "zstd: " + String(cString: ZSTD_getErrorName(r))) }
                written = r
            }
            dst.removeSubrange((start + written)...)
            if written >= src.count { dst.removeSubrange(start...); dst.append(contentsOf: src); return .none }
            return .zstd
        case .lz4:
            guard src.count < Int(Int32.max) else { throw StoreError.codec(file: "(writer)", block: nil, detail: "lz4 input too large") }
            let bound = Int(LZ4_compressBound(Int32(src.count)))
            dst.append(contentsOf: repeatElement(0, count: bound))
            var written = 0
            dst.withUnsafeMutableBytes { d in
                let dp = (d.baseAddress! + start).assumingMemoryBound(to: CChar.self)
                written = Int(LZ4_compress_default(src.baseAddress?.assumingMemoryBound(to: CChar.self), dp, Int32(src.count), Int32(bound)))
            }
            dst.removeSubrange((start + written)...)
            if written <= 0 || written >= src.count { dst.removeSubrange(start...); dst.append(contentsOf: src); return .none }
            return .lz4
        }
    }

    /// Why `src` is not one conforming Zstandard frame of `rawSize` bytes (Spec §4.4.2), or nil: exactly one frame
    /// (no skippable frames, nothing after it), its content size present and equal to `rawSize`, no dictionary.
    static func zstdFrameProblem(_ src: UnsafeRawBufferPointer, rawSize: Int) -> String? {
        guard src.count >= 4 else { return "zstd payload of \(src.count) bytes is too short for a frame" }
        let magic = UInt32(src[0]) | UInt32(src[1]) << 8 | UInt32(src[2]) << 16 | UInt32(src[3]) << 24
        if magic & 0xFFFF_FFF0 == 0x184D_2A50 { return "zstd payload starts with a skippable frame" }
        guard magic == 0xFD2F_B528 else { return "zstd payload does not start with a frame magic number" }
        let size = ZSTD_getFrameContentSize(src.baseAddress, src.count)
        if size == ZSTD_CONTENTSIZE_UNKNOWN { return "zstd frame does not record its content size" }
        if size == ZSTD_CONTENTSIZE_ERROR { return "zstd frame header is malformed" }
        guard size == UInt64(rawSize) else { return "zstd frame content size \(size) differs from the raw size \(rawSize)" }
        guard ZSTD_getDictID_fromFrame(src.baseAddress, src.count) == 0 else { return "zstd frame requires a dictionary" }
        let frame = ZSTD_findFrameCompressedSize(src.baseAddress, src.count)
        if ZSTD_isError(frame) != 0 { return "zstd frame is malformed (" + String(cString: ZSTD_getErrorName(frame)) + ")" }
        guard frame == src.count else { return "zstd payload has \(src.count - frame) bytes after its frame" }
        return nil
    }

    /// Decompresses exactly `dst.count` bytes; anything else is an error (never partial data).
    func decompress(_ src: UnsafeRawBufferPointer, codec: CodecID, into dst: UnsafeMutableRawBufferPointer) -> String? {
        switch codec {
        case .none:
            guard src.count == dst.count else { return "stored size \(src.count) differs from raw size \(dst.count)" }
            if src.count > 0 { dst.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
            return nil
        case .zstd:
            if let why = Compressor.zstdFrameProblem(src, rawSize: dst.count) { return why }
            let r = ZSTD_decompressDCtx(dctx, dst.baseAddress, dst.count, src.baseAddress, src.count)
            if ZSTD_isError(r) != 0 { return "zstd: " + String(cString: ZSTD_getErrorName(r)) }
            guard r == dst.count else { return "zstd produced \(r) bytes, expected \(dst.count)" }
            return nil
        case .lz4:
            guard src.count < Int(Int32.max), dst.count < Int(Int32.max) else { return "lz4 stream too large" }
            let r = LZ4_decompress_safe(src.baseAddress?.assumingMemoryBound(to: CChar.self),
                                        dst.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(src.count), Int32(dst.count))
            guard r == Int32(dst.count) else { return r < 0 ? "lz4: malformed input" : "lz4 produced \(r) bytes, expected \(dst.count)" }
            return nil
        }
    }
}
