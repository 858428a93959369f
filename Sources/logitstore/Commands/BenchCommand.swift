import ArgumentParser

/// `logitstore bench write|read`: the storage engine's throughput, as JSON (Tools/bench-storage drives it).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the writer (rows/s from full logits) or the reader (positions/s, random sequence latency).",
        subcommands: [BenchWriteCommand.self, BenchReadCommand.self])
}
