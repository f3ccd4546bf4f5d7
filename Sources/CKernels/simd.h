// Shared by the CPU kernels: 16-lane float vectors, a vectorised exp and erf, and the clone
// attribute. Each kernel function is compiled once per x86-64 level (AVX-512, AVX2+FMA, baseline)
// and the loader picks the best the CPU has (ifunc), so one binary runs everywhere and uses the
// widest vectors it can. Every element is computed the same way whatever the thread split, so a
// machine's results are deterministic; two machines with different vector levels may differ in
// the last bits (FMA).
#ifndef CK_SIMD_H
#define CK_SIMD_H

#include <stdint.h>
#include <string.h>

#if defined(CK_CLONES)
// Set by the build (a test harness pins one level).
#elif defined(__x86_64__) && defined(__ELF__)
#define CK_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CK_CLONES
#endif

#define CK_INLINE static inline __attribute__((always_inline))

typedef float ck_f16 __attribute__((ext_vector_type(16)));
typedef uint32_t ck_u16 __attribute__((ext_vector_type(16)));
enum { CK_LANES = 16 };

// The helpers below are macros (GNU statement expressions), not inline functions: a 16-float
// vector passed by value to a function is rejected in the AVX2 and baseline clones (it would
// change the ABI), while inside one function body the compiler splits it into the clone's widths.

#define CK_LOAD(p) ({ ck_f16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define CK_STORE(p, v) do { ck_f16 s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)

// The first n (< 16) lanes from p, the rest zero; and the first n lanes back.
#define CK_LOAD_PART(p, n) ({ float t_[CK_LANES] = {0}; memcpy(t_, (p), (size_t)(n) * sizeof(float)); CK_LOAD(t_); })
#define CK_STORE_PART(p, v, n) do { float u_[CK_LANES]; CK_STORE(u_, (v)); memcpy((p), u_, (size_t)(n) * sizeof(float)); } while (0)

// Sum of the 16 lanes in a fixed pairwise order.
typedef float ck_f8 __attribute__((ext_vector_type(8)));
typedef float ck_f4 __attribute__((ext_vector_type(4)));
typedef float ck_f2 __attribute__((ext_vector_type(2)));
#define CK_SUM(v) ({ ck_f16 x_ = (v); ck_f8 s8_ = x_.lo + x_.hi; ck_f4 s4_ = s8_.lo + s8_.hi; \
                     ck_f2 s2_ = s4_.lo + s4_.hi; s2_.x + s2_.y; })

// e^x for x in [-87, 88] (clamped outside): x = n ln2 + r, |r| <= ln2/2, e^r by its Taylor
// polynomial to degree 7, 2^n from the exponent bits; relative error <= 2e-7. Rounding uses the
// 1.5 * 2^23 trick: adding it leaves n in the low mantissa bits. ln2 is split in a high part
// exact in float and a low correction.
#define CK_EXP(xin) ({                                                                              \
    ck_f16 xe_ = __builtin_elementwise_min(__builtin_elementwise_max((xin), (ck_f16)(-87.0f)), (ck_f16)(88.0f)); \
    const ck_f16 magic_ = 12582912.0f;                                                              \
    ck_f16 sh_ = xe_ * 1.4426950408889634f + magic_;                                                \
    ck_f16 n_ = sh_ - magic_;                                                                       \
    ck_f16 r_ = xe_ - n_ * 0.693145751953125f - n_ * 1.428606765330187e-06f;                        \
    ck_f16 p_ = 1.0f / 5040 + r_ * (1.0f / 40320);                                                  \
    p_ = 1.0f / 720 + r_ * p_;                                                                      \
    p_ = 1.0f / 120 + r_ * p_;                                                                      \
    p_ = 1.0f / 24 + r_ * p_;                                                                       \
    p_ = 1.0f / 6 + r_ * p_;                                                                        \
    p_ = 0.5f + r_ * p_;                                                                            \
    p_ = 1.0f + r_ * p_;                                                                            \
    p_ = 1.0f + r_ * p_;                                                                            \
    ck_u16 sc_ = (((ck_u16)sh_ - 0x4B400000u) + 127u) << 23;                                        \
    p_ * (ck_f16)sc_; })

// erf(x) = sign(x) (1 - (a1 t + ... + a5 t^5) e^{-x^2}), t = 1 / (1 + p |x|): Abramowitz & Stegun
// 7.1.26, |error| <= 1.5e-7 as a formula.
#define CK_ERF(xin) ({                                                                              \
    ck_u16 bits_ = (ck_u16)(xin);                                                                   \
    ck_u16 sign_ = bits_ & 0x80000000u;                                                             \
    ck_f16 a_ = (ck_f16)(bits_ & 0x7FFFFFFFu);                                                      \
    ck_f16 t_ = 1.0f / (1.0f + 0.3275911f * a_);                                                    \
    ck_f16 q_ = -1.453152027f + t_ * 1.061405429f;                                                  \
    q_ = 1.421413741f + t_ * q_;                                                                    \
    q_ = -0.284496736f + t_ * q_;                                                                   \
    q_ = 0.254829592f + t_ * q_;                                                                    \
    ck_f16 y_ = 1.0f - t_ * q_ * CK_EXP(-(a_ * a_));                                                \
    (ck_f16)((ck_u16)y_ | sign_); })

// The standard normal CDF.
#define CK_CDF(v) (0.5f * (1.0f + CK_ERF((v) * 0.70710678118654752f)))

#endif
