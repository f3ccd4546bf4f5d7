#include <math.h>
#include "CKernels.h"
#include "simd.h"

// 16 lanes at a time; the square root is the vector instruction (a plain loop would keep a libm
// call per element, since sqrtf may set errno). The tail computes the same expression per element.
CK_CLONES void ck_adamw(float *param, const float *grad, float *m, float *v, long begin, long end, float lr,
                        float beta1, float beta2, float eps, float weight_decay, float bc1, float bc2,
                        float grad_scale) {
    long i = begin;
    for (; i + CK_LANES <= end; i += CK_LANES) {
        const ck_f16 g = CK_LOAD(grad + i) * grad_scale;
        const ck_f16 mi = beta1 * CK_LOAD(m + i) + (1 - beta1) * g;
        const ck_f16 vi = beta2 * CK_LOAD(v + i) + (1 - beta2) * g * g;
        CK_STORE(m + i, mi);
        CK_STORE(v + i, vi);
        ck_f16 p = CK_LOAD(param + i);
        p -= lr * weight_decay * p;
        p -= lr * (mi / bc1) / (__builtin_elementwise_sqrt(vi / bc2) + eps);
        CK_STORE(param + i, p);
    }
    for (; i < end; i++) {
        const float g = grad[i] * grad_scale;
        const float mi = beta1 * m[i] + (1 - beta1) * g;
        const float vi = beta2 * v[i] + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        float p = param[i];
        p -= lr * weight_decay * p;
        p -= lr * (mi / bc1) / (__builtin_sqrtf(vi / bc2) + eps);
        param[i] = p;
    }
}
