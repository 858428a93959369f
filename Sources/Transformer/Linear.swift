import COpenBLAS

/// A bias-free linear layer y = x·Wᵀ with W stored row-major as [out, in] (the GGUF/PyTorch layout).
/// Every call is one sgemm over all rows (M = batch × sequence).
public enum Linear {
    /// out[rows, outDim] (+)= inp[rows, inDim] · W[outDim, inDim]ᵀ. With `accumulate` the product is
    /// added to `out` (used to fold the residual connection into the product).
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        rows: Int, inDim: Int, outDim: Int, accumulate: Bool = false) {
        Gemm.run(transA: false, transB: true, m: rows, n: outDim, k: inDim,
                 a: inp, lda: inDim, b: weight, ldb: inDim, beta: accumulate ? 1 : 0, c: out, ldc: outDim)
    }

    /// dInp[rows, inDim] (+)= dOut · W and dWeight[outDim, inDim] += dOutᵀ · inp.
    public static func backward(dInp: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                         dOut: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                         rows: Int, inDim: Int, outDim: Int, accumulateInput: Bool) {
        Gemm.run(transA: false, transB: false, m: rows, n: inDim, k: outDim,
                 a: dOut, lda: outDim, b: weight, ldb: inDim, beta: accumulateInput ? 1 : 0, c: dInp, ldc: inDim)
        Gemm.run(transA: true, transB: false, m: outDim, n: inDim, k: rows,
                 a: dOut, lda: outDim, b: inp, ldb: inDim, beta: 1, c: dWeight, ldc: inDim)
    }
}

/// Row-major `cblas_sgemm`: C[m, n] = alpha · op(A)[m, k] · op(B)[k, n] + beta · C.
public enum Gemm {
    /// Runs one product: op(A) is A, or Aᵀ when `transA` (likewise B); `lda`, `ldb`, `ldc` are row strides in floats.
    /// Does nothing when `m` or `n` is 0.
    @inline(__always)
    public static func run(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }
}

/// The OpenBLAS thread pool size. Callers that run products on several threads of their own set it to 1
/// first, so that each product runs on its calling thread (BLAS inside parallel loops oversubscribes the cores).
public enum BLASThreads {
    /// Threads OpenBLAS uses for one product.
    public static var count: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}
