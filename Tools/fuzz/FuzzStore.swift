#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LogitStore

/// The fuzz harness over the store's two parsers of untrusted bytes: the shard parser and the manifest parser.
///
/// An input's first byte chooses the target (even: shard, odd: manifest); the rest is the file. A shard input is
/// written as the one shard of a store whose manifest (from the seed store, `Spec/vectors/zstd` by default, or
/// `LOGITSTORE_FUZZ_SEED_STORE`) lists it with its true size and XXH3-64, so the fuzzer reaches past the
/// whole-file checksum into the parser, as a hostile store would. A manifest input is written next to the seed
/// store's shards. Each store is then opened with and without block checksums, read and verified. Every thrown
/// error is fine; a trap, a crash or a sanitizer report is a finding.
enum FuzzStore {
    static let seedStore: String = ProcessInfo.processInfo.environment["LOGITSTORE_FUZZ_SEED_STORE"] ?? "Spec/vectors/zstd"

    /// A private scratch directory on tmpfs when there is one.
    static let workDirectory: String = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let dir = base + "/logitstore-fuzz-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try! FileManager.default.createDirectory(atPath: dir + "/shard", withIntermediateDirectories: true)
        try! FileManager.default.createDirectory(atPath: dir + "/manifest", withIntermediateDirectories: true)
        return dir
    }()

    /// The seed store's manifest as a JSON object, and its shard files copied into the manifest target's store.
    static let template: (manifest: [String: Any], firstShard: [String: Any]) = {
        let data = FileManager.default.contents(atPath: seedStore + "/manifest.json")!
        let manifest = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
        let shards = manifest["shards"] as! [[String: Any]]
        for s in shards {
            let name = s["file"] as! String
            try? FileManager.default.removeItem(atPath: workDirectory + "/manifest/" + name)
            try! FileManager.default.copyItem(atPath: seedStore + "/" + name, toPath: workDirectory + "/manifest/" + name)
        }
        return (manifest, shards[0])
    }()

    /// Runs one input.
    static func run(_ input: UnsafeRawBufferPointer) {
        guard let selector = input.first else { return }
        let body = UnsafeRawBufferPointer(rebasing: input[1...])
        if selector & 1 == 0 { shard(body) } else { manifest(body) }
    }

    static func write(_ bytes: UnsafeRawBufferPointer, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "cannot write \(path)")
        var done = 0
        while done < bytes.count {
            let r = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            precondition(r > 0, "short write to \(path)")
            done += r
        }
        close(fd)
    }

    static func shard(_ body: UnsafeRawBufferPointer) {
        let dir = workDirectory + "/shard"
        var entry = template.firstShard
        let name = entry["file"] as! String
        write(body, to: dir + "/" + name)
        entry["bytes"] = body.count
        entry["xxh3"] = Checksum.hex(Checksum.xxh3(body))
        var manifest = template.manifest
        manifest["shards"] = [entry]
        let json = try! JSONSerialization.data(withJSONObject: manifest)
        json.withUnsafeBytes { write($0, to: dir + "/manifest.json") }
        exercise(dir)
    }

    static func manifest(_ body: UnsafeRawBufferPointer) {
        _ = template
        let dir = workDirectory + "/manifest"
        write(body, to: dir + "/manifest.json")
        exercise(dir)
    }

    /// Opens, reads (bounded amounts) and verifies the store; errors are expected and ignored.
    static func exercise(_ dir: String) {
        for checked in [false, true] {
            guard let reader = try? StoreReader(directory: dir, verifyChecksums: checked) else { continue }
            reader.decodeThreads = 1
            for s in 0..<min(reader.sequenceCount, 16) { _ = try? reader.sequence(s) }
            if reader.positionCount > 0 { _ = try? reader.positions(0..<min(reader.positionCount, 4096)) }
            if checked { _ = try? reader.verify() }
        }
    }
}
