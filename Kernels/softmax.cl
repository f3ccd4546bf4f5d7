// Row-wise softmax of x: [rows, cols], and softmax cross-entropy with label smoothing; one
// work-group of WG items per row.
#ifndef WG
#define WG 256
#endif

float wg_reduce(__local float* s, float v, int isMax) {
    int l = get_local_id(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = WG / 2; o > 0; o >>= 1) {
        if (l < o) s[l] = isMax ? fmax(s[l], s[l + o]) : s[l] + s[l + o];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

// y: [rows, cols] = softmax(x) per row; a row that is all -inf gives zeros.
__kernel void softmax_forward(__global const float* x, __global float* y, int rows, int cols) {
    __local float s[WG];
    int row = get_group_id(0), l = get_local_id(0);
    __global const float* xr = x + (size_t)row * cols;
    __global float* yr = y + (size_t)row * cols;
    float mx = -INFINITY;
    for (int j = l; j < cols; j += WG) mx = fmax(mx, xr[j]);
    mx = wg_reduce(s, mx, 1);
    // Control flow stays uniform across the group (no return before a barrier).
    int empty = mx == -INFINITY;
    float acc = 0.0f;
    for (int j = l; j < cols; j += WG) { float e = empty ? 0.0f : exp(xr[j] - mx); yr[j] = e; acc += e; }
    float total = wg_reduce(s, acc, 0);
    float inv = empty ? 0.0f : 1.0f / total;
    for (int j = l; j < cols; j += WG) yr[j] *= inv;
}

// dX: [rows, cols] = y * (dY - sum(dY * y)) per row.
__kernel void softmax_backward(__global const float* y, __global const float* dY, __global float* dX, int rows, int cols) {
    __local float s[WG];
    int row = get_group_id(0), l = get_local_id(0);
    __global const float* yr = y + (size_t)row * cols;
    __global const float* dr = dY + (size_t)row * cols;
    float acc = 0.0f;
    for (int j = l; j < cols; j += WG) acc += yr[j] * dr[j];
    float dot = wg_reduce(s, acc, 0);
    __global float* o = dX + (size_t)row * cols;
    for (int j = l; j < cols; j += WG) o[j] = yr[j] * (dr[j] - dot);
}

// logits: [rows, classes], targets: int [rows] (< 0 or >= classes: ignored row, zero loss and
// gradient). losses: [rows] = -sum_c q_c log softmax_c with q = (1 - smoothing) one-hot +
// smoothing / classes; dLogits: [rows, classes] = gradScale * (softmax - q).
__kernel void cross_entropy(__global const float* logits, __global const int* targets, __global float* losses,
                            __global float* dLogits, int rows, int classes, float smoothing, float gradScale) {
    __local float s[WG];
    int row = get_group_id(0), l = get_local_id(0);
    __global const float* x = logits + (size_t)row * classes;
    __global float* d = dLogits + (size_t)row * classes;
    int t = targets[row];
    int valid = t >= 0 && t < classes;
    // Control flow stays uniform across the group (no return before a barrier).
    float mx = -INFINITY, sx = 0.0f;
    for (int j = l; j < classes; j += WG) { mx = fmax(mx, x[j]); sx += x[j]; }
    mx = wg_reduce(s, mx, 1);
    sx = wg_reduce(s, sx, 0);
    float se = 0.0f;
    for (int j = l; j < classes; j += WG) se += exp(x[j] - mx);
    se = wg_reduce(s, se, 0);
    float lse = mx + log(se);
    float off = smoothing / (float)classes;
    if (l == 0) losses[row] = valid ? lse - off * sx - (1.0f - smoothing) * x[t] : 0.0f;
    float inv = 1.0f / se;
    for (int j = l; j < classes; j += WG) {
        float q = off + (j == t ? 1.0f - smoothing : 0.0f);
        d[j] = valid ? gradScale * (exp(x[j] - mx) * inv - q) : 0.0f;
    }
}
