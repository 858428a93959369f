import ArgumentParser
import Foundation
import Teacher

/// `logitstore tokenize --teacher MODEL.gguf FILE [--json]`: the teacher's token ids of a UTF-8 text file.
struct TokenizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the teacher tokenizer's ids of a text file (no BOS/EOS added).")

    @Option(name: .long, help: "The teacher GGUF file whose tokenizer to use.")
    var teacher: String

    @Argument(help: "A UTF-8 text file ('-' for standard input).")
    var file: String

    @Flag(name: .long, help: "Print {\"ids\": [...]} instead of space-separated ids.")
    var json = false

    func run() async throws {
        let tokenizer = try BPETokenizer(gguf: GGUFFile(path: teacher))
        let text = try TextInput.readUTF8(path: file)
        let ids = tokenizer.encode(text)
        var out = json ? "{\"ids\": [" : ""
        out.reserveCapacity(ids.count * 6 + 16)
        for (i, id) in ids.enumerated() {
            if i > 0 { out += json ? ", " : " " }
            out += String(id)
        }
        out += json ? "]}\n" : "\n"
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}
