import ArgumentParser
import Foundation
import LogitStore

/// `logitstore merge OUT STORE...`: one store from several writers' stores, without copying data.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join stores into OUT by writing a manifest that lists their shards (no data is copied).",
        discussion: "Refuses stores whose vocabulary, tokenizer or truncation differ. OUT refers to the inputs' shards by relative paths.")

    @Argument(help: "The merged store directory to create.") var out: String
    @Argument(help: "The stores to join, in order.") var stores: [String]

    func validate() throws {
        if stores.isEmpty { throw ValidationError("give at least one input store") }
    }

    func run() async throws {
        try StoreMerge.merge(output: out, inputs: stores)
        let m = try Manifest.load(directory: out)
        print("merged \(stores.count) store\(stores.count == 1 ? "" : "s") into \(out): \(Fmt.int(m.shards.count)) shards, "
              + "\(Fmt.int(m.sequenceCount)) sequences, \(Fmt.int(m.positionCount)) positions, \(Fmt.int(m.entryCount)) entries (metadata only)")
    }
}
