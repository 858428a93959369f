import ArgumentParser

/// The `logitstore` command: stores a teacher's next-token distributions and trains students on them.
@main
struct LogitStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logitstore",
        abstract: "Store a teacher LLM's next-token distributions on disk and distil students from them.",
        subcommands: [
            DumpCommand.self, InspectCommand.self, ImportCommand.self, ExportCommand.self,
            VerifyCommand.self, MergeCommand.self, ShowCommand.self, BenchCommand.self,
            TrainCommand.self, EvalCommand.self, TokenizeCommand.self,
        ]
    )
}
