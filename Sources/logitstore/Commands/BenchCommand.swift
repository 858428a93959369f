import ArgumentParser

// Placeholder until its owner lands the real command.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'bench' is not implemented yet") }
}
