/// The element types a device buffer can hold. Compute is always fp32; `float16` is storage only.
public enum DType: String, Sendable, CaseIterable {
    case float32, float16, int32

    public var byteSize: Int {
        switch self {
        case .float32, .int32: return 4
        case .float16: return 2
        }
    }
}

/// Memory owned by one backend. Buffers are only valid with the backend that made them.
public protocol DeviceBuffer: AnyObject {
    /// Number of elements.
    var count: Int { get }
    var dtype: DType { get }
}

public enum BackendKind: String, Sendable {
    case cpu, opencl
}

/// The ops the model needs, each with the backward it needs. Every tensor is row-major and every
/// op is asynchronous with respect to the host until `download` or `synchronize`.
///
/// Conventions: `rows`/`cols` describe a `[rows, cols]` matrix; "accumulate" outputs are added to
/// (`+=`), every other output is overwritten in full.
public protocol Backend: AnyObject {
    var kind: BackendKind { get }
    /// Human-readable description, e.g. `cpu (2 threads, OpenBLAS)` or `opencl:0.0 NVIDIA H100`.
    var description: String { get }

    // MARK: memory
    /// Allocates `count` elements. Contents are unspecified; fill before reading.
    func makeBuffer(count: Int, dtype: DType) throws -> any DeviceBuffer
    func upload(_ values: [Float], to buffer: any DeviceBuffer, offset: Int) throws
    func upload(_ values: [Int32], to buffer: any DeviceBuffer, offset: Int) throws
    func download(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Float]
    func downloadInt32(_ buffer: any DeviceBuffer, offset: Int, count: Int) throws -> [Int32]
    func fill(_ buffer: any DeviceBuffer, value: Float, offset: Int, count: Int) throws
    func copy(_ src: any DeviceBuffer, srcOffset: Int, to dst: any DeviceBuffer, dstOffset: Int, count: Int) throws
    /// Waits for every queued op.
    func synchronize() throws

