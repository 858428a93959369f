import ArgumentParser

// Placeholder until its owner lands the real command.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'verify' is not implemented yet") }
}
