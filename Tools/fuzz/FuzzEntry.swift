#if LOGITSTORE_FUZZING
/// libFuzzer's entry point (built with `-sanitize=fuzzer -parse-as-library -D LOGITSTORE_FUZZING`; Tools/torture).
@_cdecl("LLVMFuzzerTestOneInput")
public func logitStoreFuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzStore.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#endif
