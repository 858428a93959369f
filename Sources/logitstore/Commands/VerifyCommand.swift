import ArgumentParser
import Foundation
import LogitStore

/// `logitstore verify STORE`: every shard's whole-file checksum and every block, with a progress bar.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every shard's whole-file XXH3-64 against the manifest and decode every block; exit 1 on any damage.")

    @Argument(help: "The store directory.") var store: String
    @Flag(help: "Print the report as JSON.") var json = false

    struct Report: Encodable {
        let ok: Bool, shards: Int, blocks: Int, positions: Int, entries: Int, bytes: Int, problems: [String]
    }

    func run() async throws {
        let reader: StoreReader
        do { reader = try StoreReader(directory: store, verifyChecksums: true) } catch {
            if json { try printJSON(Report(ok: false, shards: 0, blocks: 0, positions: 0, entries: 0, bytes: 0, problems: ["\(error)"])) }
            else { printError("verify: FAILED: \(error)") }
            throw ExitCode(1)
        }
        let bar = ProgressBar(label: "verify", total: Double(reader.manifest.byteCount) / 1e6, unit: "MB")
        let r = try reader.verify { done, _ in bar.update(done: Double(done) / 1e6) }
        bar.finish()
        if json {
            try printJSON(Report(ok: r.ok, shards: r.shards, blocks: r.blocks, positions: r.positions, entries: r.entries, bytes: r.bytes, problems: r.problems))
        } else if r.ok {
            print("OK: \(Fmt.int(r.shards)) shards, \(Fmt.int(r.blocks)) blocks, \(Fmt.int(r.positions)) positions, \(Fmt.int(r.entries)) entries, "
                  + "\(Fmt.bytes(Double(r.bytes))) checked (whole-file and per-block XXH3-64, every block decoded)")
        } else {
            for p in r.problems { printError(p) }
            printError("verify: FAILED: \(r.problems.count) problem\(r.problems.count == 1 ? "" : "s") in \(store)")
        }
        if !r.ok { throw ExitCode(1) }
    }
}
