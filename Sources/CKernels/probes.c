#include "CKernels.h"
#include "simd.h"

// The shared vector helpers of simd.h, exposed so tests can hold them to float64.

CK_CLONES void ck_erf_array(const float *x, float *y, long n) {
    long i = 0;
    for (; i + CK_LANES <= n; i += CK_LANES) CK_STORE(y + i, CK_ERF(CK_LOAD(x + i)));
    if (i < n) CK_STORE_PART(y + i, CK_ERF(CK_LOAD_PART(x + i, n - i)), n - i);
}

CK_CLONES void ck_exp_array(const float *x, float *y, long n) {
    long i = 0;
    for (; i + CK_LANES <= n; i += CK_LANES) CK_STORE(y + i, CK_EXP(CK_LOAD(x + i)));
    if (i < n) CK_STORE_PART(y + i, CK_EXP(CK_LOAD_PART(x + i, n - i)), n - i);
}
