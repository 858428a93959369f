import Foundation
import LogitStore
import NumPyFiles

/// What an export wrote.
public struct ExportSummary: Codable, Equatable, Sendable {
    /// Sequences written.
    public var sequences: Int
    /// Positions written (elements of `tokens.npy`).
    public var positions: Int
    /// Kept entries written (elements of `ids.npy` and `probs.npy`).
    public var entries: Int
    /// The files written, in the output directory.
    public var files: [String]
}

/// Writes a store back out as the NumPy files `logitstore import` reads, bit for bit:
/// `tokens.npy` (uint32 [N]), `sequence_lengths.npy` (int64 [S]), `counts.npy` ([N]), `ids.npy` (uint32 [E]),
/// `probs.npy` (float16 [E]) and, when the store has that stream, `target_logprobs.npy` (float32 [N]).
public enum StoreExporter {
    /// The narrowest unsigned type that holds every count a store with this top-k can have.
    public static func defaultCountsType(topK: Int) -> NPYScalarType {
        topK <= Int(UInt8.max) ? .uint8 : (topK <= Int(UInt16.max) ? .uint16 : .uint32)
    }

    /// Exports `store` into `directory` (created if missing). Refuses to replace existing files unless
    /// `overwrite`; files appear only once complete. `progress(donePositions, totalPositions)` after each chunk.
    public static func export(store: String, to directory: String, countsType: NPYScalarType? = nil, overwrite: Bool = false,
                              progress: ((Int, Int) -> Void)? = nil) throws -> ExportSummary {
        let reader = try StoreReader(directory: store)
        let n = reader.positionCount, e = reader.entryCount, s = reader.sequenceCount
        let ct = countsType ?? defaultCountsType(topK: reader.manifest.truncation.topK)
        guard [.uint8, .uint16, .uint32].contains(ct) else {
            throw InterchangeError.inconsistent("counts dtype must be uint8, uint16 or uint32, not \(ct.numpyName)")
        }
        var names = ["tokens.npy", "sequence_lengths.npy", "counts.npy", "ids.npy", "probs.npy"]
        if reader.hasTargetLogprobs { names.append("target_logprobs.npy") }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: directory, isDirectory: &isDir) {
            guard isDir.boolValue else { throw InterchangeError.outputExists(directory + " (not a directory)") }
        } else {
            do { try fm.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
                throw NPYError.writeFailed(path: directory, reason: "cannot create directory: \(error.localizedDescription)")
            }
        }
        if !overwrite, let existing = names.first(where: { fm.fileExists(atPath: directory + "/" + $0) }) {
            throw InterchangeError.outputExists(directory + "/" + existing)
        }

        let tokens = try NPYWriter(path: directory + "/tokens.npy", scalar: .uint32, shape: [n])
        let lengths = try NPYWriter(path: directory + "/sequence_lengths.npy", scalar: .int64, shape: [s])
        let counts = try NPYWriter(path: directory + "/counts.npy", scalar: ct, shape: [n])
        let ids = try NPYWriter(path: directory + "/ids.npy", scalar: .uint32, shape: [e])
        let probs = try NPYWriter(path: directory + "/probs.npy", scalar: .float16, shape: [e])
        let targets = reader.hasTargetLogprobs ? try NPYWriter(path: directory + "/target_logprobs.npy", scalar: .float32, shape: [n]) : nil

        try lengths.append(contentsOf: (0..<s).map { Int64(reader.sequenceRange($0).count) })
        var record = SequenceRecord()
        var c32: [UInt32] = [], c16: [UInt16] = [], c8: [UInt8] = []
        let chunk = 65_536
        var start = 0
        progress?(0, n)
        while start < n {
            let end = min(n, start + chunk)
            try reader.read(start..<end, into: &record)
            try tokens.append(contentsOf: record.tokens)
            c32.removeAll(keepingCapacity: true)
            for j in 0..<record.positionCount { c32.append(UInt32(record.offsets[j + 1] - record.offsets[j])) }
            switch ct {
            case .uint8:
                c8.removeAll(keepingCapacity: true)
                for c in c32 {
                    guard c <= UInt8.max else { throw InterchangeError.inconsistent("a position keeps \(c) entries, too many for uint8 counts") }
                    c8.append(UInt8(c))
                }
                try counts.append(contentsOf: c8)
            case .uint16:
                c16.removeAll(keepingCapacity: true)
                for c in c32 {
                    guard c <= UInt16.max else { throw InterchangeError.inconsistent("a position keeps \(c) entries, too many for uint16 counts") }
                    c16.append(UInt16(c))
                }
                try counts.append(contentsOf: c16)
            default:
                try counts.append(contentsOf: c32)
            }
            try ids.append(contentsOf: record.ids)
            try probs.append(contentsOf: record.probs)
            if let targets, let tl = record.targetLogprobs { try targets.append(contentsOf: tl) }
            start = end
            progress?(start, n)
        }
        for w in [tokens, lengths, counts, ids, probs] + (targets.map { [$0] } ?? []) { try w.finish() }
        return ExportSummary(sequences: s, positions: n, entries: e, files: names)
    }
}