    // MARK: GEMM
    /// C[m, n] = alpha * op(A) * op(B) + beta * C, row-major; op(A) is [m, k], op(B) is [k, n].
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: any DeviceBuffer, aOffset: Int, lda: Int,
              b: any DeviceBuffer, bOffset: Int, ldb: Int,
              beta: Float, c: any DeviceBuffer, cOffset: Int, ldc: Int) throws
    /// `batch` independent GEMMs; matrix i starts at offset + i * stride in each buffer.
    func gemmStridedBatched(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: any DeviceBuffer, aOffset: Int, lda: Int, strideA: Int,
                            b: any DeviceBuffer, bOffset: Int, ldb: Int, strideB: Int,
                            beta: Float, c: any DeviceBuffer, cOffset: Int, ldc: Int, strideC: Int,
                            batch: Int) throws

    // MARK: elementwise
    /// x: [rows, cols] += bias: [cols]
    func addBias(_ x: any DeviceBuffer, bias: any DeviceBuffer, rows: Int, cols: Int) throws
    /// dBias: [cols] += column sums of dY: [rows, cols]
    func biasBackward(dY: any DeviceBuffer, dBias: any DeviceBuffer, rows: Int, cols: Int) throws
    /// Fused epilogue of a GEMM: x: [rows, cols] += bias: [cols] in place (kept as GELU's input
    /// for backward), and y = gelu(x), in one pass over memory instead of two.
    func addBiasGelu(_ x: any DeviceBuffer, bias: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws
    /// y = gelu(x) with the exact erf form, n elements.
    func gelu(_ x: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws
    /// dX = dY * gelu'(x)
    func geluBackward(x: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, count: Int) throws
    /// y = a + b (elementwise, n elements); y may alias a or b.
    func add(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws
    /// y += alpha * x
    func axpy(alpha: Float, x: any DeviceBuffer, y: any DeviceBuffer, count: Int) throws
    /// x *= alpha
    func scale(_ x: any DeviceBuffer, by alpha: Float, count: Int) throws

    // MARK: normalisation and softmax
    /// y = (x - mean) * rstd * gamma + beta per row of x: [rows, cols]; saves mean, rstd: [rows].
    func layerNorm(x: any DeviceBuffer, gamma: any DeviceBuffer, beta: any DeviceBuffer,
                   y: any DeviceBuffer, mean: any DeviceBuffer, rstd: any DeviceBuffer,
                   rows: Int, cols: Int, eps: Float) throws
    /// Writes dX; accumulates dGamma, dBeta: [cols].
    func layerNormBackward(x: any DeviceBuffer, gamma: any DeviceBuffer, mean: any DeviceBuffer,
                           rstd: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer,
                           dGamma: any DeviceBuffer, dBeta: any DeviceBuffer, rows: Int, cols: Int) throws
    /// Row-wise softmax of x: [rows, cols].
    func softmax(_ x: any DeviceBuffer, _ y: any DeviceBuffer, rows: Int, cols: Int) throws
    /// dX = y * (dY - sum(dY * y)) per row.
    func softmaxBackward(y: any DeviceBuffer, dY: any DeviceBuffer, dX: any DeviceBuffer, rows: Int, cols: Int) throws

    // MARK: embeddings
    /// out[i, :] = table[ids[i], :] for ids: int32 [n], table: [vocab, dim], out: [n, dim].
    func embeddingGather(table: any DeviceBuffer, ids: any DeviceBuffer, out: any DeviceBuffer,
                         count: Int, dim: Int) throws
    /// dTable[ids[i], :] += dOut[i, :] (repeated ids accumulate).
    func embeddingScatterAdd(dOut: any DeviceBuffer, ids: any DeviceBuffer, dTable: any DeviceBuffer,
                             count: Int, dim: Int) throws

    // MARK: reductions
    /// out[0] = sum of x[0..<count]
    func sum(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws
    /// out[0] = mean of x[0..<count]
    func mean(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws

    // MARK: training ops
    /// y = a * b elementwise.
    func mul(_ a: any DeviceBuffer, _ b: any DeviceBuffer, _ y: any DeviceBuffer, count: Int) throws
    /// out[0] = sum of x^2 (for gradient-norm clipping).
    func sumOfSquares(_ x: any DeviceBuffer, count: Int, out: any DeviceBuffer) throws
    /// Softmax cross-entropy with label smoothing over logits: [rows, classes], targets: int32 [rows]
    /// (a target < 0 marks a row to ignore: zero loss, zero gradient). Writes losses: [rows] and
    /// dLogits: [rows, classes] = gradScale * (softmax - smoothed one-hot); smoothed one-hot puts
    /// 1 - smoothing on the target and smoothing / classes on every class.
    func crossEntropy(logits: any DeviceBuffer, targets: any DeviceBuffer, losses: any DeviceBuffer,
                      dLogits: any DeviceBuffer, rows: Int, classes: Int, smoothing: Float, gradScale: Float) throws
    /// AdamW on `count` fp32 parameters: g = grad * gradScale; m, v moments; decoupled weight decay
    /// p -= lr * weightDecay * p; p -= lr * (m / (1 - beta1^step)) / (sqrt(v / (1 - beta2^step)) + eps).
    func adamW(param: any DeviceBuffer, grad: any DeviceBuffer, m: any DeviceBuffer, v: any DeviceBuffer,
               count: Int, lr: Float, beta1: Float, beta2: Float, eps: Float, weightDecay: Float,
               step: Int, gradScale: Float) throws
    /// ema = decay * ema + (1 - decay) * param
    func emaUpdate(ema: any DeviceBuffer, param: any DeviceBuffer, decay: Float, count: Int) throws
    /// Nearest code (squared L2) for each row of x: [rows, dim] in codebook: [codes, dim].
    /// Writes indices: int32 [rows] (lowest index on ties) and distances: [rows].
    func vqNearest(x: any DeviceBuffer, codebook: any DeviceBuffer, indices: any DeviceBuffer,
                   distances: any DeviceBuffer, rows: Int, codes: Int, dim: Int) throws
    /// Multi-head self-attention over variable-length sequences stored back to back: sequence b
    /// is rows starts[b] ..< starts[b] + len_b (int32 starts: [B], len_b = clamp(lengths[b], 1, seq))
    /// of qkv: [rows, 3, H, Dh] (q, k, v per head) and out: [rows, H * Dh]; no padding rows need
    /// exist. Scale 1/sqrt(Dh). Writes probs: [B, H, T, T] (T = seq; zero past len_b in both axes,
    /// saved for backward) and out on every sequence row; rows outside every sequence are neither
    /// read nor written.
    func attentionForward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                          probs: any DeviceBuffer, out: any DeviceBuffer, rows: Int, batch: Int, seq: Int,
                          heads: Int, headDim: Int) throws
    /// Backward of `attentionForward`: writes dQKV: [rows, 3, H, Dh] on every sequence row.
    func attentionBackward(qkv: any DeviceBuffer, lengths: any DeviceBuffer, starts: any DeviceBuffer,
                           probs: any DeviceBuffer, dOut: any DeviceBuffer, dQKV: any DeviceBuffer, rows: Int,
                           batch: Int, seq: Int, heads: Int, headDim: Int) throws

    // MARK: layout
    /// dst[dstOffset + r * dstStride + c] = src[srcOffset + r * srcStride + c] for r < rows, c < cols
    /// (float32): concatenating and slicing column blocks of row-major matrices.
    func copy2D(_ src: any DeviceBuffer, srcOffset: Int, srcStride: Int,
                to dst: any DeviceBuffer, dstOffset: Int, dstStride: Int, rows: Int, cols: Int) throws

    // MARK: typed reasoner
    /// The concept model's typed reasoner and unified decoder, one question per row (the exact
    /// semantics, op lists and logit layout are in `ReasonerSpec`). Reads logits: [rows, width]
    /// from the controller, numbers: int32 [rows, slots, places] (digit ones-first, -1 where the
    /// slot holds no number), targets: int32 [rows, 2] (kind 0 none / 1 yes-no / 2 number, value:
    /// 1 yes 0 no, or the number), gain: [1]. Writes dLogits: [rows, width] (zero where no
    /// target), rowStats: [rows, ReasonerSpec.statsWidth] and trace: int32 [rows, 4], every
    /// element of each.
    func reasoner(logits: any DeviceBuffer, numbers: any DeviceBuffer, targets: any DeviceBuffer,
                  gain: any DeviceBuffer, dLogits: any DeviceBuffer, rowStats: any DeviceBuffer,
                  trace: any DeviceBuffer, rows: Int, spec: ReasonerSpec) throws

    // MARK: precision
    /// dst (float16) = src (float32), round to nearest even.
    func toHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws
    /// dst (float32) = src (float16)
    func fromHalf(_ src: any DeviceBuffer, _ dst: any DeviceBuffer, count: Int) throws
    /// dst (float16) = dst + src (float32), added in fp32 and rounded to nearest even: gradients
    /// kept as halves under `--amp` accumulate this way (an overflow becomes inf, which the loss
    /// scale detects).
    func accumulateHalf(_ src: any DeviceBuffer, into dst: any DeviceBuffer, count: Int) throws
}

public extension Backend {
    func upload(_ values: [Float], to buffer: any DeviceBuffer) throws {
        try upload(values, to: buffer, offset: 0)
    }
    func upload(_ values: [Int32], to buffer: any DeviceBuffer) throws {
        try upload(values, to: buffer, offset: 0)
    }
    func download(_ buffer: any DeviceBuffer) throws -> [Float] {
        try download(buffer, offset: 0, count: buffer.count)
    }
    func downloadInt32(_ buffer: any DeviceBuffer) throws -> [Int32] {
        try downloadInt32(buffer, offset: 0, count: buffer.count)
    }
    /// A buffer holding `values`.
    func makeBuffer(_ values: [Float]) throws -> any DeviceBuffer {
        let b = try makeBuffer(count: values.count, dtype: .float32)
        try upload(values, to: b)
        return b
    }
    func makeBuffer(_ values: [Int32]) throws -> any DeviceBuffer {
        let b = try makeBuffer(count: values.count, dtype: .int32)
        try upload(values, to: b)
        return b
    }
    func zeros(_ count: Int) throws -> any DeviceBuffer {
        let b = try makeBuffer(count: count, dtype: .float32)
        try fill(b, value: 0, offset: 0, count: count)
        return b
    }
    func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
              a: any DeviceBuffer, b: any DeviceBuffer, beta: Float = 0, c: any DeviceBuffer) throws {
        try gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                 a: a, aOffset: 0, lda: transA ? m : k,
                 b: b, bOffset: 0, ldb: transB ? k : n,
                 beta: beta, c: c, cOffset: 0, ldc: n)
    }
}

