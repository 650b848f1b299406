// Internal C helpers for the Descent core. Not part of the public ABI: every symbol here is
// hidden from libdescent.so's dynamic symbol table.
#ifndef DESCENT_SUPPORT_H
#define DESCENT_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <cblas.h>

#define DSUPPORT_HIDDEN __attribute__((visibility("hidden")))

/// Copies `message` (truncated to the buffer) into this thread's last-error buffer.
DSUPPORT_HIDDEN void dsupport_set_last_error(const char *message);

/// This thread's last-error text; "" when no call on this thread has failed yet.
DSUPPORT_HIDDEN const char *dsupport_last_error(void);

/// Square roots that never touch errno. `Float.squareRoot()` goes through `__builtin_sqrtf`,
/// which under C's default `-fmath-errno` keeps a call to libm's sqrtf for negative inputs, and
/// that call stops the update loops from vectorizing (Adam 3-5x slower). The elementwise
/// builtin lowers to a plain IEEE square root (NaN for negative input, no errno), so the kernels
/// vectorize without any unsafe compiler flag (which a package depending on the `Descent`
/// library product may not use). Inlined into the Swift kernels through the Clang importer.
#if __has_builtin(__builtin_elementwise_sqrt)
static inline __attribute__((always_inline)) float dsupport_sqrtf(float x) {
    return __builtin_elementwise_sqrt(x);
}
static inline __attribute__((always_inline)) double dsupport_sqrt(double x) {
    return __builtin_elementwise_sqrt(x);
}
#else
static inline __attribute__((always_inline)) float dsupport_sqrtf(float x) { return __builtin_sqrtf(x); }
static inline __attribute__((always_inline)) double dsupport_sqrt(double x) { return __builtin_sqrt(x); }
#endif

/// The BLAS every matrix product and level-1 call goes through (see blas.c for the choice):
/// row-major, unit strides.
DSUPPORT_HIDDEN const char *dsupport_blas_name(void);
/// 1 when the BLAS runs single-threaded and products should be partitioned by the caller.
DSUPPORT_HIDDEN int dsupport_blas_partitioned(void);
DSUPPORT_HIDDEN void dsupport_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a,
                                    int lda, const float *b, int ldb, float beta, float *c, int ldc);
DSUPPORT_HIDDEN void dsupport_dgemm(int transpose_a, int transpose_b, int m, int n, int k, double alpha,
                                    const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc);
DSUPPORT_HIDDEN void dsupport_saxpy(int count, float alpha, const float *x, float *y);
DSUPPORT_HIDDEN void dsupport_daxpy(int count, double alpha, const double *x, double *y);
DSUPPORT_HIDDEN void dsupport_sscal(int count, float alpha, float *x);
DSUPPORT_HIDDEN void dsupport_dscal(int count, double alpha, double *x);

/// Copies "<prefix>: <message>" (truncated to the buffer) into this thread's last-error buffer.
/// Allocates nothing, so an out-of-memory error can always be reported.
DSUPPORT_HIDDEN void dsupport_set_last_error_parts(const char *prefix, size_t prefix_length,
                                                   const char *message, size_t message_length);

/// 1 when `bytes` can be allocated now (a malloc of that size succeeded and was freed), else 0.
DSUPPORT_HIDDEN int dsupport_can_allocate(size_t bytes);

// ---- fork-aware locks (process_lock.c) --------------------------------------------------------

/// A lock word: zero-initialized means free. Use only through the functions below, at a stable
/// address (heap or static storage).
typedef struct dsupport_lock {
    uint32_t word;
} dsupport_lock;

/// dsupport_lock_acquire's result when the lock was held by a thread of the parent process at the
/// instant this process was made by fork(): that thread does not exist here, so the lock will never
/// be released (and what it protected may be half-updated).
#define DSUPPORT_LOCK_STALE 1

/// Waits for and takes the lock: 0, or DSUPPORT_LOCK_STALE (nothing taken). Not recursive.
DSUPPORT_HIDDEN int dsupport_lock_acquire(dsupport_lock *lock);

/// Releases a lock taken by dsupport_lock_acquire.
DSUPPORT_HIDDEN void dsupport_lock_release(dsupport_lock *lock);

/// This process's id as the locks record it (cached; renewed in a child after fork()).
DSUPPORT_HIDDEN uint32_t dsupport_process_tag(void);

