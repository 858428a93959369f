import ArgumentParser

// Placeholder until its owner lands the real command.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'show' is not implemented yet") }
}
