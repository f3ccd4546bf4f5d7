/// The checks both backends make on a (strided-batched) GEMM call, and the element count each
/// operand must hold: row-major, op(A): [m, k], op(B): [k, n], C: [m, n].
struct GemmArguments {
    /// Elements A, B and C must hold from offset 0 (meaningless when `isEmpty`).
    let needA: Int, needB: Int, needC: Int
    /// m, n or batch is 0: nothing to compute.
    let isEmpty: Bool

    init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, aOffset: Int, lda: Int, strideA: Int,
         bOffset: Int, ldb: Int, strideB: Int, cOffset: Int, ldc: Int, strideC: Int, batch: Int) throws {
        guard m >= 0, n >= 0, k >= 0, batch >= 0 else {
            throw ComputeError.invalidArgument("gemm sizes m=\(m) n=\(n) k=\(k) batch=\(batch) must be >= 0")
        }
        isEmpty = m == 0 || n == 0 || batch == 0
        let (aRows, aCols) = transA ? (k, m) : (m, k)
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        guard isEmpty || (lda >= max(1, aCols) && ldb >= max(1, bCols) && ldc >= max(1, n)) else {
            throw ComputeError.invalidArgument("gemm leading dimensions lda=\(lda) ldb=\(ldb) ldc=\(ldc) too small")
        }
        guard aOffset >= 0, bOffset >= 0, cOffset >= 0, strideA >= 0, strideB >= 0, strideC >= 0 else {
            throw ComputeError.invalidArgument("gemm offsets and strides must be >= 0")
        }
        let last = max(0, batch - 1)
        // With k == 0 nothing of A or B is read (C becomes beta * C).
        needA = k == 0 ? 0 : aOffset + last * strideA + (aRows - 1) * lda + aCols
        needB = k == 0 ? 0 : bOffset + last * strideB + (bRows - 1) * ldb + bCols
        needC = cOffset + last * strideC + max(0, m - 1) * ldc + n
    }
}

public extension Backend {
    /// A single GEMM is a strided-batched GEMM of one.
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: any DeviceBuffer, aOffset: Int, lda: Int,
              b: any DeviceBuffer, bOffset: Int, ldb: Int,
              beta: Float, c: any DeviceBuffer, cOffset: Int, ldc: Int) throws {
        try gemmStridedBatched(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                               a: a, aOffset: aOffset, lda: lda, strideA: 0,
                               b: b, bOffset: bOffset, ldb: ldb, strideB: 0,
                               beta: beta, c: c, cOffset: cOffset, ldc: ldc, strideC: 0, batch: 1)
    }
}