/// Process-wide locks: pthread_atfork handlers take every one of them before fork() and release
/// them after it (the child resets its copies), so a child never inherits one held by a thread it
/// does not have.
enum {
    DSUPPORT_LOCK_HANDLES = 0,      ///< the C ABI's handle table
    DSUPPORT_LOCK_WORKER_POOL = 1,  ///< creation of the worker pool of the current process
    DSUPPORT_PROCESS_LOCK_COUNT = 2
};

/// The process-wide lock `which` (DSUPPORT_LOCK_*); NULL for another number.
DSUPPORT_HIDDEN dsupport_lock *dsupport_process_lock(int which);

/// The pool of worker threads of the current process (an opaque retained pointer owned by the
/// Swift core), NULL until one is started. Read and written with acquire/release ordering.
DSUPPORT_HIDDEN void *dsupport_worker_pool(void);
DSUPPORT_HIDDEN void dsupport_set_worker_pool(void *pool);

// ---- temporary files of atomic saves (temporary_file.c) ---------------------------------------

/// Bytes a buffer needs for the temporary name of `path` (NUL included).
DSUPPORT_HIDDEN size_t dsupport_temporary_name_capacity(const char *path);

/// Creates "<path>.tmp-<pid>-<16 hex digits>" (a name no other save uses), opens it write-only and
/// holds an exclusive flock on it while the descriptor is open; writes the name to `name`.
/// Returns the descriptor, or -1 with errno set.
DSUPPORT_HIDDEN int dsupport_temporary_create(const char *path, char *name, size_t capacity);

/// Removes the temporary files of `path` that dead saves left behind: those nobody holds a lock on
/// whose process is gone (or that nobody touched for a minute), and those of the unlocked format
/// of earlier versions ("<path>.tmp-<pid>") whose process is gone. Never a running save's file.
/// Best effort: errors are ignored.
DSUPPORT_HIDDEN void dsupport_temporary_sweep(const char *path);

/// fsync of the directory holding `path` (best effort).
DSUPPORT_HIDDEN void dsupport_fsync_directory_of(const char *path);


// ---- optimizer update kernels (step_kernels.c) -------------------------------------------------

/// The instruction-set paths of the update kernels (DESCENT_ISA's names: baseline, avx2, avx512).
enum { DSUPPORT_ISA_BASELINE = 0, DSUPPORT_ISA_AVX2 = 1, DSUPPORT_ISA_AVX512 = 2, DSUPPORT_ISA_COUNT = 3 };
/// The rules (OptimizerRule's raw values) and flag bits (OptimizerFlags') the kernels read.
enum {
    DSUPPORT_RULE_SGD = 1, DSUPPORT_RULE_ADAGRAD = 2, DSUPPORT_RULE_ADADELTA = 3, DSUPPORT_RULE_RMSPROP = 4,
    DSUPPORT_RULE_ADAM = 5, DSUPPORT_RULE_ADAMW = 6, DSUPPORT_RULE_ADAMAX = 7, DSUPPORT_RULE_NADAM = 8,
    DSUPPORT_RULE_RADAM = 9, DSUPPORT_RULE_LION = 10,
};
enum {
    DSUPPORT_FLAG_EPS_INSIDE_SQRT = 4, DSUPPORT_FLAG_NESTEROV = 16, DSUPPORT_FLAG_AMSGRAD = 32,
    DSUPPORT_FLAG_CENTERED = 64, DSUPPORT_FLAG_EXPONENTIAL_AVERAGE = 128, DSUPPORT_FLAG_CS231N_MOMENTUM = 256,
};

/// One update's scalars, computed in double precision by the Swift StepPlan (see its fields).
typedef struct dsupport_step_plan {
    int32_t rule;
    int32_t flags;
    int32_t first_step;
    int32_t reserved;
    double gradient_sign, l2, decay, learning_rate;
    double beta1, one_minus_beta1, beta2, one_minus_beta2, epsilon;
    double step_size, scale2, extra;
    /// bfloat16 state with stochastic rounding: each slot's key (dsupport_rounding_key); else unused.
    uint32_t keys[3];
    uint32_t reserved2;
} dsupport_step_plan;

/// Applies `plan` to elements [begin, end) of one parameter, its gradient and its state slots (a
/// slot the rule does not use may be NULL), on the selected path.
DSUPPORT_HIDDEN void dsupport_step_f32(const dsupport_step_plan *plan, float *p, const float *g, float *s0,
                                       float *s1, float *s2, int64_t begin, int64_t end);
