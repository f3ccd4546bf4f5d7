#include <math.h>
#include <stdlib.h>
#include "CKernels.h"
#include "simd.h"

// Per (batch, head) tile the keys (forward) or values (backward) are first copied transposed and
// zero-padded to a multiple of 16 columns, so q . k_j for all j is a sum over d of q[d] times a
// row of K^T: vector FMAs over j with no horizontal sums. Query rows go in blocks of four: four
// independent accumulator chains per loaded vector, where one row alone would wait on each FMA.
// Every element's sum keeps one fixed order, so results do not depend on the thread split.

enum { RB = 4 };

static inline long round_up(long n) { return (n + CK_LANES - 1) / CK_LANES * CK_LANES; }
static inline long min_l(long a, long b) { return a < b ? a : b; }

// 16 floats of a head vector from d0 (fewer, zero-padded, at the end of a head of Dh).
#define LOAD_D(p, d0) (Dh - (d0) >= CK_LANES ? CK_LOAD((p) + (d0)) : CK_LOAD_PART((p) + (d0), Dh - (d0)))
#define STORE_D(p, d0, v) do { if (Dh - (d0) >= CK_LANES) CK_STORE((p) + (d0), (v)); \
                               else CK_STORE_PART((p) + (d0), (v), Dh - (d0)); } while (0)

// s[r][0..<width] = scale * sum over d < Dh of a[r][d] * mt[d][0..<width] for r < RB; mt: [Dh, stride].
CK_INLINE void rows_times_transposed(float *restrict s, long s_stride, const float *const a[RB],
                                     const float *restrict mt, long Dh, long stride, long width, float scale) {
    for (long j = 0; j < width; j += CK_LANES) {
        ck_f16 acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
        for (long d = 0; d < Dh; d++) {
            const ck_f16 m = CK_LOAD(mt + d * stride + j);
            acc0 += a[0][d] * m; acc1 += a[1][d] * m; acc2 += a[2][d] * m; acc3 += a[3][d] * m;
        }
        CK_STORE(s + j, acc0 * scale); CK_STORE(s + s_stride + j, acc1 * scale);
        CK_STORE(s + 2 * s_stride + j, acc2 * scale); CK_STORE(s + 3 * s_stride + j, acc3 * scale);
    }
}

CK_CLONES void ck_attention_forward(const float *qkv, const int32_t *lengths, const int32_t *starts, float *probs,
                                    float *out, long T, long H, long Dh, long bh_begin, long bh_end) {
    const long rs = 3 * H * Dh, TP = round_up(T);
    const float scale = 1.0f / sqrtf((float)Dh);
    float *kt = malloc(sizeof(float) * (size_t)(Dh * TP + TP + RB * TP));
    float *pad = kt + Dh * TP, *s = pad + TP;  // pad: 0 on keys, -inf past the length; s: [RB, TP]
    for (long bh = bh_begin; bh < bh_end; bh++) {
        const long b = bh / H, h = bh % H;
        long len = lengths[b];
        len = len < 1 ? 1 : (len > T ? T : len);
        const long LP = round_up(len);
        const float *base = qkv + (long)starts[b] * rs;
        float *obase = out + (long)starts[b] * H * Dh;
        for (long d = 0; d < Dh; d++)
            for (long j = 0; j < LP; j++) kt[d * TP + j] = j < len ? base[j * rs + H * Dh + h * Dh + d] : 0.0f;
        for (long j = 0; j < LP; j++) pad[j] = j < len ? 0.0f : -INFINITY;
        for (long i = len; i < T; i++)
            for (long j = 0; j < T; j++) probs[(bh * T + i) * T + j] = 0;
        for (long i0 = 0; i0 < len; i0 += RB) {
            const long nr = min_l(RB, len - i0);
            const float *q[RB];
            for (long r = 0; r < RB; r++) q[r] = base + (i0 + (r < nr ? r : 0)) * rs + h * Dh;
            rows_times_transposed(s, TP, q, kt, Dh, TP, LP, scale);
            for (long r = 0; r < nr; r++) {
                float *sr = s + r * TP, *prow = probs + (bh * T + i0 + r) * T;
                ck_f16 mv = CK_LOAD(sr) + CK_LOAD(pad);
                for (long j = CK_LANES; j < LP; j += CK_LANES)
                    mv = __builtin_elementwise_max(mv, CK_LOAD(sr + j) + CK_LOAD(pad + j));
                const float mx = __builtin_reduce_max(mv);
                ck_f16 sv = 0;
                for (long j = 0; j < LP; j += CK_LANES) {
                    const ck_f16 e = CK_EXP(CK_LOAD(sr + j) + CK_LOAD(pad + j) - mx);
                    CK_STORE(sr + j, e);
                    sv += e;  // lanes past the length add at most 16 e^-87: nothing beside the max's 1
                }
                const float inv = 1.0f / CK_SUM(sv);
                // A plain loop, not a partial vector store: that would call memcpy once per row.
                for (long j = 0; j < T; j++) prow[j] = j < len ? sr[j] * inv : 0.0f;
            }
            const float *p[RB];
            for (long r = 0; r < RB; r++) p[r] = probs + (bh * T + i0 + (r < nr ? r : 0)) * T;
            for (long d0 = 0; d0 < Dh; d0 += CK_LANES) {
                ck_f16 o0 = 0, o1 = 0, o2 = 0, o3 = 0;
                for (long j = 0; j < len; j++) {
                    const ck_f16 v = LOAD_D(base + j * rs + 2 * H * Dh + h * Dh, d0);
                    o0 += p[0][j] * v; o1 += p[1][j] * v; o2 += p[2][j] * v; o3 += p[3][j] * v;
                }
                const ck_f16 o[RB] = {o0, o1, o2, o3};
                for (long r = 0; r < nr; r++) STORE_D(obase + (i0 + r) * H * Dh + h * Dh, d0, o[r]);
            }
        }
    }
    free(kt);
}

