// LayerNorm forward and backward. Row kernels run one work-group of WG items per row of
// x: [rows, cols]; parameter gradients run one work-item per column (rows summed in order).
#ifndef WG
#define WG 256
#endif

float wg_sum(__local float* s, float v) {
    int l = get_local_id(0);
    s[l] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int o = WG / 2; o > 0; o >>= 1) {
        if (l < o) s[l] += s[l + o];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = s[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

// y: [rows, cols] = (x - mean) * rstd * gamma: [cols] + beta: [cols]; mean, rstd: [rows]
__kernel void layernorm_forward(__global const float* x, __global const float* gamma, __global const float* beta,
                                __global float* y, __global float* mean, __global float* rstd,
                                int rows, int cols, float eps) {
    __local float s[WG];
    int row = get_group_id(0), l = get_local_id(0);
    __global const float* xr = x + (size_t)row * cols;
    float acc = 0.0f;
    for (int j = l; j < cols; j += WG) acc += xr[j];
    float mu = wg_sum(s, acc) / (float)cols;
    acc = 0.0f;
    for (int j = l; j < cols; j += WG) { float d = xr[j] - mu; acc += d * d; }
    float rs = 1.0f / sqrt(wg_sum(s, acc) / (float)cols + eps);
    if (l == 0) { mean[row] = mu; rstd[row] = rs; }
    __global float* yr = y + (size_t)row * cols;
    for (int j = l; j < cols; j += WG) yr[j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
}

// dX: [rows, cols] from dY, x, gamma and the saved mean, rstd: [rows].
__kernel void layernorm_backward_dx(__global const float* x, __global const float* gamma, __global const float* mean,
                                    __global const float* rstd, __global const float* dY, __global float* dX,
                                    int rows, int cols) {
    __local float s[WG];
    int row = get_group_id(0), l = get_local_id(0);
    __global const float* xr = x + (size_t)row * cols;
    __global const float* dy = dY + (size_t)row * cols;
    float mu = mean[row], rs = rstd[row];
    float ag = 0.0f, agx = 0.0f;
    for (int j = l; j < cols; j += WG) {
        float g = dy[j] * gamma[j];
        ag += g;
        agx += g * (xr[j] - mu) * rs;
    }
    float sumG = wg_sum(s, ag), sumGX = wg_sum(s, agx);
    float inv = 1.0f / (float)cols;
    __global float* dx = dX + (size_t)row * cols;
    for (int j = l; j < cols; j += WG) {
        float xh = (xr[j] - mu) * rs;
        dx[j] = rs * (dy[j] * gamma[j] - inv * sumG - xh * inv * sumGX);
    }
}

// dGamma, dBeta: [cols] += sums over rows. One work-item per column.
__kernel void layernorm_backward_params(__global const float* x, __global const float* mean, __global const float* rstd,
                                        __global const float* dY, __global float* dGamma, __global float* dBeta,
                                        int rows, int cols) {
    int j = get_global_id(0);
    if (j >= cols) return;
    float sg = 0.0f, sb = 0.0f;
    for (int i = 0; i < rows; ++i) {
        size_t at = (size_t)i * cols + j;
        float d = dY[at];
        sg += d * (x[at] - mean[i]) * rstd[i];
        sb += d;
    }
    dGamma[j] += sg;
    dBeta[j] += sb;
}
