#include "CKernels.h"
#include "simd.h"

// Plain loops: with no reductions the compiler vectorises them per clone level by itself.

CK_CLONES void ck_add(const float *a, const float *b, float *y, long begin, long end) {
    for (long i = begin; i < end; i++) y[i] = a[i] + b[i];
}

CK_CLONES void ck_add_bias(float *x, const float *bias, long cols, long row_begin, long row_end) {
    for (long r = row_begin; r < row_end; r++) {
        float *row = x + r * cols;
        for (long j = 0; j < cols; j++) row[j] += bias[j];
    }
}

CK_CLONES void ck_bias_backward(const float *dy, float *dbias, long rows, long cols, long col_begin, long col_end) {
    // Rows are swept one after another over a block of columns (contiguous reads); each column's
    // sum stays in row order, so any split of the columns gives the same bits.
    enum { BLOCK = 256 };
    for (long c0 = col_begin; c0 < col_end; c0 += BLOCK) {
        const long w = col_end - c0 < BLOCK ? col_end - c0 : BLOCK;
        float acc[BLOCK] = {0};
        for (long i = 0; i < rows; i++) {
            const float *row = dy + i * cols + c0;
            for (long k = 0; k < w; k++) acc[k] += row[k];
        }
        for (long k = 0; k < w; k++) dbias[c0 + k] += acc[k];
    }
}
