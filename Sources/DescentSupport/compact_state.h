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
// a block stores one float32 scale s and one byte per element. The scale is dynamic: the power of
// two 2^k with 2^k <= absmax(block) < 2^(k+1). Element x is stored as the code c of a dynamic
// (floating-point) map value nearest to |x| / s, which lies in [0, 2):
//   signed map (first moments):    bit 7 the sign, bits 0-6 the magnitude c:
//                                  value(c) = 2^(e-15) (1 + f/8), e = c >> 3, f = c & 7, for c >= 1
//                                  (1.125 2^-15 ... 1.875: 16 binades, 8 levels per binade)
//   unsigned map (second moments): value(c) = 2^(e-31) (1 + f/8) for c >= 1 (c = 1 ... 255;
//                                  1.125 2^-31 ... 1.875: squares need twice the range)
//   and value(0) = 0 in both.
// Rounding is to nearest with ties away from zero (the float32 rounded to 3 fraction bits); values
// of 1.9375 s and more store the largest code, and magnitudes below 1.0625 2^-15 s (signed) or
// 1.0625 2^-31 s (unsigned) store 0. A power-of-two scale makes both directions a few integer
// operations: with E the float32 exponent field of absmax, the code of x is
//   c = clamp(((bits(|x|) + 2^19) >> 20) - ((E - bias) << 3), 0, top)
// (bias 15 and top 127 signed, bias 31 and top 255 unsigned) and value(c) = float32 with bits
// (c + ((127 - bias) << 3)) << 20, times s. A block whose absmax is 0 or below the float32 normal
// range stores s = 0 (all zeros); a block holding NaN or infinity stores s = NaN (every element
// reads back NaN: only reachable under the `proceed` non-finite policy). In a step, an element
// whose second-moment code is 0 reads its first moment as 0 (step_kernels_q8.h says why).
#define DSUPPORT_Q8_BLOCK 256

/// The magnitude of code c of the map with exponent bias `bias` (0 for c = 0).
DSUPPORT_INLINE float dsupport_q8_magnitude(uint32_t c, uint32_t bias) {
    const float value = dsupport_float((c + ((127u - bias) << 3)) << 20);
    return c != 0 ? value : 0.0f;
}

DSUPPORT_INLINE float dsupport_q8_decode_signed(uint8_t code) {
    return dsupport_float(dsupport_bits(dsupport_q8_magnitude(code & 0x7Fu, 15)) | ((uint32_t)(code & 0x80u) << 24));
}

DSUPPORT_INLINE float dsupport_q8_decode_unsigned(uint8_t code) { return dsupport_q8_magnitude(code, 31); }

/// The magnitude code of x (finite) in a block whose encoding offset is `offset` ((E - bias) << 3).
DSUPPORT_INLINE uint32_t dsupport_q8_code(float x, int32_t offset, int32_t top) {
    const int32_t q = (int32_t)(((dsupport_bits(x) & 0x7FFFFFFFu) + 0x80000u) >> 20) - offset;
    const int32_t low = q > 0 ? q : 0;
    return (uint32_t)(low < top ? low : top);
}

DSUPPORT_INLINE uint8_t dsupport_q8_encode_signed(float x, int32_t offset) {
    return (uint8_t)(dsupport_q8_code(x, offset, 127) | ((dsupport_bits(x) >> 24) & 0x80u));
}

/// A negative x is stored as |x| (second moments are never negative).
DSUPPORT_INLINE uint8_t dsupport_q8_encode_unsigned(float x, int32_t offset) {
    return (uint8_t)dsupport_q8_code(x, offset, 255);
}

/// The scale of a block from its largest |x| as float32 bits (NaN and infinity compare above every
/// finite magnitude as unsigned bits), and the encoding offset of the map with `bias`.
DSUPPORT_INLINE float dsupport_q8_scale(uint32_t absmax_bits, uint32_t bias, int32_t *offset) {
    const int32_t exponent = (int32_t)(absmax_bits >> 23);
    *offset = (exponent - (int32_t)bias) << 3;
    if (absmax_bits >= 0x7F800000u) {
        *offset = 1 << 20;  // every code 0
        return __builtin_nanf("");
    }
    if (absmax_bits < 0x00800000u) {
        *offset = 1 << 20;
        return 0.0f;
    }
    return dsupport_float(absmax_bits & 0x7F800000u);
}

#endif
