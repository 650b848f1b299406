// Compact optimizer state: the element formulas of bfloat16 and of the 8-bit blockwise format,
// shared by the update kernels (step_kernels_isa.h, compiled once per instruction-set path) and
// the conversions (compact_state.c). Integer and IEEE operations only, no contraction: every path
// gives the same bits. Internal; docs/optimizers.md ("Compact state") documents the formats.
#ifndef DESCENT_COMPACT_STATE_H
#define DESCENT_COMPACT_STATE_H

#include <stdint.h>

#define DSUPPORT_INLINE static inline __attribute__((always_inline))

DSUPPORT_INLINE uint32_t dsupport_bits(float x) {
    union { float f; uint32_t u; } v = {.f = x};
    return v.u;
}

DSUPPORT_INLINE float dsupport_float(uint32_t u) {
    union { uint32_t u; float f; } v = {.u = u};
    return v.f;
}

// ---- bfloat16: the top 16 bits of a float32 ------------------------------------------------------

DSUPPORT_INLINE float dsupport_bf16_load(uint16_t h) { return dsupport_float((uint32_t)h << 16); }

/// x rounded to bfloat16 by adding `increment` (0 ... 0xFFFF) to its bits and truncating: round to
/// nearest even with increment 0x7FFF + (bit 16 of x), stochastic rounding with a uniform random
/// increment (x rounds away from zero with probability (low 16 bits of x) / 65536). NaN stays a
/// (quiet) NaN with its sign; ±infinity stays; a finite value may round to ±infinity as IEEE does.
DSUPPORT_INLINE uint16_t dsupport_bf16_round(float x, uint32_t increment) {
    const uint32_t u = dsupport_bits(x);
    const uint32_t rounded = (u + increment) >> 16;
    return (uint16_t)((u & 0x7FFFFFFFu) > 0x7F800000u ? (u >> 16) | 0x40u : rounded);
}

DSUPPORT_INLINE uint16_t dsupport_bf16_nearest(float x) {
    return dsupport_bf16_round(x, 0x7FFFu + ((dsupport_bits(x) >> 16) & 1u));
}

/// The stochastic-rounding stream: a counter-based hash of (key, element index). `key` is
/// dsupport_rounding_key(seed, step, param, slot), so the bits depend on nothing but those four
/// numbers and the element's index in its tensor (mod 2^32) - not on threads or paths.
/// The mixer is Chris Wellons' "lowbias32".
DSUPPORT_INLINE uint32_t dsupport_mix32(uint32_t x) {
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    return x;
}

DSUPPORT_INLINE uint16_t dsupport_bf16_stochastic(float x, uint32_t key, int64_t index) {
    return dsupport_bf16_round(x, dsupport_mix32(key ^ (uint32_t)index) >> 16);
}

// ---- 8-bit blockwise ----------------------------------------------------------------------------
// Each tensor's state is cut into blocks of DSUPPORT_Q8_BLOCK elements (the last may be shorter);
// a block stores one float32 scale s and one byte per element. Element x is stored as the code of
// the nearest value of a dynamic (floating-point) map to x / s, where s = absmax(block) / 1.875,
// so the block's largest magnitude lands on the map's largest value 1.875. The maps:
//   signed (first moments):    bit 7 sign, then 4 exponent bits e and 3 fraction bits f:
//                              |value| = 2^(e-15) (1 + f/8) for e >= 1, f 2^-17 for e = 0
//                              (1.875 down to 2^-17: 17 binades, 8 levels per binade)
//   unsigned (second moments): 5 exponent bits e and 3 fraction bits f:
//                              value = 2^(e-31) (1 + f/8) for e >= 1, f 2^-33 for e = 0
//                              (1.875 down to 2^-33: squares need twice the range)
// Rounding is to nearest, ties to even code. A block whose absmax is 0 or below the float32
// normal range stores s = 0 (all zeros); a block holding NaN or infinity stores s = NaN (every
// element reads back NaN: only reachable under the `proceed` non-finite policy).
#define DSUPPORT_Q8_BLOCK 256
#define DSUPPORT_Q8_VMAX 1.875f

/// The magnitude of code c (fraction bits 3, exponent bias `bias`).
DSUPPORT_INLINE float dsupport_q8_magnitude(uint32_t c, uint32_t bias) {
    const uint32_t e = c >> 3, f = c & 7u;
    const float normal = dsupport_float(((e + 127u - bias) << 23) | (f << 20));
    const float subnormal = (float)(int32_t)f * dsupport_float((127u + 1u - bias - 3u) << 23);  // f 2^(1-bias-3)
    return e != 0 ? normal : subnormal;
}

/// The code of the map value nearest to a (0 <= a, finite), ties to even; a above the largest
/// value gives the largest code `top`.
DSUPPORT_INLINE uint32_t dsupport_q8_code(float a, uint32_t bias, uint32_t top) {
    const uint32_t u = dsupport_bits(a);
    // Below the smallest normal 2^(1-bias) the map is uniform with step 2^(1-bias-3): adding
    // C = 2^(21-bias), whose ulp is that step, rounds a to the step (to nearest even).
    const float c = dsupport_float((127u + 21u - bias) << 23);
    const uint32_t low = dsupport_bits(a + c) - dsupport_bits(c);
    // Above it, rounding the float32 to 3 fraction bits (nearest even) is rounding to the map.
    const uint32_t high = ((u + 0x7FFFFu + ((u >> 20) & 1u)) >> 20) - ((127u - bias) << 3);
    const uint32_t code = u < ((128u - bias) << 23) ? low : high;
    return code < top ? code : top;
}

DSUPPORT_INLINE float dsupport_q8_decode_signed(uint8_t code) {
    return dsupport_float(dsupport_bits(dsupport_q8_magnitude(code & 0x7Fu, 15)) | ((uint32_t)(code & 0x80u) << 24));
}

DSUPPORT_INLINE float dsupport_q8_decode_unsigned(uint8_t code) { return dsupport_q8_magnitude(code, 31); }

/// x (finite) times the block's 1/s, as a signed code.
DSUPPORT_INLINE uint8_t dsupport_q8_encode_signed(float x, float inverse) {
    const uint32_t u = dsupport_bits(x);
    const float a = dsupport_float(u & 0x7FFFFFFFu) * inverse;
    return (uint8_t)(dsupport_q8_code(a, 15, 127) | ((u >> 24) & 0x80u));
}

/// x (finite, >= 0; a negative x is stored as |x|) times the block's 1/s, as an unsigned code.
DSUPPORT_INLINE uint8_t dsupport_q8_encode_unsigned(float x, float inverse) {
    return (uint8_t)dsupport_q8_code(dsupport_float(dsupport_bits(x) & 0x7FFFFFFFu) * inverse, 31, 255);
}

/// The scale s and 1/s of a block from its largest |x| as float32 bits (NaN and infinity compare
/// above every finite magnitude as unsigned bits).
DSUPPORT_INLINE void dsupport_q8_scale(uint32_t absmax_bits, float *scale, float *inverse) {
    if (absmax_bits >= 0x7F800000u) {
        *scale = __builtin_nanf("");
        *inverse = 0;
    } else if (absmax_bits < 0x00800000u) {
        *scale = 0;
        *inverse = 0;
    } else {
        const float absmax = dsupport_float(absmax_bits);
        *scale = absmax / DSUPPORT_Q8_VMAX;
        *inverse = DSUPPORT_Q8_VMAX / absmax;
    }
}

#endif
