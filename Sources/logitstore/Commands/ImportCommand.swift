import ArgumentParser

// Placeholder until its owner lands the real command.
struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'import' is not implemented yet") }
}
