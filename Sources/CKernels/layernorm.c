#include <math.h>
#include "CKernels.h"
#include "simd.h"

// Sums over a row run in 16 lanes (lane k takes columns k, k + 16, ...), then the lanes in a
// fixed order: the same order for every row and thread split.

CK_CLONES void ck_layernorm_forward(const float *x, const float *gamma, const float *beta, float *y, float *mean,
                                    float *rstd, long cols, float eps, long row_begin, long row_end) {
    for (long i = row_begin; i < row_end; i++) {
        const float *row = x + i * cols;
        float *out = y + i * cols;
        ck_f16 acc = 0;
        long j = 0;
        for (; j + CK_LANES <= cols; j += CK_LANES) acc += CK_LOAD(row + j);
        if (j < cols) acc += CK_LOAD_PART(row + j, cols - j);
        float mu = CK_SUM(acc) / (float)cols;
        ck_f16 var = 0;
        for (j = 0; j + CK_LANES <= cols; j += CK_LANES) { ck_f16 d = CK_LOAD(row + j) - mu; var += d * d; }
        if (j < cols) {
            long n = cols - j;
            ck_f16 d = CK_LOAD_PART(row + j, n) - mu;
            for (long k = n; k < CK_LANES; k++) d[k] = 0;
            var += d * d;
        }
        float rs = 1.0f / sqrtf(CK_SUM(var) / (float)cols + eps);
        mean[i] = mu; rstd[i] = rs;
        for (j = 0; j + CK_LANES <= cols; j += CK_LANES)
            CK_STORE(out + j, (CK_LOAD(row + j) - mu) * rs * CK_LOAD(gamma + j) + CK_LOAD(beta + j));
        if (j < cols) {
            long n = cols - j;
            CK_STORE_PART(out + j, (CK_LOAD_PART(row + j, n) - mu) * rs * CK_LOAD_PART(gamma + j, n)
                                       + CK_LOAD_PART(beta + j, n), n);
        }
    }
}

CK_CLONES void ck_layernorm_backward_input(const float *x, const float *gamma, const float *mean, const float *rstd,
                                           const float *dy, float *dx, long cols, long row_begin, long row_end) {
    const float inv = 1.0f / (float)cols;
    for (long i = row_begin; i < row_end; i++) {
        const float *row = x + i * cols, *d = dy + i * cols;
        float *o = dx + i * cols;
        const float mu = mean[i], rs = rstd[i];
        ck_f16 sg = 0, sgx = 0;
        long j = 0;
        for (; j + CK_LANES <= cols; j += CK_LANES) {
            ck_f16 g = CK_LOAD(d + j) * CK_LOAD(gamma + j);
            sg += g; sgx += g * ((CK_LOAD(row + j) - mu) * rs);
        }
        if (j < cols) {
            long n = cols - j;  // zero lanes of d and gamma keep the padding out of both sums
            ck_f16 g = CK_LOAD_PART(d + j, n) * CK_LOAD_PART(gamma + j, n);
            sg += g; sgx += g * ((CK_LOAD_PART(row + j, n) - mu) * rs);
        }
        const float mg = inv * CK_SUM(sg), mgx = inv * CK_SUM(sgx);
        for (j = 0; j + CK_LANES <= cols; j += CK_LANES) {
            ck_f16 xh = (CK_LOAD(row + j) - mu) * rs;
            CK_STORE(o + j, rs * (CK_LOAD(d + j) * CK_LOAD(gamma + j) - mg - xh * mgx));
        }
        if (j < cols) {
            long n = cols - j;
            ck_f16 xh = (CK_LOAD_PART(row + j, n) - mu) * rs;
            CK_STORE_PART(o + j, rs * (CK_LOAD_PART(d + j, n) * CK_LOAD_PART(gamma + j, n) - mg - xh * mgx), n);
        }
    }
}

CK_CLONES void ck_layernorm_backward_params(const float *x, const float *mean, const float *rstd, const float *dy,
                                            float *dgamma, float *dbeta, long rows, long cols, long col_begin,
                                            long col_end) {
    // Rows are swept one after another over the block of columns (contiguous reads); each
    // column's sums stay in row order.
    enum { BLOCK = 64 };
    for (long c0 = col_begin; c0 < col_end; c0 += BLOCK) {
        const long w = col_end - c0 < BLOCK ? col_end - c0 : BLOCK;
        float sg[BLOCK] = {0}, sb[BLOCK] = {0};
        for (long i = 0; i < rows; i++) {
            const float *row = x + i * cols + c0, *d = dy + i * cols + c0;
            const float mu = mean[i], rs = rstd[i];
            for (long k = 0; k < w; k++) { sg[k] += d[k] * ((row[k] - mu) * rs); sb[k] += d[k]; }
        }
        for (long k = 0; k < w; k++) { dgamma[c0 + k] += sg[k]; dbeta[c0 + k] += sb[k]; }
    }
}
