import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import LogitStore

/// A `.manifest.json.<pid>.tmp` left by a process killed while saving the manifest is removed by the next writer
/// that opens the store; one whose process is alive is left alone.
final class StaleManifestTempTests: XCTestCase {
    func testNextWriterRemovesManifestTempsOfDeadProcessesOnly() throws {
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
        XCTAssertTrue(FileManager.default.fileExists(atPath: alive), "a live process's manifest temp file was removed")
        XCTAssertEqual(try StoreReader(directory: dir).sequenceCount, 0)
    }
}
