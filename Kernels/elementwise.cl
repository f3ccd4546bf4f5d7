// Elementwise ops, bias and the GEMM k == 0 / beta pass. One work-item per element unless noted.
// All sizes are element counts; every kernel bounds-checks because global sizes are rounded up.

// x: [rows, cols] += bias: [cols]
__kernel void add_bias(__global float* x, __global const float* bias, int rows, int cols) {
    int i = get_global_id(0);
    if (i >= rows * cols) return;
    x[i] += bias[i % cols];
}

// dBias: [cols] += column sums of dY: [rows, cols]. One work-item per column, rows summed in
// order, so the result is deterministic.
__kernel void bias_backward(__global const float* dY, __global float* dBias, int rows, int cols) {
    int j = get_global_id(0);
    if (j >= cols) return;
    float s = 0.0f;
    for (int i = 0; i < rows; ++i) s += dY[(size_t)i * cols + j];
    dBias[j] += s;
}

// y: [n] = gelu(x: [n]), exact erf form.
__kernel void gelu_forward(__global const float* x, __global float* y, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = x[i];
    y[i] = 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
}

// GEMM epilogue: x: [rows, cols] += bias: [cols] (kept for the backward), y = gelu(x); one pass.
__kernel void add_bias_gelu(__global float* x, __global const float* bias, __global float* y, int rows, int cols) {
    int i = get_global_id(0);
    if (i >= rows * cols) return;
    float v = x[i] + bias[i % cols];
    x[i] = v;
    y[i] = 0.5f * v * (1.0f + erf(v * 0.70710678118654752f));
}

// dX: [n] = dY * gelu'(x)
__kernel void gelu_backward(__global const float* x, __global const float* dY, __global float* dX, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = x[i];
    float cdf = 0.5f * (1.0f + erf(v * 0.70710678118654752f));
    float pdf = exp(-0.5f * v * v) * 0.39894228040143268f;
    dX[i] = dY[i] * (cdf + v * pdf);
}

// y: [n] = a + b (y may alias a or b)
__kernel void add(__global const float* a, __global const float* b, __global float* y, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[i] = a[i] + b[i];
}

// y: [n] = a * b
__kernel void mul(__global const float* a, __global const float* b, __global float* y, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[i] = a[i] * b[i];
}

// y: [n] += alpha * x
__kernel void axpy(float alpha, __global const float* x, __global float* y, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[i] += alpha * x[i];
}

// x: [n] *= alpha
__kernel void scale(__global float* x, float alpha, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    x[i] *= alpha;
}

// C = beta * C for `batch` matrices [m, n] (row stride ldc, matrix stride strideC) starting at
// element `offset`; beta == 0 writes zeros (so NaN in C does not survive). Used for GEMM k == 0.
__kernel void gemm_scale_c(__global float* c, int offset, int ldc, int strideC, int m, int n, int batch, float beta) {
    int i = get_global_id(0);
    if (i >= m * n * batch) return;
    int bi = i / (m * n), r = (i / n) % m, col = i % n;
    size_t at = (size_t)offset + (size_t)bi * strideC + (size_t)r * ldc + col;
    c[at] = beta == 0.0f ? 0.0f : beta * c[at];
}

// dst[dstOffset + r * dstStride + c] = src[srcOffset + r * srcStride + c] for r < rows, c < cols:
// concatenating and slicing column blocks of row-major matrices.
__kernel void copy_2d(__global const float* src, int srcOffset, int srcStride, __global float* dst, int dstOffset,
                      int dstStride, int rows, int cols) {
    int i = get_global_id(0);
    if (i >= rows * cols) return;
    int r = i / cols, c = i % cols;
    dst[(size_t)dstOffset + (size_t)r * dstStride + c] = src[(size_t)srcOffset + (size_t)r * srcStride + c];
}
