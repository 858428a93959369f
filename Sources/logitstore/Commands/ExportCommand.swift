import ArgumentParser
import Foundation
import NumPyFiles
import StoreInterchange

/// `logitstore export STORE --out DIR`: the store back as NumPy files, bit-exact.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write tokens.npy, sequence_lengths.npy, counts.npy, ids.npy, probs.npy (and target_logprobs.npy) back, bit-exact.")

    @Argument(help: "The store directory.") var store: String
    @Option(help: "Output directory (created if missing).") var out: String
    @Option(name: .customLong("counts-dtype"), help: "uint8, uint16 or uint32 (default: the narrowest that holds top-k).") var countsDtype: String?
    @Flag(help: "Replace existing .npy files in the output directory.") var overwrite = false

    func run() async throws {
        var ct: NPYScalarType?
        if let countsDtype {
            guard let t = [NPYScalarType.uint8, .uint16, .uint32].first(where: { $0.numpyName == countsDtype }) else {
                throw ValidationError("--counts-dtype must be uint8, uint16 or uint32")
            }
            ct = t
        }
        var bar: ProgressBar?
        let summary = try StoreExporter.export(store: store, to: out, countsType: ct, overwrite: overwrite) { done, total in
            if bar == nil { bar = ProgressBar(label: "export", total: Double(total), unit: "pos") }
            bar?.update(done: Double(done))
        }
        bar?.finish()
        print("exported \(Fmt.int(summary.sequences)) sequences, \(Fmt.int(summary.positions)) positions, \(Fmt.int(summary.entries)) entries to \(out): "
              + summary.files.joined(separator: ", "))
    }
}
