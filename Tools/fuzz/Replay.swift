#if !LOGITSTORE_FUZZING
import Foundation

/// Without the fuzzer: replays the files given (a corpus, crash reproducers) through the same harness.
@main
struct Replay {
    static func main() {
        var replayed = 0
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("fuzz-store: cannot read \(path)\n".utf8))
                exit(1)
            }
            data.withUnsafeBytes { FuzzStore.run($0) }
            replayed += 1
        }
        print("fuzz-store: \(replayed) inputs replayed without a crash")
    }
}
#endif
