#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Two environment hooks for the crash tests of `Tools/torture` (unset in normal use, and then free: the
/// variables are read once per process).
///
/// - `LOGITSTORE_CRASH_POINT=POINT[:N]`: the writer kills its own process with SIGKILL (as `kill -9` would) the
///   N-th time (default 1) it reaches POINT of the commit protocol (`StoreWriter.commit`), one of
///   `CrashPoint.allCases`: `block-written` (a block appended to the open temp shard), `shard-synced` (the temp
///   shard complete and fsynced, not yet renamed), `shard-renamed` (renamed to its final name, directory not yet
///   fsynced), `directory-synced` (before the manifest update), `manifest-saved` (the manifest lists the shard;
///   the writer has not yet counted it).
/// - `LOGITSTORE_SHARD_TARGET_BYTES=N`: overrides `WriterOptions.shardTargetBytes` (≥ 1), so that small test runs
///   make multi-shard stores.
public enum CrashPoint: String, CaseIterable, Sendable {
    case blockWritten = "block-written"
    case shardSynced = "shard-synced"
    case shardRenamed = "shard-renamed"
    case directorySynced = "directory-synced"
    case manifestSaved = "manifest-saved"

    private static let armed: (point: CrashPoint, hit: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["LOGITSTORE_CRASH_POINT"], !spec.isEmpty else { return nil }
        let parts = spec.split(separator: ":")
        guard let point = CrashPoint(rawValue: String(parts[0])) else { return nil }
        return (point, parts.count > 1 ? max(1, Int(parts[1]) ?? 1) : 1)
    }()
    nonisolated(unsafe) private static var hits = 0

    /// Kills the process here when `LOGITSTORE_CRASH_POINT` names this point and this is its N-th visit.
    static func reach(_ point: CrashPoint) {
        guard let armed, armed.point == point else { return }
        hits += 1
        if hits == armed.hit { kill(getpid(), SIGKILL) }
    }

    /// `LOGITSTORE_SHARD_TARGET_BYTES` when set to a positive integer.
    static let shardTargetOverride: Int? = {
        ProcessInfo.processInfo.environment["LOGITSTORE_SHARD_TARGET_BYTES"].flatMap { Int($0) }.flatMap { $0 >= 1 ? $0 : nil }
    }()
}
