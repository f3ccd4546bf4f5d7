// The CPU backend's elementwise, normalisation and attention kernels, vectorised in C so each
// can be compiled for the CPU's widest vectors (see simd.h). Every function works on a range of
// rows, elements or (batch, head) tiles so the Swift side splits the work across threads; the
// ranges a caller hands out never overlap in what they write.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stdint.h>

// GELU (exact form, gelu(v) = v Phi(v)). x, y, dy, dx: [count]; ranges are element indices.
void ck_gelu_forward(const float *x, float *y, long begin, long end);
// dx = dy (Phi(x) + x phi(x)); dx may alias dy.
void ck_gelu_backward(const float *x, const float *dy, float *dx, long begin, long end);
// x[r, :] += bias in place, y[r, :] = gelu(x[r, :]) for rows in [row_begin, row_end); x, y: [rows, cols].
void ck_add_bias_gelu(float *x, const float *bias, float *y, long cols, long row_begin, long row_end);

// y = a + b over [begin, end) (y may alias a or b).
void ck_add(const float *a, const float *b, float *y, long begin, long end);
// x[r, :] += bias for rows in [row_begin, row_end); x: [rows, cols].
void ck_add_bias(float *x, const float *bias, long cols, long row_begin, long row_end);
// dbias[j] += sum_i dy[i, j] for j in [col_begin, col_end), each column summed in row order.
void ck_bias_backward(const float *dy, float *dbias, long rows, long cols, long col_begin, long col_end);

// LayerNorm over the last axis. x, y, dy, dx: [rows, cols]; gamma, beta: [cols]; mean, rstd: [rows].
void ck_layernorm_forward(const float *x, const float *gamma, const float *beta, float *y, float *mean,
                          float *rstd, long cols, float eps, long row_begin, long row_end);
void ck_layernorm_backward_input(const float *x, const float *gamma, const float *mean, const float *rstd,
                                 const float *dy, float *dx, long cols, long row_begin, long row_end);
// dgamma[j] += sum_i dy[i, j] xhat[i, j], dbeta[j] += sum_i dy[i, j] for j in [col_begin, col_end),
// each column summed in row order.
void ck_layernorm_backward_params(const float *x, const float *mean, const float *rstd, const float *dy,
                                  float *dgamma, float *dbeta, long rows, long cols, long col_begin, long col_end);

// Multi-head self-attention over sequences stored back to back, per (batch, head) tile
// bh = b * H + h. Sequence b is rows starts[b] ..< starts[b] + len_b of qkv: [rows, 3, H, Dh] and of
// out, dout: [rows, H, Dh], len_b = clamp(lengths[b], 1, T); rows outside every sequence are neither
// read nor written. probs: [B, H, T, T], zero past len_b in both axes; dqkv: every element of
// every sequence's rows written.
void ck_attention_forward(const float *qkv, const int32_t *lengths, const int32_t *starts, float *probs,
                          float *out, long T, long H, long Dh, long bh_begin, long bh_end);
void ck_attention_backward(const float *qkv, const int32_t *lengths, const int32_t *starts, const float *probs,
                           const float *dout, float *dqkv, long T, long H, long Dh, long bh_begin, long bh_end);

// AdamW with decoupled weight decay on [begin, end): g = grad * grad_scale; m, v updated in place;
// bc1, bc2 the bias corrections 1 - beta^step.
void ck_adamw(float *param, const float *grad, float *m, float *v, long begin, long end, float lr, float beta1,
              float beta2, float eps, float weight_decay, float bc1, float bc2, float grad_scale);

// A pool of threads for the CPU backend's parallel loops and GEMM splits (pool.c): fn(ctx, c)
// for every c in [0, chunks), on the calling thread and the workers; returns when all are done.
// One job at a time (a call from another thread while a job runs runs inline). init makes
// threads - 1 workers (never fewer than an earlier call made).
typedef void (*ck_task_fn)(void *ctx, long chunk);
void ck_pool_init(int threads);
void ck_pool_run(ck_task_fn fn, void *ctx, long chunks);

// The vector erf and exp the kernels use, element by element over [0, n): for tests against float64.
void ck_erf_array(const float *x, float *y, long n);
void ck_exp_array(const float *x, float *y, long n);

// fp32 <-> fp16 bits, round to nearest even (a NaN becomes the quiet NaN 0x7e00, signed), over [begin, end):
// dst = half(src); dst = float(src); dst = half(float(dst) + src).
void ck_to_half(const float *src, uint16_t *dst, long begin, long end);
void ck_from_half(const uint16_t *src, float *dst, long begin, long end);
void ck_accumulate_half(const float *src, uint16_t *dst, long begin, long end);

#endif
