// storage-lab: measurements behind the storage engine's design choices, and the Spec/vectors generator.
//
//   storage-lab synth OUT [--positions N] [--seq-len L] [--top-k K] [--seed S]   teacher-shaped synthetic store
//   storage-lab from-logits X.npy OUT [--top-p P] [--top-k K]                    store from real logits rows
//   storage-lab codecs STORE [--block BYTES]...                                  re-encode STORE under filter/codec variants
//   storage-lab truncate (--logits X.npy | --vocab V --rows N) [--top-p P] [--top-k K]   writer hot path, rows/s, one thread
//   storage-lab read STORE                                                       sequential positions/s, random sequence ms
//   storage-lab vectors OUTDIR                                                   regenerate the spec vectors
//
// Timings are wall-clock on a shared, noisy machine; run under `taskset -c 0` for one core.
import Foundation
import LogitStore

var args = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = args.firstIndex(of: name), i + 1 < args.count else { return nil }
    let v = args[i + 1]; args.removeSubrange(i...(i + 1)); return v
}
func options(_ name: String) -> [String] { var out: [String] = []; while let v = option(name) { out.append(v) }; return out }
func fail(_ s: String) -> Never { FileHandle.standardError.write((s + "\n").data(using: .utf8)!); exit(1) }
/// CPU time of this thread: unlike wall time, it does not count time the (shared, loaded) machine gave to others.
func cpuNow() -> Double { var t = timespec(); clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }
func now() -> Double { var t = timespec(); clock_gettime(CLOCK_MONOTONIC, &t); return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9 }

guard let command = args.first else { fail("usage: storage-lab synth|codecs|truncate|read|vectors ...") }
args.removeFirst()
do {
    switch command {
    case "synth": try Lab.synth()
    case "from-logits": try Lab.fromLogits()
    case "codecs": try Lab.codecs()
    case "truncate": try Lab.truncate()
    case "read": try Lab.read()
    case "vectors": try Vectors.generate(outDir: args.first ?? "Spec/vectors")
    default: fail("unknown command \(command)")
    }
} catch { fail("error: \(error)") }
