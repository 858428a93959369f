import ArgumentParser

// Placeholder until its owner lands the real command.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'eval' is not implemented yet") }
}