DSUPPORT_HIDDEN void dsupport_step_f64(const dsupport_step_plan *plan, double *p, const double *g, double *s0,
                                       double *s1, double *s2, int64_t begin, int64_t end);
/// The same update with float32 params and bfloat16 state slots: state read as float32, the
/// arithmetic of dsupport_step_f32, the new state rounded to nearest even (stochastic == 0) or
/// stochastically from plan->keys (stochastic != 0) when stored.
DSUPPORT_HIDDEN void dsupport_step_bf16(const dsupport_step_plan *plan, int stochastic, float *p, const float *g,
                                        uint16_t *s0, uint16_t *s1, uint16_t *s2, int64_t begin, int64_t end);
/// The Adam family's update (Adam, AdamW without AMSGrad; Adamax; NAdam; RAdam) with 8-bit blockwise
/// state: slot 0 as signed codes + per-block scales, slot 1 as unsigned codes + scales. `begin` must
/// be a multiple of DSUPPORT_Q8_BLOCK_SIZE and `end` one too or the tensor's end.
DSUPPORT_HIDDEN void dsupport_step_q8(const dsupport_step_plan *plan, float *p, const float *g, uint8_t *m_codes,
                                      float *m_scales, uint8_t *v_codes, float *v_scales, int64_t begin, int64_t end);
/// Elements per block of the 8-bit format.
enum { DSUPPORT_Q8_BLOCK_SIZE = 256 };
/// The stochastic-rounding key of state slot `slot` of param `param` at step `step` under `seed`:
/// the low 32 bits of mix64(seed ^ mix64(step * 0x9E3779B97F4A7C15 ^ (param << 2 | slot))), with
/// SplitMix64's finalizer as mix64.
DSUPPORT_HIDDEN uint32_t dsupport_rounding_key(uint64_t seed, int64_t step, int64_t param, int32_t slot);
/// float32 <-> bfloat16 (round to nearest even; NaN stays NaN).
DSUPPORT_HIDDEN void dsupport_bf16_encode(const float *source, uint16_t *destination, int64_t count);
DSUPPORT_HIDDEN void dsupport_bf16_decode(const uint16_t *source, float *destination, int64_t count);
/// float32 <-> 8-bit blockwise (signed or unsigned map; ceil(count / 256) scales).
DSUPPORT_HIDDEN void dsupport_q8_encode(const float *source, int64_t count, int is_signed, uint8_t *codes,
                                        float *scales);
DSUPPORT_HIDDEN void dsupport_q8_decode(const uint8_t *codes, const float *scales, int64_t count, int is_signed,
                                        float *destination);

/// 1 when every element of values[begin, end) is finite.
DSUPPORT_HIDDEN int dsupport_all_finite_f32(const float *values, int64_t begin, int64_t end);
DSUPPORT_HIDDEN int dsupport_all_finite_f64(const double *values, int64_t begin, int64_t end);

/// ReLU forward (out := x unless x <= 0; NaN propagates) and backward (dx := g where x > 0, else
/// 0), branch-free, on the selected path. `out` may equal `x`.
DSUPPORT_HIDDEN void dsupport_relu_f32(const float *x, float *out, int64_t count);
DSUPPORT_HIDDEN void dsupport_relu_f64(const double *x, double *out, int64_t count);
DSUPPORT_HIDDEN void dsupport_relu_backward_f32(const float *x, const float *g, float *dx, int64_t count);
DSUPPORT_HIDDEN void dsupport_relu_backward_f64(const double *x, const double *g, double *dx, int64_t count);

/// 1 when this CPU can run path `isa`.
DSUPPORT_HIDDEN int dsupport_isa_available(int isa);
/// The path's name ("baseline", "avx2", "avx512"), NULL for an unknown number.
DSUPPORT_HIDDEN const char *dsupport_isa_name(int isa);
/// The path named `name`, or -1.
DSUPPORT_HIDDEN int dsupport_isa_parse(const char *name);
/// The widest path this CPU has.
DSUPPORT_HIDDEN int dsupport_isa_best(void);
/// The selected path, choosing it on first use ($DESCENT_ISA, else the best); -2 when
/// $DESCENT_ISA names a path that is unknown or missing here (dsupport_isa_selection_error says which).
DSUPPORT_HIDDEN int dsupport_isa_select(void);
DSUPPORT_HIDDEN const char *dsupport_isa_selection_error(void);
/// Selects an available path (0), or returns -1 and changes nothing.
DSUPPORT_HIDDEN int dsupport_isa_set(int isa);

#endif
