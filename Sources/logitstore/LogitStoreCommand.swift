import ArgumentParser

/// The `logitstore` command: stores a teacher's next-token distributions and trains students on them.
/// Exit codes follow `ExitConvention`: 0 success, 1 runtime failure or damage, 64 usage errors.
@main
struct LogitStoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logitstore",
        abstract: "Store a teacher LLM's next-token distributions on disk and distil students from them.",
        discussion: "Exit status: 0 success, 1 runtime failure or a damaged store, 64 usage error.",
        subcommands: [
            DumpCommand.self, InspectCommand.self, ImportCommand.self, ExportCommand.self,
            VerifyCommand.self, MergeCommand.self, ShowCommand.self, BenchCommand.self,
            TrainCommand.self, EvalCommand.self, TokenizeCommand.self,
        ]
    )

    /// Parses, runs the chosen command, and maps what it throws onto the exit-code convention.
    static func main() async {
        let command: ParsableCommand
        do { command = try await asyncParseAsRoot() } catch { ExitConvention.exitAfterParsing(error, command: self) }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch {
            ExitConvention.exitAfterRunning(error, command: self)
        }
    }
}
