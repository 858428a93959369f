import ArgumentParser

// Placeholder until its owner lands the real command.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'tokenize' is not implemented yet") }
}
