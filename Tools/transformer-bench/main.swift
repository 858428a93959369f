// Transformer benchmark: tokens/s and GFLOP/s of LlamaModel on random weights.
//   teacher mode: forward + LM head (in chunks) of SmolLM2-135M's shape, inference only;
//   student mode: forward + LM head + cross-entropy + backward of a ~7M-parameter student.
// Usage: transformer-bench [teacher|student|exp|gemm [--rows R]] [--profile [--only LAYER]] [--batch B] [--seq T] [--iters N] [--dim D] [--layers L] [--heads H] [--kv-heads K] [--ffn F]
// Prints one JSON line. Tools/bench-transformer runs it side by side with PyTorch.
import Foundation
import Transformer
import FastMath

var args = Array(CommandLine.arguments.dropFirst())
let mode = args.first.map { $0.hasPrefix("--") ? "teacher" : $0 } ?? "teacher"
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = args.firstIndex(of: name), i + 1 < args.count, let v = Int(args[i + 1]) else { return fallback }
    return v
}
let student = mode == "student"
var config = student
    ? LlamaConfig(layers: 4, dim: 128, heads: 4, kvHeads: 2, ffnDim: 384, vocabSize: 49152, tiedEmbeddings: true)
    : LlamaConfig.smolLM2_135M
config.layers = option("--layers", config.layers)
config.dim = option("--dim", config.dim)
config.heads = option("--heads", config.heads)
config.kvHeads = option("--kv-heads", config.kvHeads)
config.ffnDim = option("--ffn", config.ffnDim)
let batch = option("--batch", student ? 8 : 4)
let seqLen = option("--seq", student ? 256 : 512)
let iters = option("--iters", 3)
let chunk = option("--chunk", 256)

if mode == "exp" {
    // FastMath throughput on vocabulary-wide rows: exp and softmax over 49,152 floats, thread CPU time.
    let n = 49152, reps = 300
    var x = [Float](repeating: 0, count: n), y = x
    for i in 0..<n { x[i] = Float(i % 977) * 0.01 - 5 }
    var sink: Float = 0
    func perRow(_ body: () -> Float) -> Double {
        let t0 = threadCPUSeconds()
        for _ in 0..<reps { sink += body() }
        return (threadCPUSeconds() - t0) / Double(reps)
    }
    let expRow = perRow { y.withUnsafeMutableBufferPointer { p in p.baseAddress!.update(from: x, count: n); return FastMath.expInPlace(p, minus: 1) } }
    let softRow = perRow { y.withUnsafeMutableBufferPointer { p in p.baseAddress!.update(from: x, count: n); return FastMath.softmaxInPlace(p) } }
    print("{\"exp_per_second\": \(Double(n) / expRow), \"softmax_row_us\": \(softRow * 1e6), \"row\": \(n), \"sink\": \(sink.isFinite ? 0 : 1)}")
    exit(0)
}

if mode == "gemm" {
    gemmPeak(rows: option("--rows", 512), reps: iters)
    exit(0)
}

if args.contains("--profile") {
    profileLayers(config: config, batch: batch, seqLen: seqLen, backward: student)
    exit(0)
}

let model = try LlamaModel(config: config)
model.initialiseRandomly(seed: 1)
let rows = batch * seqLen, V = config.vocabSize, D = config.dim
var tokens = [UInt32](repeating: 0, count: rows)
var state: UInt64 = 12345
for i in 0..<rows { state = state &* 6364136223846793005 &+ 1; tokens[i] = UInt32((state >> 33) % UInt64(V)) }
var logits = [Float](repeating: 0, count: chunk * V)
var dHidden = [Float](repeating: 0, count: rows * D)

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// One step; returns (forward seconds, head seconds, backward seconds).
func step() throws -> (Double, Double, Double) {
    let t0 = now()
    let hidden = try tokens.withUnsafeBufferPointer { try model.forward(tokens: $0, batch: batch, seqLen: seqLen, training: student) }
    let t1 = now()
    var r0 = 0
    while r0 < rows {
        let n = min(chunk, rows - r0)
        logits.withUnsafeMutableBufferPointer { lp in
            LMHead.logits(hidden: hidden.baseAddress! + r0 * D, rows: n, dim: D, weight: model.outputWeight.baseAddress!, vocab: V, into: lp.baseAddress!)
            if student {
                // Cross-entropy gradient against the next token, (softmax − onehot)/rows, then the head's backward.
                for r in 0..<n {
                    let row = UnsafeMutableBufferPointer(start: lp.baseAddress! + r * V, count: V)
                    FastMath.softmaxInPlace(row)
                    row[Int(tokens[(r0 + r + 1) % rows])] -= 1
                    FastMath.scale(row, by: 1 / Float(rows))
                }
                dHidden.withUnsafeMutableBufferPointer { dh in
                    (dh.baseAddress! + r0 * D).update(repeating: 0, count: n * D)
                    LMHead.backward(dLogits: lp.baseAddress!, hidden: hidden.baseAddress! + r0 * D, rows: n, dim: D,
                                    weight: model.outputWeight.baseAddress!, vocab: V,
                                    dHidden: dh.baseAddress! + r0 * D, dWeight: model.outputWeightGradient.baseAddress!)
                }
            }
        }
        r0 += n
    }
    let t2 = now()
    if student { try dHidden.withUnsafeBufferPointer { try model.backward(dHidden: $0) } }
    let t3 = now()
    return (t1 - t0, t2 - t1, t3 - t2)
}

if student { model.zeroGradients() }
_ = try step()  // warm-up (allocates buffers)
var best = (Double.infinity, 0.0, 0.0, 0.0)
for _ in 0..<iters {
    let (f, h, b) = try step()
    if f + h + b < best.0 { best = (f + h + b, f, h, b) }
}
let flopsFwd = config.forwardFlopsPerToken(seqLen: seqLen) * Double(rows)
let flops = student ? 3 * flopsFwd : flopsFwd
let result: [String: Any] = [
    "impl": "swift", "mode": mode, "batch": batch, "seq_len": seqLen,
    "parameters": model.layout.count,
    "tokens_per_second": Double(rows) / best.0,
    "gflops": flops / best.0 / 1e9,
    "seconds_per_step": best.0, "forward_s": best.1, "head_s": best.2, "backward_s": best.3,
]
let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: data, as: UTF8.self))
