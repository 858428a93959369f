#if LOGITSTORE_FUZZING
import Foundation

/// libFuzzer's per-input entry point (built with `-sanitize=fuzzer -parse-as-library -D LOGITSTORE_FUZZING`;
/// see Tools/torture).
@_cdecl("LLVMFuzzerTestOneInput")
public func logitStoreFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzStore.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's driver (compiler-rt, LLVM ≥ 12), called from our own entry point because SwiftPM links an
/// executable target's entry under its own name rather than libFuzzer's `main`.
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The fuzzer binary's entry: hands the command line to libFuzzer.
@main
struct FuzzMain {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(llvmFuzzerRunDriver(&argc, &argv, logitStoreFuzzOneInput))
    }
}
#endif
