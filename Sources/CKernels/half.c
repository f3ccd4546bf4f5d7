#include "CKernels.h"
#include "simd.h"

// fp32 <-> fp16 bit conversions, round to nearest even, 16 lanes at a time: F. Giesen's
// public-domain float_to_half_fast3_rtne and half_to_float (the scalar Swift code these replace,
// in git history), written with masks instead of branches so they vectorise in every clone,
// F16C or not, and give the same bits on every CPU.

typedef uint16_t ck_h16 __attribute__((ext_vector_type(16)));

// Lanes where the mask is all ones take a, the others b.
#define CK_BLEND(mask, a, b) (((mask) & (a)) | (~(mask) & (b)))

#define CK_TO_HALF(vin) ({                                                                        \
    ck_u16 x_ = (ck_u16)(vin);                                                                    \
    ck_u16 sign_ = x_ & 0x80000000u;                                                              \
    x_ ^= sign_;                                                                                  \
    /* |v| >= 65536 overflows (65520 up overflows through the normal path's carry); NaN stays NaN */ \
    ck_u16 big_ = CK_BLEND((ck_u16)(x_ > 0x7F800000u), (ck_u16)0x7E00u, (ck_u16)0x7C00u);         \
    /* below 2^-14: the FPU's own rounding aligns the 10 mantissa bits under a magic addend */    \
    const ck_u16 magic_ = ((127u - 15u) + (23u - 10u) + 1u) << 23;                                \
    ck_u16 sub_ = (ck_u16)((ck_f16)x_ + (ck_f16)magic_) - magic_;                                 \
    ck_u16 norm_ = (x_ + ((uint32_t)(15 - 127) << 23) + 0xFFFu + ((x_ >> 13) & 1u)) >> 13;        \
    ck_u16 out_ = CK_BLEND((ck_u16)(x_ >= 0x47800000u), big_,                                     \
                           CK_BLEND((ck_u16)(x_ < 0x38800000u), sub_, norm_));                    \
    __builtin_convertvector(out_ | (sign_ >> 16), ck_h16); })

#define CK_FROM_HALF(hin) ({                                                                      \
    ck_u16 h_ = __builtin_convertvector((hin), ck_u16);                                           \
    const ck_u16 shifted_exp_ = 0x7C00u << 13;                                                    \
    ck_u16 u_ = (h_ & 0x7FFFu) << 13;                                                             \
    ck_u16 e_ = u_ & shifted_exp_;                                                                \
    u_ += (127u - 15u) << 23;                                                                     \
    ck_u16 infnan_ = u_ + ((128u - 16u) << 23);                                                   \
    /* zero and subnormals: renormalise through the FPU */                                        \
    ck_u16 tiny_ = (ck_u16)((ck_f16)(u_ + (1u << 23)) - (ck_f16)((ck_u16)(113u << 23)));                  \
    u_ = CK_BLEND((ck_u16)(e_ == shifted_exp_), infnan_, CK_BLEND((ck_u16)(e_ == 0u), tiny_, u_)); \
    (ck_f16)(u_ | ((h_ & 0x8000u) << 16)); })

#define CK_LOAD_H(p) ({ ck_h16 v_; memcpy(&v_, (p), sizeof v_); v_; })
#define CK_STORE_H(p, v) do { ck_h16 s_ = (v); memcpy((p), &s_, sizeof s_); } while (0)
#define CK_LOAD_H_PART(p, n) ({ uint16_t t_[CK_LANES] = {0}; memcpy(t_, (p), (size_t)(n) * 2); CK_LOAD_H(t_); })
#define CK_STORE_H_PART(p, v, n) do { uint16_t u_[CK_LANES]; CK_STORE_H(u_, (v)); memcpy((p), u_, (size_t)(n) * 2); } while (0)

CK_CLONES void ck_to_half(const float *src, uint16_t *dst, long begin, long end) {
    long i = begin;
    for (; i + CK_LANES <= end; i += CK_LANES) CK_STORE_H(dst + i, CK_TO_HALF(CK_LOAD(src + i)));
    if (i < end) CK_STORE_H_PART(dst + i, CK_TO_HALF(CK_LOAD_PART(src + i, end - i)), end - i);
}

CK_CLONES void ck_from_half(const uint16_t *src, float *dst, long begin, long end) {
    long i = begin;
    for (; i + CK_LANES <= end; i += CK_LANES) CK_STORE(dst + i, CK_FROM_HALF(CK_LOAD_H(src + i)));
    if (i < end) CK_STORE_PART(dst + i, CK_FROM_HALF(CK_LOAD_H_PART(src + i, end - i)), end - i);
}

CK_CLONES void ck_accumulate_half(const float *src, uint16_t *dst, long begin, long end) {
    long i = begin;
    for (; i + CK_LANES <= end; i += CK_LANES)
        CK_STORE_H(dst + i, CK_TO_HALF(CK_FROM_HALF(CK_LOAD_H(dst + i)) + CK_LOAD(src + i)));
    if (i < end) {
        long n = end - i;
        CK_STORE_H_PART(dst + i, CK_TO_HALF(CK_FROM_HALF(CK_LOAD_H_PART(dst + i, n)) + CK_LOAD_PART(src + i, n)), n);
    }
}
