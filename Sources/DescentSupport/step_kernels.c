// The optimizer update loops, compiled three times: for baseline x86-64 (SSE2), for AVX2 and for
// AVX-512 (F, VL, BW, DQ), and chosen once per process from what the CPU has (or from
// $DESCENT_ISA, or dsupport_isa_set). The same source and no floating-point contraction make every
// path round identically: only the vector width changes, and the update of each element depends
// on nothing but that element, so results are bit-identical on every path (the test suite checks
// it on every path this CPU has). Other architectures get the portable loops only.
#include "DescentSupport.h"
#include "compact_state.h"

_Static_assert(DSUPPORT_Q8_BLOCK == DSUPPORT_Q8_BLOCK_SIZE, "one block size");

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#pragma clang fp contract(off)

#define CAT3_(a, b, c) a##_##b##_##c
#define CAT3(a, b, c) CAT3_(a, b, c)

// baseline ---------------------------------------------------------------------------------------
#define SQRT(x) __builtin_elementwise_sqrt(x)
#define ISA baseline
#include "step_kernels_isa.h"
#undef ISA

#if defined(__x86_64__)
// AVX2 -------------------------------------------------------------------------------------------
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#define ISA avx2
#include "step_kernels_isa.h"
#undef ISA
#pragma clang attribute pop

// AVX-512 ----------------------------------------------------------------------------------------
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"), min_vector_width(512))), \
                             apply_to = function)
#define ISA avx512
#include "step_kernels_isa.h"
#undef ISA
#pragma clang attribute pop
#endif

typedef void (*step_f32_fn)(const dsupport_step_plan *, float *, const float *, float *, float *, float *,
                            int64_t, int64_t);
typedef void (*step_f64_fn)(const dsupport_step_plan *, double *, const double *, double *, double *, double *,
                            int64_t, int64_t);
typedef void (*step_bf16_fn)(const dsupport_step_plan *, float *, const float *, uint16_t *, uint16_t *, uint16_t *,
                             int64_t, int64_t);
typedef void (*step_q8_fn)(const dsupport_step_plan *, float *, const float *, uint8_t *, float *, uint8_t *, float *,
                           int64_t, int64_t);
typedef int (*finite_f32_fn)(const float *, int64_t, int64_t);
typedef int (*finite_f64_fn)(const double *, int64_t, int64_t);
typedef void (*relu_f32_fn)(const float *, float *, int64_t);
typedef void (*relu_f64_fn)(const double *, double *, int64_t);
typedef void (*relu_back_f32_fn)(const float *, const float *, float *, int64_t);
typedef void (*relu_back_f64_fn)(const double *, const double *, double *, int64_t);

static const struct kernel_table {
    const char *name;
    step_f32_fn step_f32;
    step_f64_fn step_f64;
    finite_f32_fn finite_f32;
    finite_f64_fn finite_f64;
    step_bf16_fn step_bf16_nearest;
    step_bf16_fn step_bf16_stochastic;
    step_q8_fn step_q8;
    relu_f32_fn relu_f32;
    relu_f64_fn relu_f64;
    relu_back_f32_fn relu_back_f32;
    relu_back_f64_fn relu_back_f64;
} tables[] = {
#define TABLE(isa) {#isa, step_##isa##_f32, step_##isa##_f64, all_finite_##isa##_f32, all_finite_##isa##_f64, \
                    step_##isa##_bf16n, step_##isa##_bf16s, step_##isa##_q8,                                \
                    relu_forward_##isa##_f32, relu_forward_##isa##_f64, relu_backward_##isa##_f32,           \
                    relu_backward_##isa##_f64}
    [DSUPPORT_ISA_BASELINE] = TABLE(baseline),
#if defined(__x86_64__)
    [DSUPPORT_ISA_AVX2] = TABLE(avx2),
    [DSUPPORT_ISA_AVX512] = TABLE(avx512),
#endif
#undef TABLE
};

int dsupport_isa_available(int isa) {
    switch (isa) {
    case DSUPPORT_ISA_BASELINE: return 1;
#if defined(__x86_64__)
    case DSUPPORT_ISA_AVX2: return __builtin_cpu_supports("avx2");
    case DSUPPORT_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
               && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
    default: return 0;
    }
}

const char *dsupport_isa_name(int isa) {
    switch (isa) {
    case DSUPPORT_ISA_BASELINE: return "baseline";
    case DSUPPORT_ISA_AVX2: return "avx2";
    case DSUPPORT_ISA_AVX512: return "avx512";
    default: return NULL;
    }
}

int dsupport_isa_parse(const char *name) {
    if (name == NULL) return -1;
    for (int isa = 0; isa < DSUPPORT_ISA_COUNT; isa++) {
        if (strcmp(name, dsupport_isa_name(isa)) == 0) return isa;
    }
    return -1;
}

int dsupport_isa_best(void) {
    for (int isa = DSUPPORT_ISA_COUNT - 1; isa > 0; isa--) {
        if (dsupport_isa_available(isa)) return isa;
    }
    return DSUPPORT_ISA_BASELINE;
}

// The selected path: -1 until chosen. Chosen once (the first step, or dsupport_isa_select) from
// $DESCENT_ISA or the best available; a forced path the CPU lacks leaves it at -2 (every step then
// fails with the message below) until dsupport_isa_set picks a valid one.
static int selected = -1;  // accessed only with __atomic builtins
static char selection_error[160];

