import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LogitStore

/// A `.manifest.json.<pid>.tmp` left by a process killed while saving the manifest is removed by the next writer
/// that opens the store (under the directory lock every manifest save holds, so no live save is touched).
final class StaleManifestTempTests: XCTestCase {
    func testNextWriterRemovesLeftoverManifestTemps() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let options = WriterOptions(vocabSize: 100, policy: TruncationPolicy(topP: 0.9, topK: 5), writerID: "w")
        try StoreWriter(directory: dir, options: options).finish()
        var dead: Int32 = 4_000_000
        while kill(dead, 0) == 0 || errno != ESRCH { dead -= 1 }
        let stale = dir + "/.manifest.json.\(dead).tmp", alive = dir + "/.manifest.json.1.tmp"
        for p in [stale, alive] { XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data("{".utf8))) }
        try StoreWriter(directory: dir, options: options).finish()
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale), "a dead process's manifest temp file survived")
        XCTAssertFalse(FileManager.default.fileExists(atPath: alive), "a leftover manifest temp file survived")
        XCTAssertEqual(try StoreReader(directory: dir).sequenceCount, 0)
    }

    /// A commit whose manifest update fails (here: its temp path is a directory, as a full disk would fail it) leaves
    /// no renamed-but-unlisted shard behind, so `verify` stays clean and a resume starts from the committed data.
    func testFailedManifestUpdateRemovesTheRenamedShard() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let options = WriterOptions(vocabSize: 400, policy: TruncationPolicy(topP: 0.9, topK: 10), writerID: "w",
                                    shardTargetBytes: 1 << 30, blockTargetBytes: 1024)
        let w = try StoreWriter(directory: dir, options: options)
        let (tokens, rows) = syntheticRows(positions: 30, vocab: 400, kmax: 10, seed: 1)
        try w.append(tokens: tokens, truncated: rows)
        try w.commit()
        try w.append(tokens: tokens, truncated: rows)
        let blocker = dir + "/.manifest.json.\(getpid()).tmp"
        try FileManager.default.createDirectory(atPath: blocker, withIntermediateDirectories: false)
        XCTAssertThrowsError(try w.commit())
        try FileManager.default.removeItem(atPath: blocker)
        let shards = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".lgs") }
        XCTAssertEqual(shards, ["w-000000.lgs"], "the uncommitted shard was left in the directory")
        let reader = try StoreReader(directory: dir)
        XCTAssertEqual(reader.sequenceCount, 1)
        XCTAssertTrue(try reader.verify().ok)
    }
}
