import Foundation
import Transformer

/// `transformer-bench gemm`: what OpenBLAS sgemm delivers on this machine, in wall-clock GFLOP/s, for a large
/// square product and for the teacher's own shapes (rows × in → out), three ways: one BLAS thread, all BLAS
/// threads on one product, and one single-threaded product per core at once (how `dump --workers` runs).
/// The best of `reps` timings is kept. Prints one JSON line per shape.
func gemmPeak(rows: Int, reps: Int) {
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let shapes: [(String, Int, Int, Int)] = [
        ("square 2048", 2048, 2048, 2048),
        ("gate+up 576->3072", rows, 576, 3072),
        ("down 1536->576", rows, 1536, 576),
        ("qkv 576->960", rows, 576, 960),
        ("lm head 576->49152", rows, 576, 49152),
    ]
    func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        for i in 0..<n { p[i] = Float((i * 7919) % 1000) / 1000 - 0.5 }
        return p
    }
    let defaultThreads = BLASThreads.count
    for (name, m, k, n) in shapes {
        let a = (0..<cores).map { _ in buffer(m * k) }, w = buffer(n * k), c = (0..<cores).map { _ in buffer(m * n) }
        let flops = 2 * Double(m) * Double(k) * Double(n)
        func product(_ i: Int) { Gemm.run(transA: false, transB: true, m: m, n: n, k: k, a: a[i], lda: k, b: w, ldb: k, beta: 0, c: c[i], ldc: n) }
        func best(_ body: () -> Void) -> Double {
            body()
            var t = Double.infinity
            for _ in 0..<reps { let t0 = DispatchTime.now().uptimeNanoseconds; body(); t = min(t, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) }
            return t
        }
        BLASThreads.count = 1
        let one = best { product(0) }
        BLASThreads.count = defaultThreads
        let pooled = best { product(0) }
        BLASThreads.count = 1
        let perCore = best { DispatchQueue.concurrentPerform(iterations: cores) { product($0) } }
        BLASThreads.count = defaultThreads
        print(String(format: "{\"shape\": \"%@\", \"m\": %d, \"k\": %d, \"n\": %d, \"gflops_1_thread\": %.1f, \"gflops_%d_blas_threads\": %.1f, \"gflops_%d_single_thread_products_at_once\": %.1f}",
                     name, m, k, n, flops / one / 1e9, defaultThreads, flops / pooled / 1e9, cores, Double(cores) * flops / perCore / 1e9))
        a.forEach { $0.deallocate() }; c.forEach { $0.deallocate() }; w.deallocate()
    }
}