CK_CLONES void ck_attention_backward(const float *qkv, const int32_t *lengths, const int32_t *starts, const float *probs,
                                     const float *dout, float *dqkv, long T, long H, long Dh, long bh_begin,
                                     long bh_end) {
    const long rs = 3 * H * Dh, TP = round_up(T);
    const float scale = 1.0f / sqrtf((float)Dh);
    float *vt = malloc(sizeof(float) * (size_t)(Dh * TP + 3 * RB * TP + 2 * T * Dh));
    float *pp = vt + Dh * TP, *dp = pp + RB * TP, *g = dp + RB * TP, *dk = g + RB * TP, *dv = dk + T * Dh;
    for (long bh = bh_begin; bh < bh_end; bh++) {
        const long b = bh / H, h = bh % H;
        long len = lengths[b];
        len = len < 1 ? 1 : (len > T ? T : len);
        const float *base = qkv + (long)starts[b] * rs, *tile = probs + bh * T * T;
        const float *obase = dout + (long)starts[b] * H * Dh;
        float *dbase = dqkv + (long)starts[b] * rs;
        const long LP = round_up(len);
        for (long d = 0; d < Dh; d++)
            for (long j = 0; j < LP; j++) vt[d * TP + j] = j < len ? base[j * rs + 2 * H * Dh + h * Dh + d] : 0.0f;
        for (long k = 0; k < len * Dh; k++) { dk[k] = 0; dv[k] = 0; }
        for (long i0 = 0; i0 < len; i0 += RB) {
            const long nr = min_l(RB, len - i0);
            const float *q[RB], *dO[RB];
            for (long r = 0; r < RB; r++) {
                const long i = i0 + (r < nr ? r : 0);
                q[r] = base + i * rs + h * Dh;
                dO[r] = obase + i * H * Dh + h * Dh;
                // Rows past the block's end take zero probabilities: they add exactly nothing.
                for (long j = 0; j < LP; j++) pp[r * TP + j] = (r < nr && j < len) ? tile[i * T + j] : 0.0f;
            }
            // dP[r][j] = dO_r . v_j;  dS = P * (dP - sum_j P dP);  g = dS * scale
            rows_times_transposed(dp, TP, dO, vt, Dh, TP, LP, 1.0f);
            for (long r = 0; r < RB; r++) {
                ck_f16 dv_ = 0;
                for (long j = 0; j < LP; j += CK_LANES) dv_ += CK_LOAD(pp + r * TP + j) * CK_LOAD(dp + r * TP + j);
                const float dot = CK_SUM(dv_);
                for (long j = 0; j < LP; j += CK_LANES)
                    CK_STORE(g + r * TP + j, CK_LOAD(pp + r * TP + j) * (CK_LOAD(dp + r * TP + j) - dot) * scale);
            }
            const float *g0 = g, *g1 = g + TP, *g2 = g + 2 * TP, *g3 = g + 3 * TP;
            const float *p0 = pp, *p1 = pp + TP, *p2 = pp + 2 * TP, *p3 = pp + 3 * TP;
            for (long d0 = 0; d0 < Dh; d0 += CK_LANES) {
                ck_f16 a0 = 0, a1 = 0, a2 = 0, a3 = 0;
                const ck_f16 q0 = LOAD_D(q[0], d0), q1 = LOAD_D(q[1], d0), q2 = LOAD_D(q[2], d0), q3 = LOAD_D(q[3], d0);
                const ck_f16 o0 = LOAD_D(dO[0], d0), o1 = LOAD_D(dO[1], d0), o2 = LOAD_D(dO[2], d0), o3 = LOAD_D(dO[3], d0);
                for (long j = 0; j < len; j++) {
                    const ck_f16 k = LOAD_D(base + j * rs + H * Dh + h * Dh, d0);
                    a0 += g0[j] * k; a1 += g1[j] * k; a2 += g2[j] * k; a3 += g3[j] * k;
                    ck_f16 dkj = LOAD_D(dk + j * Dh, d0), dvj = LOAD_D(dv + j * Dh, d0);
                    dkj += g0[j] * q0; dkj += g1[j] * q1; dkj += g2[j] * q2; dkj += g3[j] * q3;
                    dvj += p0[j] * o0; dvj += p1[j] * o1; dvj += p2[j] * o2; dvj += p3[j] * o3;
                    STORE_D(dk + j * Dh, d0, dkj); STORE_D(dv + j * Dh, d0, dvj);
                }
                const ck_f16 a[RB] = {a0, a1, a2, a3};
                for (long r = 0; r < nr; r++) STORE_D(dbase + (i0 + r) * rs + h * Dh, d0, a[r]);
            }
        }
        for (long j = 0; j < len; j++) {
            float *dkj = dbase + j * rs + H * Dh + h * Dh, *dvj = dbase + j * rs + 2 * H * Dh + h * Dh;
            for (long d = 0; d < Dh; d++) { dkj[d] = dk[j * Dh + d]; dvj[d] = dv[j * Dh + d]; }
        }
    }
    free(vt);
}
