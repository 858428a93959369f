import ArgumentParser

// Placeholder until its owner lands the real command.
struct DumpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dump", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'dump' is not implemented yet") }
}
