// Fused multi-head self-attention for short sequences stored back to back. One work-group per
// (batch, head) tile; its work-items take query rows (forward) or query then key rows (backward).
//
// Sequence b is rows starts[b] ..< starts[b] + len of qkv: [rows, 3, H, Dh] (q, k, v per head) and
// of out, dOut: [rows, H * Dh], len = clamp(lengths[b], 1, T); rows outside every sequence are
// neither read nor written. probs: [B, H, T, T], zero past len in both axes. Scale is 1 / sqrt(Dh).

#define QKV(t, w) (qkv + ((((size_t)start + (t)) * 3 + (w)) * H + h) * Dh)

// Scores, mask, softmax and the weighted sum of values in one pass per query row. The scores are
// staged in the probs row (an output anyway), so T is limited only by memory.
__kernel void attention_forward(__global const float* qkv, __global const int* lengths, __global const int* starts,
                                __global float* probs, __global float* out, int T, int H, int Dh, float scale) {
    int tile = get_group_id(0);
    int b = tile / H, h = tile % H;
    int len = clamp(lengths[b], 1, T); // as the CPU backend: a length below 1 keeps the first key
    int start = starts[b];
    for (int i = get_local_id(0); i < T; i += get_local_size(0)) {
        __global float* p = probs + ((size_t)tile * T + i) * T;
        if (i >= len) {
            for (int j = 0; j < T; ++j) p[j] = 0.0f;
            continue;
        }
        __global const float* q = QKV(i, 0);
        __global float* o = out + ((size_t)start + i) * H * Dh + h * Dh;
        float mx = -INFINITY;
        for (int j = 0; j < len; ++j) {
            __global const float* k = QKV(j, 1);
            float s = 0.0f;
            for (int d = 0; d < Dh; ++d) s += q[d] * k[d];
            s *= scale;
            p[j] = s;
            mx = fmax(mx, s);
        }
        float sum = 0.0f;
        for (int j = 0; j < len; ++j) { float e = exp(p[j] - mx); p[j] = e; sum += e; }
        float inv = 1.0f / sum;
        for (int j = 0; j < len; ++j) p[j] *= inv;
        for (int j = len; j < T; ++j) p[j] = 0.0f;
        for (int d = 0; d < Dh; ++d) {
            float acc = 0.0f;
            for (int j = 0; j < len; ++j) acc += p[j] * QKV(j, 2)[d];
            o[d] = acc;
        }
    }
}

// Backward: phase 1 (per query i) dP = dO V^T, dS = P * (dP - rowsum(P * dP)) into scratch:
// [B, H, T, T] and dQ = scale * dS K; phase 2 (per key j) dK = scale * dS^T Q, dV = P^T dO.
// dQKV is written on every row of the sequence.
__kernel void attention_backward(__global const float* qkv, __global const int* lengths, __global const int* starts,
                                 __global const float* probs, __global const float* dOut, __global float* dQKV,
                                 __global float* scratch, int T, int H, int Dh, float scale) {
    int tile = get_group_id(0);
    int b = tile / H, h = tile % H;
    int len = clamp(lengths[b], 1, T);
    int start = starts[b];
    __global const float* P = probs + (size_t)tile * T * T;
    __global float* S = scratch + (size_t)tile * T * T;
    for (int i = get_local_id(0); i < len; i += get_local_size(0)) {
        __global const float* dO = dOut + ((size_t)start + i) * H * Dh + h * Dh;
        float D = 0.0f;
        for (int j = 0; j < len; ++j) {
            __global const float* v = QKV(j, 2);
            float dp = 0.0f;
            for (int d = 0; d < Dh; ++d) dp += dO[d] * v[d];
            S[i * T + j] = dp;
            D += P[i * T + j] * dp;
        }
        for (int j = 0; j < len; ++j) S[i * T + j] = P[i * T + j] * (S[i * T + j] - D);
        __global float* dq = dQKV + ((((size_t)start + i) * 3 + 0) * H + h) * Dh;
        for (int d = 0; d < Dh; ++d) {
            float acc = 0.0f;
            for (int j = 0; j < len; ++j) acc += S[i * T + j] * QKV(j, 1)[d];
            dq[d] = scale * acc;
        }
    }
    barrier(CLK_GLOBAL_MEM_FENCE);
    for (int j = get_local_id(0); j < len; j += get_local_size(0)) {
        __global float* dk = dQKV + ((((size_t)start + j) * 3 + 1) * H + h) * Dh;
        __global float* dv = dQKV + ((((size_t)start + j) * 3 + 2) * H + h) * Dh;
        for (int d = 0; d < Dh; ++d) {
            float ak = 0.0f, av = 0.0f;
            for (int i = 0; i < len; ++i) {
                ak += S[i * T + j] * QKV(i, 0)[d];
                av += P[i * T + j] * dOut[((size_t)start + i) * H * Dh + h * Dh + d];
            }
            dk[d] = scale * ak;
            dv[d] = av;
        }
    }
}
