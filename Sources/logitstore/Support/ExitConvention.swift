import ArgumentParser
import Foundation
import LogitStore
import Teacher
import Trainer

/// The tool's one exit-code convention: 0 success, 1 runtime failure or damage (a bad store, a failed write, a
/// checkpoint or resume mismatch), 64 usage errors only (unknown or malformed options, option values out of range),
/// which alone print the usage hint. Every error is one line of at most `ErrorText.lineLimit` characters.
enum ExitConvention {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64

    /// The usage-error message when `error`, thrown by a command's `run()`, is about the options given; nil when it
    /// is a runtime failure.
    static func usageMessage(_ error: Error) -> String? {
        if let e = error as? ValidationError { return e.message }
        if case .invalidOption? = error as? TeacherError { return "\(error)" }
        if case .invalidOption? = error as? TrainerError { return "\(error)" }
        return nil
    }

    /// Ends the process for an error thrown while parsing the arguments (help requests included).
    static func exitAfterParsing<C: ParsableCommand>(_ error: Error, command: C.Type) -> Never {
        let message = C.message(for: error)
        guard message.count > ErrorText.lineLimit, C.exitCode(for: error) != .success else { C.exit(withError: error) }
        printError("Error: " + ErrorText.bounded(message))
        exit(C.exitCode(for: error).rawValue)
    }

    /// Ends the process for an error thrown by a command's `run()`.
    static func exitAfterRunning<C: ParsableCommand>(_ error: Error, command: C.Type) -> Never {
        if let usage = usageMessage(error) { C.exit(withError: ValidationError(ErrorText.bounded(usage))) }
        // ExitCode, CleanExit and the parser's own errors (help, version) keep ArgumentParser's handling.
        if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") { C.exit(withError: error) }
        printError("error: " + ErrorText.bounded("\(error)"))
        exit(failure)
    }
}

/// A runtime failure detected by a command itself (exit 1, no usage hint), as opposed to a `ValidationError`.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
