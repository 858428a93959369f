import ArgumentParser

// Placeholder until its owner lands the real command.
struct MergeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'merge' is not implemented yet") }
}
