// Every update kernel for one instruction-set path: included by step_kernels.c once per path with
// ISA defined (and the path's target attribute pushed). Variants: float32 and float64 with full
// state, float32 with bfloat16 state rounded to nearest even (bf16n) or stochastically (bf16s),
// and the Adam family's float32 update with 8-bit blockwise state (q8).

#define T float
#define S float
#define LOAD(s, i) ((s)[i])
#define STORE(slot, s, i, x) ((s)[i] = (x))
#define DSUPPORT_TYPE_BITS 32
#define NAME(x) CAT3(x, ISA, f32)
#include "step_kernels_type.h"
#undef NAME
#undef T
#undef S
#undef DSUPPORT_TYPE_BITS

#define T double
#define S double
#define DSUPPORT_TYPE_BITS 64
#define NAME(x) CAT3(x, ISA, f64)
#include "step_kernels_type.h"
#undef NAME
#undef T
#undef S
#undef DSUPPORT_TYPE_BITS
#undef LOAD
#undef STORE

#define DSUPPORT_STATE_COMPACT
#define T float
#define S uint16_t
#define LOAD(s, i) dsupport_bf16_load((s)[i])
#define STORE(slot, s, i, x) ((s)[i] = dsupport_bf16_nearest(x))
#define NAME(x) CAT3(x, ISA, bf16n)
#include "step_kernels_type.h"
#undef NAME
#undef STORE
#define STORE(slot, s, i, x) ((s)[i] = dsupport_bf16_stochastic((x), key##slot, (i)))
#define NAME(x) CAT3(x, ISA, bf16s)
#include "step_kernels_type.h"
#undef NAME
#undef STORE
#undef LOAD
#undef S
#undef DSUPPORT_STATE_COMPACT

#define NAME(x) CAT3(x, ISA, q8)
#include "step_kernels_q8.h"
#undef NAME
#undef T
