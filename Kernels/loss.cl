// Softmax cross-entropy with label smoothing; one work-group of WG items per row.
#ifndef WG
#define WG 256
#endif

float ce_reduce(__local float* s, float v, int isMax) {
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
    mx = ce_reduce(s, mx, 1);
    sx = ce_reduce(s, sx, 0);
    float se = 0.0f;
    for (int j = l; j < classes; j += WG) se += exp(x[j] - mx);
    se = ce_reduce(s, se, 0);
    float lse = mx + log(se);
    float off = smoothing / (float)classes;
    if (l == 0) losses[row] = valid ? lse - off * sx - (1.0f - smoothing) * x[t] : 0.0f;
    float inv = 1.0f / se;
    for (int j = l; j < classes; j += WG) {
        float q = off + (j == t ? 1.0f - smoothing : 0.0f);
        d[j] = valid ? gradScale * (exp(x[j] - mx) * inv - q) : 0.0f;
    }
}
