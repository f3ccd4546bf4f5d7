#include "CKernels.h"
#include "simd.h"

// gelu(v) = v Phi(v); its gradient times d: d (Phi(v) + v phi(v)).
#define GELU(vin) ({ ck_f16 g_ = (vin); g_ * CK_CDF(g_); })
#define GELU_GRAD(vin, din) ({ ck_f16 w_ = (vin);                                      \
    ck_f16 pdf_ = CK_EXP(-0.5f * w_ * w_) * 0.39894228040143268f;                     \
    (din) * (CK_CDF(w_) + w_ * pdf_); })

CK_CLONES void ck_gelu_forward(const float *x, float *y, long begin, long end) {
    long i = begin;
    for (; i + CK_LANES <= end; i += CK_LANES) CK_STORE(y + i, GELU(CK_LOAD(x + i)));
    if (i < end) CK_STORE_PART(y + i, GELU(CK_LOAD_PART(x + i, end - i)), end - i);
}

CK_CLONES void ck_gelu_backward(const float *x, const float *dy, float *dx, long begin, long end) {
    long i = begin;
    for (; i + CK_LANES <= end; i += CK_LANES) CK_STORE(dx + i, GELU_GRAD(CK_LOAD(x + i), CK_LOAD(dy + i)));
    if (i < end) {
        long n = end - i;
        CK_STORE_PART(dx + i, GELU_GRAD(CK_LOAD_PART(x + i, n), CK_LOAD_PART(dy + i, n)), n);
    }
}

CK_CLONES void ck_add_bias_gelu(float *x, const float *bias, float *y, long cols, long row_begin, long row_end) {
    for (long r = row_begin; r < row_end; r++) {
        float *row = x + r * cols, *out = y + r * cols;
        long j = 0;
        for (; j + CK_LANES <= cols; j += CK_LANES) {
            ck_f16 v = CK_LOAD(row + j) + CK_LOAD(bias + j);
            CK_STORE(row + j, v);
            CK_STORE(out + j, GELU(v));
        }
        if (j < cols) {
            long n = cols - j;
            ck_f16 v = CK_LOAD_PART(row + j, n) + CK_LOAD_PART(bias + j, n);
            CK_STORE_PART(row + j, v, n);
            CK_STORE_PART(out + j, GELU(v), n);
        }
    }
}
