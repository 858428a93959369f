import ArgumentParser

// Placeholder until its owner lands the real command.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "(not yet implemented)")
    func run() async throws { throw ValidationError("'train' is not implemented yet") }
}