int dsupport_isa_select(void) {
    int isa = __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
    if (isa != -1) return isa;
    const char *forced = getenv("DESCENT_ISA");
    int choice;
    if (forced == NULL || forced[0] == '\0') {
        choice = dsupport_isa_best();
    } else {
        choice = dsupport_isa_parse(forced);
        if (choice < 0) {
            snprintf(selection_error, sizeof selection_error,
                     "DESCENT_ISA=%.40s is not one of baseline, avx2, avx512", forced);
            choice = -2;
        } else if (!dsupport_isa_available(choice)) {
            snprintf(selection_error, sizeof selection_error,
                     "DESCENT_ISA=%s, but this CPU lacks the %s instructions (available: baseline%s%s)", forced,
                     forced, dsupport_isa_available(DSUPPORT_ISA_AVX2) ? ", avx2" : "",
                     dsupport_isa_available(DSUPPORT_ISA_AVX512) ? ", avx512" : "");
            choice = -2;
        }
    }
    int expected = -1;
    if (!__atomic_compare_exchange_n(&selected, &expected, choice, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return expected;  // another thread chose first (the same way)
    }
    return choice;
}

const char *dsupport_isa_selection_error(void) { return selection_error; }

int dsupport_isa_set(int isa) {
    if (isa < 0 || isa >= DSUPPORT_ISA_COUNT || !dsupport_isa_available(isa)) return -1;
    __atomic_store_n(&selected, isa, __ATOMIC_RELEASE);
    return 0;
}

static inline const struct kernel_table *table(void) {
    int isa = __atomic_load_n(&selected, __ATOMIC_ACQUIRE);
    if (isa < 0) isa = dsupport_isa_select();
    return &tables[isa < 0 ? DSUPPORT_ISA_BASELINE : isa];
}

void dsupport_step_f32(const dsupport_step_plan *plan, float *p, const float *g, float *s0, float *s1, float *s2,
                       int64_t begin, int64_t end) {
    table()->step_f32(plan, p, g, s0, s1, s2, begin, end);
}

void dsupport_step_f64(const dsupport_step_plan *plan, double *p, const double *g, double *s0, double *s1,
                       double *s2, int64_t begin, int64_t end) {
    table()->step_f64(plan, p, g, s0, s1, s2, begin, end);
}

int dsupport_all_finite_f32(const float *values, int64_t begin, int64_t end) {
    return table()->finite_f32(values, begin, end);
}

int dsupport_all_finite_f64(const double *values, int64_t begin, int64_t end) {
    return table()->finite_f64(values, begin, end);
}

void dsupport_relu_f32(const float *x, float *out, int64_t count) { table()->relu_f32(x, out, count); }
void dsupport_relu_f64(const double *x, double *out, int64_t count) { table()->relu_f64(x, out, count); }
void dsupport_relu_backward_f32(const float *x, const float *g, float *dx, int64_t count) {
    table()->relu_back_f32(x, g, dx, count);
}
void dsupport_relu_backward_f64(const double *x, const double *g, double *dx, int64_t count) {
    table()->relu_back_f64(x, g, dx, count);
}

void dsupport_step_bf16(const dsupport_step_plan *plan, int stochastic, float *p, const float *g, uint16_t *s0,
                        uint16_t *s1, uint16_t *s2, int64_t begin, int64_t end) {
    const struct kernel_table *kernels = table();
    (stochastic ? kernels->step_bf16_stochastic : kernels->step_bf16_nearest)(plan, p, g, s0, s1, s2, begin, end);
}

void dsupport_step_q8(const dsupport_step_plan *plan, float *p, const float *g, uint8_t *m_codes, float *m_scales,
                      uint8_t *v_codes, float *v_scales, int64_t begin, int64_t end) {
    if (m_codes == NULL || m_scales == NULL || v_codes == NULL || v_scales == NULL) return;
    table()->step_q8(plan, p, g, m_codes, m_scales, v_codes, v_scales, begin, end);
}

// ---- conversions between float32 and the compact formats (compact_state.h) ---------------------

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t dsupport_rounding_key(uint64_t seed, int64_t step, int64_t param, int32_t slot) {
    return (uint32_t)mix64(seed ^ mix64((uint64_t)step * 0x9E3779B97F4A7C15ull ^ ((uint64_t)param << 2 | (uint64_t)slot)));
}

void dsupport_bf16_encode(const float *source, uint16_t *destination, int64_t count) {
    for (int64_t i = 0; i < count; i++) destination[i] = dsupport_bf16_nearest(source[i]);
}

void dsupport_bf16_decode(const uint16_t *source, float *destination, int64_t count) {
    for (int64_t i = 0; i < count; i++) destination[i] = dsupport_bf16_load(source[i]);
}

void dsupport_q8_encode(const float *source, int64_t count, int is_signed, uint8_t *codes, float *scales) {
    for (int64_t start = 0; start < count; start += DSUPPORT_Q8_BLOCK) {
        const int64_t stop = count - start < DSUPPORT_Q8_BLOCK ? count : start + DSUPPORT_Q8_BLOCK;
        uint32_t largest = 0;
        for (int64_t i = start; i < stop; i++) {
            const uint32_t magnitude = dsupport_bits(source[i]) & 0x7FFFFFFFu;
            largest = magnitude > largest ? magnitude : largest;
        }
        int32_t offset;
        scales[start / DSUPPORT_Q8_BLOCK] = dsupport_q8_scale(largest, is_signed ? 15 : 31, &offset);
        for (int64_t i = start; i < stop; i++) {
            codes[i] = is_signed ? dsupport_q8_encode_signed(source[i], offset)
                                 : dsupport_q8_encode_unsigned(source[i], offset);
        }
    }
}

void dsupport_q8_decode(const uint8_t *codes, const float *scales, int64_t count, int is_signed, float *destination) {
    for (int64_t i = 0; i < count; i++) {
        const float value = is_signed ? dsupport_q8_decode_signed(codes[i]) : dsupport_q8_decode_unsigned(codes[i]);
        destination[i] = value * scales[i / DSUPPORT_Q8_BLOCK];
    }
}
