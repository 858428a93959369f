#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Appends whole sequences to a store directory, committing shards durably as they fill.
///
/// Crash safety: a shard is written to `.<writerID>-<serial>.lgs.tmp`, fsynced, renamed to
/// `<writerID>-<serial>.lgs`, the directory fsynced, and only then added to `manifest.json` (itself replaced
/// atomically under an advisory lock, so writers with different ids may share a directory). Sequences appended
/// since the last commit are lost if the process dies; re-open with the same writer id and skip
/// `committedSequenceCount` sequences to resume.
///
/// Bad input throws `StoreError.invalidInput` and leaves nothing of that sequence in the store. After an I/O
/// error the open shard is discarded and the writer is closed; committed shards stay intact.
/// Not thread-safe: use one writer per thread (with distinct writer ids) or serialise calls.
public final class StoreWriter {
    /// The store directory.
    public let directory: String
    /// What this writer writes: vocabulary, policy, teacher, codec, writer id, sizes.
    public let options: WriterOptions
    /// The filters applied per stream (the format default unless changed before the first append).
    public var encodingPlan: EncodingPlan = .default

    /// Sequences of this writer id that are durable in the store (a resumed job skips this many).
    public private(set) var committedSequenceCount: Int
    /// Sequences appended since the last commit (lost if the process dies before the next commit).
    public var pendingSequenceCount: Int { shard?.sequences.count ?? 0 }

    private var builder: TargetBuilder?
    private var scratchRows = TruncatedRows()
    private var block = BlockContent()
    private let encoder = BlockEncoder()
    private var shard: ShardBuilder?
    private var nextSerial: Int
    private var closed = false
    private var writerLockFD: Int32 = -1
    private var nextTokens: [UInt32?] = []
    /// Spec §5.1 checks for pre-truncated rows.
    private var rowRules: PositionRules
    /// The store descriptor hash of the store's manifest, written into every shard header.
    private let descriptorHash: UInt64

