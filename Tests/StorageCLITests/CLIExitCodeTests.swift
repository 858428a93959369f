import Foundation
import XCTest
import LogitStore
import NumPyFiles
import StoreInterchange

/// The exit-code convention, tried on the built `logitstore` binary: 0 success, 1 runtime failure or damage,
/// 64 usage errors only; every error is one line of at most 300 characters and only usage errors print usage.
final class CLIExitCodeTests: XCTestCase {
    let tmp = TemporaryDirectory()

    struct Outcome { var status: Int32; var stdout: String; var stderr: String }

    /// The `logitstore` executable SwiftPM built next to this test bundle.
    var binary: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var candidates = [dir.appendingPathComponent("logitstore").path]
        candidates.append(dir.deletingLastPathComponent().appendingPathComponent("logitstore").path)   // inside an .xctest bundle
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    func run(_ args: [String]) throws -> Outcome {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            XCTFail("no logitstore binary at \(binary) (build the package first)")
            return Outcome(status: -1, stdout: "", stderr: "")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Outcome(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// A runtime failure: status 1, a single bounded error line, no usage hint.
    func assertRuntimeFailure(_ r: Outcome, mentions text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.status, 1, r.stderr, file: file, line: line)
        // Progress bars may precede it on standard error; the error itself is the last line and the only one.
        let lines = r.stderr.split(separator: "\n").filter { $0.contains("error:") }
        XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.split(separator: "\n").last?.hasPrefix("error: ") ?? false, r.stderr, file: file, line: line)
        XCTAssertLessThanOrEqual(lines.first?.count ?? 0, ErrorText.lineLimit + "error: ".count, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "'\(r.stderr)' lacks '\(text)'", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Usage:"), file: file, line: line)
    }

    func makeStore(_ name: String, lengths: [Int64], seed: UInt32) throws -> (store: String, input: String) {
        let input = tmp.file(name + "-in")
        try FileManager.default.createDirectory(atPath: input, withIntermediateDirectories: true)
        let n = Int(lengths.reduce(0, +)), v = 50
        let tokens = (0..<n).map { UInt32((Int($0) * 7 + Int(seed)) % v) }
        try NPYWriter.write(tokens, to: input + "/tokens.npy")
        try NPYWriter.write(lengths, to: input + "/sequence_lengths.npy")
        try NPYWriter.write((0..<(n * v)).map { Float(($0 * 31 + Int(seed)) % 17) / 3 }, shape: [n, v], to: input + "/logits.npy")
        return (tmp.file(name), input)
    }

    func importArgs(_ s: (store: String, input: String)) -> [String] {
        ["import", "--out", s.store, "--tokens", s.input + "/tokens.npy", "--sequence-lengths", s.input + "/sequence_lengths.npy",
         "--logits", s.input + "/logits.npy", "--top-k", "8"]
    }

    func testSuccessIsZeroAndHelpIsZero() throws {
        let s = try makeStore("ok", lengths: [4, 4], seed: 1)
        XCTAssertEqual(try run(importArgs(s)).status, 0)
        XCTAssertEqual(try run(["verify", s.store]).status, 0)
        XCTAssertEqual(try run(["--help"]).status, 0)
        XCTAssertEqual(try run(["import", "--help"]).status, 0)
    }

    func testUsageErrorsAre64WithAUsageHint() throws {
        let missing = try run(["import", "--out", tmp.file("x")])
        XCTAssertEqual(missing.status, 64)
        XCTAssertTrue(missing.stderr.contains("Usage:"), missing.stderr)
        XCTAssertEqual(try run(["no-such-command"]).status, 64)
        XCTAssertEqual(try run(["import", "--out", "x", "--tokens", "t", "--sequence-lengths", "l", "--logits", "g", "--codec", "bogus"]).status, 64)
        let huge = String(repeating: "z", count: 100_000)
        let long = try run(["inspect", tmp.file("x"), "--project", huge])
        XCTAssertEqual(long.status, 64)
        XCTAssertTrue(long.stderr.split(separator: "\n").allSatisfy { $0.count <= 400 }, "an error line echoes a 100 kB value")
    }

    func testRuntimeFailuresAreOneWithOneBoundedLine() throws {
        let verify = try run(["verify", tmp.file("no-store")])   // verify reports in its own words, on one line
        XCTAssertEqual(verify.status, 1)
        XCTAssertEqual(verify.stderr.split(separator: "\n").count, 1, verify.stderr)
        XCTAssertFalse(verify.stderr.contains("Usage:"))
        assertRuntimeFailure(try run(["inspect", tmp.file("no-store")]), mentions: "no-store")

        // The resume case through the binary: 2 sequences, then 4 different ones.
        let a = try makeStore("resume", lengths: [4, 4], seed: 1)
        XCTAssertEqual(try run(importArgs(a)).status, 0)
        var b = try makeStore("other", lengths: [4, 4, 4, 4], seed: 2)
        b.store = a.store
        assertRuntimeFailure(try run(importArgs(b)), mentions: "cannot resume the import")
        XCTAssertEqual(try StoreReader(directory: a.store).sequenceCount, 2)

        // A damaged shard: verify and export fail with 1.
        let shard = try StoreReader(directory: a.store).manifest.shards[0].file
        let path = a.store + "/" + shard
        var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try run(["verify", a.store]).status, 1)
        assertRuntimeFailure(try run(["export", a.store, "--out", tmp.file("ex")]), mentions: shard)

        // A manifest holding a megabyte-long value: the error line stays bounded.
        let c = try makeStore("long", lengths: [3], seed: 3)
        XCTAssertEqual(try run(importArgs(c)).status, 0)
        let manifest = c.store + "/manifest.json"
        var text = String(decoding: FileManager.default.contents(atPath: manifest)!, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"format\"", with: "\"format\": \"" + String(repeating: "q", count: 1 << 20) + "\", \"format_old\"")
        try text.write(toFile: manifest, atomically: true, encoding: .utf8)
        assertRuntimeFailure(try run(["inspect", c.store]), mentions: "manifest")

        // A missing checkpoint is a runtime failure, not a usage error.
        assertRuntimeFailure(try run(["eval", "--checkpoint", tmp.file("no-run"), "--store", a.store]), mentions: "no-run")
    }
}

/// `ErrorText.bounded`: one line, at most the limit, long values elided, short messages unchanged.
final class ErrorTextTests: XCTestCase {
    func testShortMessagesAreUnchangedAndLongOnesBounded() {
        XCTAssertEqual(ErrorText.bounded("not found: shard a.lgs"), "not found: shard a.lgs")
        XCTAssertEqual(ErrorText.bounded("two\nlines\tand tab"), "two lines and tab")
        let value = String(repeating: "v", count: 1 << 20)
        let line = ErrorText.bounded("bad name \(value) in manifest.json")
        XCTAssertLessThanOrEqual(line.count, ErrorText.lineLimit)
        XCTAssertTrue(line.hasPrefix("bad name vvv"))
        XCTAssertTrue(line.hasSuffix(" in manifest.json"), line)
        XCTAssertTrue(line.contains("…"))
        let words = (0..<500).map { "w\($0)" }.joined(separator: " ")
        let cut = ErrorText.bounded(words)
        XCTAssertEqual(cut.count, ErrorText.lineLimit)
        XCTAssertTrue(cut.hasPrefix("w0 w1 ") && cut.hasSuffix("w498 w499"), cut)
        XCTAssertLessThanOrEqual(StoreError.invalidInput(value).description.count, ErrorText.lineLimit)
    }
}
