import ArgumentParser

// Placeholder until its owner lands the real command.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'export' is not implemented yet") }
}