    /// Creates the store (or re-opens it to resume). Refuses a store whose vocabulary, tokenizer, truncation
    /// policy, teacher weights or target-log-prob setting differ from `options`, and a writer id in use by a live writer.
    public init(directory: String, options: WriterOptions) throws {
        try options.policy.validate()
        guard options.vocabSize > 0, options.vocabSize <= Int(UInt32.max) else {
            throw StoreError.invalidInput("vocabulary size must be in 1...2^32-1, got \(options.vocabSize)")
        }
        if let p = options.paddedVocabSize, p < options.vocabSize {
            throw StoreError.invalidInput("padded vocabulary \(p) is smaller than the vocabulary \(options.vocabSize)")
        }
        guard ManifestSchema.isValidWriterID(options.writerID) else { throw StoreError.invalidInput("writer id \"\(options.writerID)\" must be 1-64 characters of A-Z a-z 0-9 - _ . not starting with '.'") }
        guard options.blockTargetBytes >= 1024, options.blockTargetBytes <= 64 << 20 else {
            throw StoreError.invalidInput("block target must be in 1 KiB...64 MiB, got \(options.blockTargetBytes)")
        }
        guard options.shardTargetBytes >= 1 else { throw StoreError.invalidInput("shard target must be positive") }
        self.directory = directory
        self.options = options
        try DurableFile.createDirectory(directory)

        // One live writer per id.
        let lockPath = directory + "/.\(options.writerID).writer-lock"
        writerLockFD = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard writerLockFD >= 0 else { throw DurableFile.fail(lockPath, "open") }
        guard flock(writerLockFD, LOCK_EX | LOCK_NB) == 0 else {
            close(writerLockFD)
            throw StoreError.incompatible("writer id \(options.writerID) is in use by another live writer on \(directory)")
        }

        let lockFD = writerLockFD
        let existing: Manifest
        do { existing = try StoreWriter.openManifest(directory: directory, options: options) } catch {
            close(lockFD)  // the failed init never reaches deinit
            throw error
        }
        descriptorHash = existing.descriptorHash
        rowRules = PositionRules(options.policy)
        let own = existing.shards.filter { $0.writerID == options.writerID }
        committedSequenceCount = own.reduce(0) { $0 + $1.sequences }
        nextSerial = (own.compactMap { StoreWriter.serial(of: $0.file, writerID: options.writerID) }.max() ?? -1) + 1
        // Clean this writer's leftovers: temp files and renamed-but-uncommitted shards.
        let committed = Set(own.map(\.file))
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
            let tmp = name.hasPrefix(".\(options.writerID)-") && name.hasSuffix(".lgs.tmp")
            let orphan = StoreWriter.serial(of: name, writerID: options.writerID) != nil && !committed.contains(name)
            if tmp || orphan { unlink(directory + "/" + name) }
        }
        if options.recordTargetLogprobs { block.targets = [] }
    }


    /// Reads (and checks) or creates the manifest under the directory lock.
    private static func openManifest(directory: String, options: WriterOptions) throws -> Manifest {
        let mine = Manifest(vocabSize: options.vocabSize,
                            paddedVocabSize: options.paddedVocabSize == options.vocabSize ? nil : options.paddedVocabSize,
                            truncation: options.policy, teacher: options.teacher, targetLogprobs: options.recordTargetLogprobs)
        return try DurableFile.withLock(directory: directory) {
            DurableFile.removeStaleTemporaries(directory: directory, name: Manifest.fileName)
            if FileManager.default.fileExists(atPath: directory + "/" + Manifest.fileName) {
                let m = try Manifest.load(directory: directory)
                if let why = m.incompatibility(with: mine) { throw StoreError.incompatible("cannot write to \(directory): \(why)") }
                if let a = m.teacher.weightsHash, let b = options.teacher.weightsHash, a != b {
                    throw StoreError.incompatible("cannot write to \(directory): teacher weights \(elided(a, 60)) vs \(elided(b, 60))")
                }
                if let line = StoreDescriptor.firstDifference(m, mine) {
                    throw StoreError.incompatible("cannot write to \(elided(directory)): the store's \(line) differs from this writer's (Spec §3.3 store descriptor)")
                }
                return m
            }
            try mine.save(directory: directory)
            return mine
        }
    }

    deinit {
        // Not finished: the open shard stays a temp file (as after a crash) and is cleaned on the next open.
        if writerLockFD >= 0 { close(writerLockFD) }
    }

    static func serial(of file: String, writerID: String) -> Int? {
        let prefix = writerID + "-", suffix = "." + ShardLayout.fileExtension
        guard file.hasPrefix(prefix), file.hasSuffix(suffix) else { return nil }
        let mid = file.dropFirst(prefix.count).dropLast(suffix.count)
        guard mid.count == 6, mid.allSatisfy(\.isNumber) else { return nil }
        return Int(mid)
    }

    // MARK: Appending

    /// The ordinal of the next appended sequence among all sequences of this writer id in the store
    /// (committed ones included): it keys a sampled policy's draws, so the stored bits do not depend on resume.
    public var nextSequenceOrdinal: Int { committedSequenceCount + pendingSequenceCount }

    /// Appends one sequence from full Float32 logits rows (`tokens.count` rows of width `options.rowWidth`),
    /// truncated or sampled under `options.policy`.
    public func append(tokens: [UInt32], logits: UnsafeBufferPointer<Float>) throws {
        try prepareLogits(tokens: tokens, count: logits.count)
        try builder!.build(rows: logits, sequenceOrdinal: nextSequenceOrdinal, nextTokens: options.recordTargetLogprobs ? nextTokens : nil, into: &scratchRows)
        try appendValidated(tokens: tokens, rows: scratchRows, checkRows: false)
    }

    /// Appends one sequence from Float16 logits rows.
    public func append(tokens: [UInt32], logitsFloat16: UnsafeBufferPointer<Float16>) throws {
        try prepareLogits(tokens: tokens, count: logitsFloat16.count)
        try builder!.build(rows: logitsFloat16, sequenceOrdinal: nextSequenceOrdinal, nextTokens: options.recordTargetLogprobs ? nextTokens : nil, into: &scratchRows)
        try appendValidated(tokens: tokens, rows: scratchRows, checkRows: false)
    }

    /// Appends one sequence from BFloat16 logits rows given as raw bit patterns.
    public func append(tokens: [UInt32], logitsBFloat16 bits: UnsafeBufferPointer<UInt16>) throws {
        try prepareLogits(tokens: tokens, count: bits.count)
        try builder!.build(bfloat16Rows: bits, sequenceOrdinal: nextSequenceOrdinal, nextTokens: options.recordTargetLogprobs ? nextTokens : nil, into: &scratchRows)
        try appendValidated(tokens: tokens, rows: scratchRows, checkRows: false)
    }

    /// Appends one sequence of already-truncated rows (validated: counts, ids, probabilities, order, k_max; under a
    /// sample policy also Σ = 1, ties by lower id and, with counts weights, multiples of 1/N). Without `targetLogprobs` in a store that records them, NaN (unknown) is stored.
    public func append(tokens: [UInt32], truncated: TruncatedRows) throws {
        guard !closed else { throw StoreError.writerClosed }
        try appendValidated(tokens: tokens, rows: truncated, checkRows: true)
    }

    private func prepareLogits(tokens: [UInt32], count: Int) throws {
        guard !closed else { throw StoreError.writerClosed }
        guard !tokens.isEmpty else { throw StoreError.invalidInput("sequence has no positions") }
        let w = options.rowWidth
        guard count == tokens.count * w else {
            throw StoreError.invalidInput("logits have \(count) values; \(tokens.count) tokens need \(tokens.count) rows × width \(w) = \(tokens.count * w)")
        }
        if builder == nil { builder = try TargetBuilder(vocabSize: options.vocabSize, rowWidth: w, policy: options.policy, writerID: options.writerID) }
        scratchRows.removeAll()
        scratchRows.targetLogprobs = nil
        if options.recordTargetLogprobs {
            nextTokens.removeAll(keepingCapacity: true)
            for j in 0..<tokens.count { nextTokens.append(j + 1 < tokens.count ? tokens[j + 1] : nil) }
        }
    }

    private func validate(tokens: [UInt32], rows: TruncatedRows, checkRows: Bool) throws {
        let v = options.vocabSize
        guard !tokens.isEmpty else { throw StoreError.invalidInput("sequence has no positions") }
        for (j, t) in tokens.enumerated() where Int(t) >= v {
            throw StoreError.invalidInput("token \(t) at position \(j) is not below the vocabulary size \(v)")
        }
        guard rows.counts.count == tokens.count else {
            throw StoreError.invalidInput("\(tokens.count) tokens but \(rows.counts.count) rows of counts")
        }
        if let t = rows.targetLogprobs, t.count != tokens.count {
            throw StoreError.invalidInput("\(tokens.count) tokens but \(t.count) target log-probs")
        }
        if rows.targetLogprobs != nil && !options.recordTargetLogprobs {
            throw StoreError.invalidInput("target log-probs given, but this store was created without the target-log-prob stream")
        }
        guard checkRows else { return }
        var total = 0
        let kmax = options.policy.topK
        for (j, c) in rows.counts.enumerated() {
            if Int(c) > kmax { throw StoreError.invalidInput("position \(j) keeps \(c) entries, more than top-k \(kmax)") }
            if c == 0 { throw StoreError.invalidInput("position \(j) keeps no entries (every count must be at least 1)") }
            total += Int(c)
        }
        guard total == rows.ids.count, total == rows.probs.count else {
            throw StoreError.invalidInput("counts sum to \(total) but there are \(rows.ids.count) ids and \(rows.probs.count) probabilities")
        }
        var e = 0
        for (j, c) in rows.counts.enumerated() {
            for id in rows.ids[e..<(e + Int(c))] where Int(id) >= v {
                throw StoreError.invalidInput("id \(id) at position \(j) is not below the vocabulary size \(v)")
            }
            if let why = rowRules.violation(ids: rows.ids[e..<(e + Int(c))], probs: rows.probs[e..<(e + Int(c))]) {
                throw StoreError.invalidInput("position \(j): \(why)")
            }
            e += Int(c)
        }
        if options.policy.isSampled { try SampledRowsCheck(policy: options.policy).check(rows) }
        if let t = rows.targetLogprobs {
            for (j, x) in t.enumerated() where !(x.isNaN || x <= 0) {
                throw StoreError.invalidInput("target log-prob \(x) at position \(j) is positive")
            }
        }
    }

    private func appendValidated(tokens: [UInt32], rows: TruncatedRows, checkRows: Bool) throws {
        try validate(tokens: tokens, rows: rows, checkRows: checkRows)
        do {
            if shard == nil {
                guard nextSerial <= 999_999 else { throw StoreError.invalidInput("writer \(options.writerID) has used all 10^6 shard serials; use another writer id") }
                let tmp = directory + "/.\(options.writerID)-\(String(format: "%06d", nextSerial)).lgs.tmp"
                shard = try ShardBuilder(tempPath: tmp, vocabSize: options.vocabSize, descriptorHash: descriptorHash)
            }
            let s = shard!
            let target = options.blockTargetBytes
            let perPos = options.recordTargetLogprobs ? 12 : 8
            // Prefer sequence boundaries as block boundaries.
            let seqBytes = tokens.count * perPos + rows.ids.count * 6
            if block.positionCount > 0 && block.logicalBytes + seqBytes > target { try flushBlock() }
            let first = s.positions + s.pendingPositions + block.positionCount
            var e = 0
            for j in 0..<tokens.count {
                let c = Int(rows.counts[j])
                block.tokens.append(tokens[j])
                block.counts.append(UInt32(c))
                block.ids.append(contentsOf: rows.ids[e..<(e + c)])
                for i in e..<(e + c) { block.probs.append(rows.probs[i].bitPattern) }
                if options.recordTargetLogprobs {
                    let t = rows.targetLogprobs?[j] ?? .nan
                    block.targets!.append(t.isNaN ? Float.nan.bitPattern : t.bitPattern)  // one NaN pattern, 0x7FC00000
                }
                e += c
                if block.logicalBytes >= target { try flushBlock() }
            }
            s.addSequence(firstPosition: first, length: tokens.count)
            if s.bytesWritten + (s.pendingLogicalBytes + block.logicalBytes) / 3 >= (CrashPoint.shardTargetOverride ?? options.shardTargetBytes) { try commitShard() }
        } catch let error as StoreError {
            if case .invalidInput = error { throw error }
            fail()
            throw error
        }
    }

    private func flushBlock() throws {
        guard block.positionCount > 0, let s = shard else { return }
        try s.addBlock(block, encoder: encoder, codec: options.codec, plan: encodingPlan)
        block.removeAll()
        CrashPoint.reach(.blockWritten)
    }

    private func fail() {
        shard?.abort(); shard = nil
        block.removeAll()
        closed = true
    }

    /// Commits the open shard now (if it holds any sequence): after this returns, every sequence appended so far is durable.
    public func commit() throws {
        guard !closed else { throw StoreError.writerClosed }
        do { try commitShard() } catch { fail(); throw error }
    }

    private func commitShard() throws {
        guard let s = shard, !s.sequences.isEmpty else { return }
        try flushBlock()
        let (bytes, sum) = try s.finish(codec: options.codec, encoder: encoder, plan: encodingPlan)
        CrashPoint.reach(.shardSynced)
        let name = "\(options.writerID)-\(String(format: "%06d", nextSerial)).\(ShardLayout.fileExtension)"
        guard rename(s.tempPath, directory + "/" + name) == 0 else { throw DurableFile.fail(directory + "/" + name, "rename") }
        CrashPoint.reach(.shardRenamed)
        try DurableFile.fsyncDirectory(directory)
        CrashPoint.reach(.directorySynced)
        let entry = Manifest.ShardEntry(file: name, writerID: options.writerID, sequences: s.sequences.count,
                                        positions: s.positions, entries: s.entries, bytes: bytes, xxh3: Checksum.hex(sum))
        try DurableFile.withLock(directory: directory) {
            do {
                var m = try Manifest.load(directory: directory)
                m.shards.append(entry)
                try m.save(directory: directory)
            } catch {
                // Not committed (a full disk while saving the manifest, say): remove the renamed shard so that no
                // unlisted file is left behind, unless the new manifest did land and lists it.
                let listed = (try? Manifest.load(directory: directory))?.shards.contains { $0.file == name } ?? false
                if !listed { unlink(directory + "/" + name) }
                throw error
            }
        }
        CrashPoint.reach(.manifestSaved)
        committedSequenceCount += s.sequences.count
        nextSerial += 1
        shard = nil
    }

    /// Commits the open shard and closes the writer. Further appends throw `StoreError.writerClosed`.
    public func finish() throws {
        guard !closed else { throw StoreError.writerClosed }
        do { try commitShard() } catch { fail(); throw error }
        closed = true
        if writerLockFD >= 0 { close(writerLockFD); writerLockFD = -1 }
    }
}
