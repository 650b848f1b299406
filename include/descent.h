/*
 * descent.h — the C ABI of Descent, a gradient-descent engine.
 *
 * Link with -ldescent (build/lib/libdescent.so after `make`). The library carries its own Swift
 * runtime and needs only libc, libm, libstdc++ and OpenBLAS at run time.
 *
 * ---------------------------------------------------------------------------------------------
 * A worked example: minimize J(W) = 0.1 (W - 5)^2 from W = 10 (the gradient there is 1).
 *
 *     #include <stdio.h>
 *     #include "descent.h"
 *
 *     int main(void) {
 *         descent_tensor w = 0, g = 0;
 *         int64_t shape[1] = {1};
 *         double start = 10.0, value = 0.0;
 *         if (descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 1, shape, &start, 1, &w) != DESCENT_OK ||
 *             descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, shape, &g) != DESCENT_OK) {
 *             fprintf(stderr, "%s\n", descent_last_error());
 *             return 1;
 *         }
 *         for (int step = 0; step < 50; step++) {
 *             descent_tensor_copy_to(w, DESCENT_DTYPE_FLOAT64, &value, 1);
 *             double gradient = 0.2 * (value - 5.0);            // dJ/dW
 *             descent_tensor_copy_from(g, DESCENT_DTYPE_FLOAT64, &gradient, 1);
 *             descent_gd_step(w, g, 1.0);                       // W := W - 1.0 * dJ/dW
 *         }
 *         descent_tensor_copy_to(w, DESCENT_DTYPE_FLOAT64, &value, 1);
 *         printf("W = %.6f\n", value);                          // 5.000071 (5 + 5 * 0.8^50)
 *         descent_tensor_free(g);
 *         descent_tensor_free(w);
 *         return 0;
 *     }
 *
 * ---------------------------------------------------------------------------------------------
 * Conventions (they hold for every function below unless its block says otherwise)
 *
 *  - Status: every fallible function returns a descent_status; DESCENT_OK (0) is success. On
 *    failure, descent_last_error() describes it and NOTHING was modified: no out-pointer was
 *    written, no tensor changed, no handle created or freed.
 *  - Handles: objects are opaque 64-bit handles (0 is the null handle). A null, freed, stale or
 *    made-up handle gives DESCENT_ERR_INVALID_HANDLE; a live handle of another kind of object
 *    gives DESCENT_ERR_WRONG_HANDLE_TYPE. Neither ever crashes. Each *_new-style constructor
 *    creates one handle; free it exactly once with its *_free (extra frees are harmless).
 *  - Pointers: a NULL pointer argument gives DESCENT_ERR_NULL_POINTER, except where a block
 *    says NULL is allowed. Buffers are described by pointer + element count + dtype; the library
 *    never reads or writes past the count you pass.
 *  - Threads: every function may be called from any thread. Calls on different objects run
 *    concurrently; calls that modify the same tensor at the same time race on its numbers (never
 *    on the library's own state). Freeing a handle while another thread uses it is safe: the
 *    object lives until that call returns.
 *  - fork(): a child process may use the library even when other threads of the parent were
 *    inside it at the fork (the library's process-wide locks are taken and released around
 *    fork() by pthread_atfork handlers; a child starts its own worker threads). An optimizer or
 *    plateau scheduler that another thread was using at that instant may be half-updated in the
 *    child: there every call on it returns DESCENT_ERR_UNSUPPORTED (freeing it is still fine).
 *  - Memory layout: tensors are dense and row-major (C order), rank 0 to DESCENT_MAX_RANK.
 *  - Determinism: the same inputs and seed give bit-identical results whatever the thread count.
 */
#ifndef DESCENT_H
#define DESCENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------- */

/** The ABI version this header describes. Compare it with descent_abi_version() at run time. */
#define DESCENT_ABI_VERSION 1

/**
 * The ABI version of the loaded library. A program compiled against this header should refuse
 * to run when descent_abi_version() != DESCENT_ABI_VERSION. Never fails.
 */
uint32_t descent_abi_version(void);

/**
 * Which BLAS serves matrix products and level-1 calls: the path of the library loaded, or
 * "system OpenBLAS (libopenblas.so.0...)". Chosen once, at first use: $DESCENT_BLAS = "system"
 * forces the system OpenBLAS, another non-empty value (other than "bundled") names a CBLAS
 * library to load; otherwise libscipy_openblas.so beside libdescent.so (a newer OpenBLAS that
 * `make` puts there, much faster on the small matrices of a training step), else the system
 * OpenBLAS. Library-owned, static, never NULL. Never fails.
 */
const char *descent_blas_name(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------------------------- */

/** Result of every fallible call: DESCENT_OK or one of the DESCENT_ERR_* codes below. */
typedef int32_t descent_status;

/* Append-only: codes are never renumbered or reused. */
enum {
    DESCENT_OK = 0,
    DESCENT_ERR_NULL_POINTER = 1,      /* a required pointer argument was NULL */
    DESCENT_ERR_INVALID_HANDLE = 2,    /* null, freed, stale or never-issued handle */
    DESCENT_ERR_WRONG_HANDLE_TYPE = 3, /* a live handle to another kind of object */
    DESCENT_ERR_DTYPE = 4,             /* unknown dtype, or dtypes that must match do not */
    DESCENT_ERR_SHAPE = 5,             /* bad rank/extent, or shapes that must agree do not */
    DESCENT_ERR_INVALID_ARGUMENT = 6,  /* a value outside its documented domain */
    DESCENT_ERR_OUT_OF_MEMORY = 7,     /* an allocation failed */
    DESCENT_ERR_BUFFER_TOO_SMALL = 8,  /* a caller buffer's count is below what is needed */
    DESCENT_ERR_NON_FINITE = 9,        /* NaN or infinity where a finite number is required */
    DESCENT_ERR_IO = 10,               /* a file could not be read or written */
    DESCENT_ERR_CORRUPT = 11,          /* a file failed its format or checksum checks */
    DESCENT_ERR_CALLBACK = 12,         /* a user callback reported failure */
    DESCENT_ERR_INTERNAL = 13,         /* a bug in Descent: please report it */
    DESCENT_ERR_UNSUPPORTED = 14       /* valid request this build cannot do */
};

/**
 * The name of a status code ("DESCENT_OK", "DESCENT_ERR_SHAPE", ...; "DESCENT_ERR_UNKNOWN" for
 * numbers not in the list). Library-owned, static, never NULL. Never fails.
 */
const char *descent_status_string(descent_status status);

/**
 * A sentence describing the most recent failure on the calling thread, prefixed with the name
 * of the function that failed; "" if no call on this thread has failed. Library-owned,
 * thread-local, never NULL; the text stays valid until the next failing call on the same thread
 * (successful calls leave it unchanged). Never fails.
 */
const char *descent_last_error(void);

/**
 * The instruction-set path of the optimizer update kernels (every *_step function, optimizer
 * steps, trainer steps and the non-finite gradient scan): "baseline" (SSE2, any x86-64), "avx2"
 * or "avx512" (F, VL, BW, DQ). The same C loops are compiled for each, without contraction into
 * fused multiply-adds, so every path gives bit-identical results: a run reproduces on any
 * x86-64 machine, whichever path its CPU takes. (Matrix products go through the BLAS, which
 * picks its own kernels per CPU; they are outside this promise.)
 *
 * The path is chosen once, at the first step: $DESCENT_ISA when set, else the widest the CPU
 * has. *name receives the path's name (static, library-owned). DESCENT_ERR_UNSUPPORTED when
 * $DESCENT_ISA names an unknown path or one this CPU lacks (the message says which): every step
 * then fails with that status, nothing is updated, until descent_set_isa picks a valid path.
 * DESCENT_ERR_NULL_POINTER for a NULL name.
 */
descent_status descent_isa(const char **name);

/**
 * Selects the kernel path for every later step of the process: "baseline", "avx2" or "avx512".
 * DESCENT_ERR_INVALID_ARGUMENT for another name, DESCENT_ERR_UNSUPPORTED when this CPU lacks the
 * path (nothing changes), DESCENT_ERR_NULL_POINTER for NULL. Safe while other threads step (a
 * step's chunks may then run on either path, with the same bits).
 */
descent_status descent_set_isa(const char *name);

/**
 * *available := 1 when this CPU can run the kernel path `name`, else 0.
 * DESCENT_ERR_INVALID_ARGUMENT for an unknown name, DESCENT_ERR_NULL_POINTER for NULL pointers.
 */
descent_status descent_isa_available(const char *name, int32_t *available);

/* ---------------------------------------------------------------------------------------------
 * Tensors
 * ------------------------------------------------------------------------------------------- */

/** Handle to a tensor. 0 is the null handle. */
typedef uint64_t descent_tensor;

/** Element types. */
enum {
    DESCENT_DTYPE_FLOAT32 = 1, /* float */
    DESCENT_DTYPE_FLOAT64 = 2  /* double */
};

/** Highest tensor rank. */
#define DESCENT_MAX_RANK 8

/*
 * Constructors. All take `dtype` (DESCENT_DTYPE_*), `rank` (0..DESCENT_MAX_RANK) and `shape`
 * (rank extents, each >= 0; may be NULL when rank is 0) and write a new handle to *out, which
 * the caller frees with descent_tensor_free(). Zero-sized extents are allowed.
 * Common statuses: DESCENT_ERR_NULL_POINTER (out or shape NULL), DESCENT_ERR_DTYPE (unknown
 * dtype), DESCENT_ERR_SHAPE (rank out of range, negative extent, size overflow),
 * DESCENT_ERR_OUT_OF_MEMORY. On failure *out is not written.
 */

/** A tensor of zeros. */
descent_status descent_tensor_zeros(int32_t dtype, int64_t rank, const int64_t *shape,
                                    descent_tensor *out);

/** A tensor of ones. */
descent_status descent_tensor_ones(int32_t dtype, int64_t rank, const int64_t *shape,
                                   descent_tensor *out);

/** A tensor with every element equal to `value` (rounded to float for float32). */
descent_status descent_tensor_full(int32_t dtype, int64_t rank, const int64_t *shape, double value,
                                   descent_tensor *out);

/**
 * A 1-D tensor of start + i*step for i = 0 .. ceil((stop - start) / step) - 1, computed in double
 * and rounded to dtype (NumPy's arange length rule; empty when the range is empty).
 * Extra statuses: DESCENT_ERR_NON_FINITE (a non-finite argument), DESCENT_ERR_INVALID_ARGUMENT
 * (step == 0), DESCENT_ERR_SHAPE (too many elements).
 */
descent_status descent_tensor_arange(int32_t dtype, double start, double stop, double step,
                                     descent_tensor *out);

/**
 * A 1-D tensor of `count` evenly spaced values from start to stop (NumPy's linspace). With
 * endpoint != 0 the spacing is (stop - start)/(count - 1) and the last value is exactly stop;
 * with endpoint == 0 the spacing is (stop - start)/count and stop is excluded.
 * Extra statuses: DESCENT_ERR_NON_FINITE (start or stop), DESCENT_ERR_SHAPE (count < 0 or above
 * 64 * (2^31 - 1)).
 */
descent_status descent_tensor_linspace(int32_t dtype, double start, double stop, int64_t count,
                                       int32_t endpoint, descent_tensor *out);

/**
 * A tensor holding a COPY of `count` elements of `dtype` at `data` (row-major). `count` must
 * equal the product of the extents. The caller's buffer is not retained.
 * Extra statuses: DESCENT_ERR_NULL_POINTER (data NULL), DESCENT_ERR_INVALID_ARGUMENT (count < 0),
 * DESCENT_ERR_SHAPE (count differs from the shape's element count).
 */
descent_status descent_tensor_from_buffer(int32_t dtype, int64_t rank, const int64_t *shape,
                                          const void *data, int64_t count, descent_tensor *out);

/**
 * A tensor that WRAPS caller memory without copying (zero-copy): kernels and optimizer steps on
 * it read and write `data` directly. `count` is how many elements of `dtype` the buffer holds and
 * must be at least the shape's element count; `data` must be aligned to the element size.
 * Lifetime: the caller keeps the memory valid and unmoved until descent_tensor_free() on this
 * handle has returned; the library never frees it.
 * Extra statuses: DESCENT_ERR_NULL_POINTER (data NULL), DESCENT_ERR_BUFFER_TOO_SMALL,
 * DESCENT_ERR_INVALID_ARGUMENT (count < 0 or misaligned data).
 */
descent_status descent_tensor_wrap(int32_t dtype, int64_t rank, const int64_t *shape, void *data,
                                   int64_t count, descent_tensor *out);

/**
 * Random tensors from a seed, reproducible on every machine and thread count.
 *
 * The generator is SplitMix64 addressed by counter: output n (n = 0, 1, ...) for `seed` is
 *     z = seed + (n + 1) * 0x9E3779B97F4A7C15           (mod 2^64)
 *     z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
 *     z = (z ^ (z >> 27)) * 0x94D049BB133111EB
 *     output(n) = z ^ (z >> 31)
 * which is the sequential SplitMix64 stream started from state `seed`.
 *
 * uniform, element i (row-major index):
 *     float64: low + (high - low) * ((output(i) >> 11) * 2^-53)       in [low, high)
 *     float32: (float)(low + (high - low) * ((output(i) >> 40) * 2^-24)) (rounding may give high)
 * Extra statuses: DESCENT_ERR_NON_FINITE (non-finite bounds, or high - low overflowing to
 * infinity), DESCENT_ERR_INVALID_ARGUMENT (low > high).
 */
descent_status descent_tensor_random_uniform(int32_t dtype, int64_t rank, const int64_t *shape,
                                             uint64_t seed, double low, double high,
                                             descent_tensor *out);

/**
 * normal, element i: mean + std * sqrt(-2 ln u1) * cos(2 pi u2) computed in double and rounded
 * to dtype, where u1 = ((output(2i) >> 11) + 1) * 2^-53 and u2 = (output(2i+1) >> 11) * 2^-53
 * (Box-Muller, cosine branch; libm's log and cos).
 * Extra statuses: DESCENT_ERR_NON_FINITE (non-finite mean or std), DESCENT_ERR_INVALID_ARGUMENT
 * (std < 0).
 */
descent_status descent_tensor_random_normal(int32_t dtype, int64_t rank, const int64_t *shape,
                                            uint64_t seed, double mean, double std,
                                            descent_tensor *out);

/**
 * A new tensor owning a copy of `tensor`'s dtype, shape and contents (a clone of a wrapped
 * tensor owns its memory). Statuses: handle errors, DESCENT_ERR_NULL_POINTER, _OUT_OF_MEMORY.
 */
descent_status descent_tensor_clone(descent_tensor tensor, descent_tensor *out);

/**
 * Destroys a tensor and invalidates its handle (owned memory is released; wrapped memory is
 * left to its owner). A null or already-freed handle is a harmless no-op returning DESCENT_OK.
 * Statuses: DESCENT_OK, DESCENT_ERR_WRONG_HANDLE_TYPE (a live handle to something else; nothing
 * is freed).
 */
descent_status descent_tensor_free(descent_tensor tensor);

/** Writes the tensor's dtype (DESCENT_DTYPE_*) to *out. Statuses: handle errors, _NULL_POINTER. */
descent_status descent_tensor_dtype(descent_tensor tensor, int32_t *out);

/** Writes the tensor's rank to *out. Statuses: handle errors, _NULL_POINTER. */
descent_status descent_tensor_rank(descent_tensor tensor, int64_t *out);

/** Writes the tensor's element count to *out. Statuses: handle errors, _NULL_POINTER. */
descent_status descent_tensor_count(descent_tensor tensor, int64_t *out);

/**
 * Writes the tensor's `rank` extents to out[0 .. rank-1]; `capacity` is how many int64_t `out`
 * holds. `out` may be NULL when the rank is 0.
 * Statuses: handle errors, DESCENT_ERR_BUFFER_TOO_SMALL (capacity < rank), _NULL_POINTER,
 * _INVALID_ARGUMENT (capacity < 0).
 */
descent_status descent_tensor_shape(descent_tensor tensor, int64_t *out, int64_t capacity);

/**
 * Copies every element (row-major) into `out`, a buffer of `capacity` elements of `dtype`.
 * `dtype` must be the tensor's dtype (no conversion is done).
 * Statuses: handle errors, DESCENT_ERR_DTYPE, _BUFFER_TOO_SMALL, _NULL_POINTER, _INVALID_ARGUMENT.
 */
descent_status descent_tensor_copy_to(descent_tensor tensor, int32_t dtype, void *out,
                                      int64_t capacity);

/**
 * Overwrites every element from `data`, which holds exactly `count` elements of `dtype` (the
 * tensor's dtype and element count). The shape is unchanged.
 * Statuses: handle errors, DESCENT_ERR_DTYPE, DESCENT_ERR_SHAPE (count differs),
 * _NULL_POINTER, _INVALID_ARGUMENT (count < 0).
 */
descent_status descent_tensor_copy_from(descent_tensor tensor, int32_t dtype, const void *data,
                                        int64_t count);

/* ---------------------------------------------------------------------------------------------
 * Kernels. Operands of one call share a dtype and (except matmul) a shape: DESCENT_ERR_DTYPE or
 * DESCENT_ERR_SHAPE otherwise, with nothing modified. Outputs may be the same handle as inputs.
 * ------------------------------------------------------------------------------------------- */

/** out = a + b, elementwise. */
descent_status descent_tensor_add(descent_tensor a, descent_tensor b, descent_tensor out);

/** out = a - b, elementwise. */
descent_status descent_tensor_sub(descent_tensor a, descent_tensor b, descent_tensor out);

/** out = a * b, elementwise (Hadamard product). */
descent_status descent_tensor_mul(descent_tensor a, descent_tensor b, descent_tensor out);

/** x = alpha * x, in place (BLAS ?scal; alpha rounded to float for float32). */
descent_status descent_tensor_scale(descent_tensor x, double alpha);

/** y = alpha * x + y, in place (BLAS ?axpy; alpha rounded to float for float32). */
descent_status descent_tensor_axpy(double alpha, descent_tensor x, descent_tensor y);

/*
 * Reductions write a double to *out. They accumulate in double in a fixed order (eight
 * interleaved partial sums), so float32 inputs lose no precision in the sum and results are
 * bit-identical run to run. Statuses: handle errors, DESCENT_ERR_NULL_POINTER (out).
 */

/** Sum of all elements (0 for an empty tensor). */
descent_status descent_tensor_sum(descent_tensor x, double *out);

/** Mean of all elements (NaN for an empty tensor). */
descent_status descent_tensor_mean(descent_tensor x, double *out);

/** sqrt(sum x^2) over all elements; rescaled by max|x| if the plain sum overflows. */
descent_status descent_tensor_norm_l2(descent_tensor x, double *out);

/** max |x| over all elements (0 for an empty tensor, NaN if any element is NaN). */
descent_status descent_tensor_max_abs(descent_tensor x, double *out);

/** sum a*b over all elements of two same-shape tensors. Extra: DESCENT_ERR_DTYPE, _SHAPE. */
descent_status descent_tensor_dot(descent_tensor a, descent_tensor b, double *out);

/**
 * c = alpha * op(a) * op(b) + beta * c through BLAS ?gemm, for rank-2 tensors of one dtype, where
 * op(x) is x (trans == 0) or its transpose (trans != 0): op(a) is m x k, op(b) is k x n and c is
 * m x n. With beta == 0, c's previous contents are ignored (even NaN). c must not be a or b.
 * Statuses: handle errors, DESCENT_ERR_DTYPE, DESCENT_ERR_SHAPE (ranks or extents disagree),
 * DESCENT_ERR_INVALID_ARGUMENT (c aliases an operand), DESCENT_ERR_UNSUPPORTED (an extent above
 * 2^31 - 1).
 */
descent_status descent_tensor_matmul(descent_tensor a, descent_tensor b, int32_t trans_a,
                                     int32_t trans_b, double alpha, double beta, descent_tensor c);

/* ---------------------------------------------------------------------------------------------
 * Gradient descent
 * ------------------------------------------------------------------------------------------- */

/**
 * One vanilla gradient-descent step, in place:
 *     param := param - learning_rate * grad
 * `grad` has param's dtype and shape and is a different tensor; learning_rate is finite and >= 0.
 * Statuses: handle errors, DESCENT_ERR_DTYPE, DESCENT_ERR_SHAPE, DESCENT_ERR_INVALID_ARGUMENT
 * (bad learning rate, or grad is param). On failure param is unchanged.
 */
descent_status descent_gd_step(descent_tensor param, descent_tensor grad, double learning_rate);

/* ---------------------------------------------------------------------------------------------
 * Optimizers (update rules, stateful optimizers, checkpoints)
 * ------------------------------------------------------------------------------------------- */
/* @@optimizers@@ */

/*
 * Every rule below exists twice: as a STATELESS functional step over caller buffers
 * (descent_<rule>_step) and inside the STATEFUL optimizer handle (further down). The formula of
 * each rule is written once, here; defaults are PyTorch's torch.optim defaults (Lion: the paper's).
 *
 * Notation: W parameter, g gradient, t the step count (1 on the first update; bias corrections
 * and every per-step scalar are computed in double), lr learning rate, λ weight_decay.
 * Every rule first prepares the gradient:
 *     g := -g                  if DESCENT_OPT_MAXIMIZE
 *     g := g + λ W             weight decay as L2 in the gradient (default when λ > 0)
 *     W := W (1 - lr λ)        with DESCENT_OPT_DECOUPLED_WEIGHT_DECAY (AdamW style), before the update
 *
 * Functional steps share these arguments and rules:
 *   dtype      DESCENT_DTYPE_FLOAT32 or _FLOAT64: every buffer holds `count` elements of it.
 *   param      updated in place; grad is read only; state buffers (named per rule) updated in place.
 *              Buffers must not overlap one another and must be aligned to the element size. Two
 *              buffers starting at the same address are rejected; a partial overlap is NOT
 *              detected (the results are then undefined).
 *              State buffers start at 0 unless the rule says otherwise; a state buffer the rule
 *              does not need under the given settings may be NULL (each rule says which).
 *   step       t of this update, >= 1 (keep your own counter: 1, 2, 3, ...).
 *   flags      a bitwise OR of DESCENT_OPT_* below; a flag the rule does not list is an error.
 * Large buffers are split over cores (elementwise, so results are bit-identical whatever the
 * thread count). No buffer memory is allocated (only small bookkeeping
 * for the worker threads of large calls).
 * Statuses: DESCENT_OK; DESCENT_ERR_DTYPE (unknown dtype); DESCENT_ERR_NULL_POINTER (param, grad
 * or a needed state buffer NULL); DESCENT_ERR_INVALID_ARGUMENT (count < 0, step < 1, two buffers
 * at the same address, misaligned buffers, a hyper-parameter outside its domain such as lr < 0 or
 * beta >= 1, unknown or conflicting flags); DESCENT_ERR_NON_FINITE (a non-finite hyper-parameter or step size, or
 * a non-finite gradient with DESCENT_OPT_CHECK_FINITE). On failure no buffer was written.
 */

/* Flags (int32_t bitmask) of the update rules. */
enum {
    DESCENT_OPT_MAXIMIZE = 1,                /* ascend: g := -g first (all rules) */
    DESCENT_OPT_DECOUPLED_WEIGHT_DECAY = 2,  /* W := W(1 - lr λ) instead of g += λW (all rules; implied by AdamW) */
    DESCENT_OPT_EPS_INSIDE_SQRT = 4,         /* sqrt(v + ε) instead of sqrt(v) + ε (Adagrad, RMSprop, Adam, AdamW) */
    DESCENT_OPT_NO_BIAS_CORRECTION = 8,      /* drop the 1 - β^t corrections (Adam, AdamW, Adamax) */
    DESCENT_OPT_NESTEROV = 16,               /* SGD: Nesterov momentum (needs momentum > 0, dampening 0) */
    DESCENT_OPT_AMSGRAD = 32,                /* Adam, AdamW: AMSGrad */
    DESCENT_OPT_CENTERED = 64,               /* RMSprop: centered */
    DESCENT_OPT_EMA_MOMENTUM = 128,          /* SGD: deeplearning.ai's v := μv + (1-μ)g; W := W - lr v */
    DESCENT_OPT_CS231N_MOMENTUM = 256,       /* SGD: cs231n v := μv - lr g; W := W + v */
    DESCENT_OPT_CHECK_FINITE = 512           /* functional steps: DESCENT_ERR_NON_FINITE, nothing written,
                                                if grad holds NaN/inf (the stateful optimizer uses its
                                                non-finite policy instead) */
};

/**
 * SGD (torch.optim.SGD; defaults lr 1e-3, momentum 0, dampening 0, weight_decay 0):
 *     μ = 0:              W := W - lr g                          (momentum_buffer unused, may be NULL)
 *     PyTorch momentum:   b := g if t == 1, else b := μ b + (1 - τ) g      (τ = dampening)
 *                         d := g + μ b with DESCENT_OPT_NESTEROV, else d := b;   W := W - lr d
 *     DESCENT_OPT_EMA_MOMENTUM:     v := μ v + (1 - μ) g;  W := W - lr v   (dampening ignored)
 *     DESCENT_OPT_CS231N_MOMENTUM:  v := μ v - lr g;       W := W + v
 * Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY, NESTEROV, EMA_MOMENTUM, CS231N_MOMENTUM (these three
 * exclusive), CHECK_FINITE. Domains: lr, momentum, weight_decay >= 0; dampening in [0, 1].
 */
descent_status descent_sgd_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                void *momentum_buffer, int64_t step, double lr, double momentum,
                                double dampening, double weight_decay, int32_t flags);

/**
 * Adagrad (torch.optim.Adagrad; defaults lr 1e-2, lr_decay 0, weight_decay 0, eps 1e-10):
 *     clr := lr / (1 + (t - 1) lr_decay)
 *     s   := s + g²                         (s = `sum`; start it at initial_accumulator_value)
 *     W   := W - clr g / (sqrt(s) + ε)      (EPS_INSIDE_SQRT: / sqrt(s + ε))
 * Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY, EPS_INSIDE_SQRT, CHECK_FINITE. All values >= 0.
 */
descent_status descent_adagrad_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                    void *sum, int64_t step, double lr, double lr_decay,
                                    double weight_decay, double eps, int32_t flags);

/**
 * Adadelta (torch.optim.Adadelta; defaults lr 1.0, rho 0.9, eps 1e-6, weight_decay 0):
 *     v := ρ v + (1 - ρ) g²                               (v = square_avg)
 *     Δ := sqrt(u + ε) / sqrt(v + ε) · g                  (u = acc_delta)
 *     u := ρ u + (1 - ρ) Δ²;     W := W - lr Δ
 * Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY, CHECK_FINITE. rho in [0, 1]; others >= 0.
 */
descent_status descent_adadelta_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                     void *square_avg, void *acc_delta, int64_t step, double lr,
                                     double rho, double eps, double weight_decay, int32_t flags);

/**
 * RMSprop (torch.optim.RMSprop; defaults lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0):
 *     v := α v + (1 - α) g²                               (v = square_avg)
 *     CENTERED:  ḡ := α ḡ + (1 - α) g;  d := sqrt(v - ḡ²) + ε     (ḡ = grad_avg)
 *     else:      d := sqrt(v) + ε                     (EPS_INSIDE_SQRT: sqrt(v [- ḡ²] + ε))
 *     μ > 0:     b := μ b + g / d;  W := W - lr b     (b = momentum_buffer)
 *     μ = 0:     W := W - lr g / d
 * grad_avg may be NULL without CENTERED; momentum_buffer may be NULL when momentum == 0.
 * Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY, EPS_INSIDE_SQRT, CENTERED, CHECK_FINITE. All values >= 0.
 */
descent_status descent_rmsprop_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                    void *square_avg, void *grad_avg, void *momentum_buffer,
                                    int64_t step, double lr, double alpha, double eps,
                                    double weight_decay, double momentum, int32_t flags);

/**
 * Adam (torch.optim.Adam; defaults lr 1e-3, betas 0.9 / 0.999, eps 1e-8, weight_decay 0):
 *     m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²       (m = exp_avg, v = exp_avg_sq)
 *     AMSGRAD:  v̂ := max(v̂, v) and v̂ replaces v below          (v̂ = max_exp_avg_sq)
 *     c1 := 1 - β1^t,  c2 := 1 - β2^t      (both 1 with NO_BIAS_CORRECTION)
 *     W := W - (lr / c1) m / (sqrt(v) / sqrt(c2) + ε)          (EPS_INSIDE_SQRT: / sqrt(v / c2 + ε))
 * max_exp_avg_sq may be NULL without AMSGRAD (Kingma & Ba 2015; AMSGrad: Reddi et al. 2018;
 * AdamW: Loshchilov & Hutter 2019; sources in docs/references.md). Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY, EPS_INSIDE_SQRT, NO_BIAS_CORRECTION, AMSGRAD,
 * CHECK_FINITE. betas in [0, 1); lr, eps, weight_decay >= 0.
 */
descent_status descent_adam_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                 void *exp_avg, void *exp_avg_sq, void *max_exp_avg_sq, int64_t step,
                                 double lr, double beta1, double beta2, double eps,
                                 double weight_decay, int32_t flags);

/**
 * AdamW (torch.optim.AdamW; defaults as Adam but weight_decay 1e-2): Adam with decoupled weight
 * decay W := W (1 - lr λ) before the update (DESCENT_OPT_DECOUPLED_WEIGHT_DECAY is implied).
 * Arguments, flags and statuses as descent_adam_step.
 */
descent_status descent_adamw_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                  void *exp_avg, void *exp_avg_sq, void *max_exp_avg_sq, int64_t step,
                                  double lr, double beta1, double beta2, double eps,
                                  double weight_decay, int32_t flags);

/**
 * Adamax (torch.optim.Adamax; defaults lr 2e-3, betas 0.9 / 0.999, eps 1e-8, weight_decay 0):
 *     m := β1 m + (1 - β1) g;   u := max(β2 u, |g| + ε)       (m = exp_avg, u = exp_inf)
 *     W := W - (lr / (1 - β1^t)) m / u                        (lr m / u with NO_BIAS_CORRECTION)
 * Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY, NO_BIAS_CORRECTION, CHECK_FINITE.
 */
descent_status descent_adamax_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                   void *exp_avg, void *exp_inf, int64_t step, double lr,
                                   double beta1, double beta2, double eps, double weight_decay,
                                   int32_t flags);

/**
 * NAdam (torch.optim.NAdam; defaults lr 2e-3, betas 0.9 / 0.999, eps 1e-8, weight_decay 0,
 * momentum_decay ψ 4e-3):
 *     μ_t := β1 (1 - ½ 0.96^(t ψ)),   μ_{t+1} := β1 (1 - ½ 0.96^((t+1) ψ))
 *     Π_t := Π_{t-1} μ_t              (*mu_product: in/out, start it at 1.0; written on success)
 *     m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²;   d := sqrt(v / (1 - β2^t)) + ε
 *     W := W - lr (1 - μ_t) / (1 - Π_t) · g / d - lr μ_{t+1} / (1 - Π_t μ_{t+1}) · m / d
 * *mu_product must be in (0, 1]: DESCENT_ERR_NULL_POINTER when mu_product is NULL,
 * DESCENT_ERR_INVALID_ARGUMENT when *mu_product is outside (0, 1] or NaN. Flags: MAXIMIZE,
 * DECOUPLED_WEIGHT_DECAY (PyTorch's decoupled_weight_decay), CHECK_FINITE.
 */
descent_status descent_nadam_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                  void *exp_avg, void *exp_avg_sq, double *mu_product, int64_t step,
                                  double lr, double beta1, double beta2, double eps,
                                  double weight_decay, double momentum_decay, int32_t flags);

/**
 * RAdam (torch.optim.RAdam; defaults lr 1e-3, betas 0.9 / 0.999, eps 1e-8, weight_decay 0):
 *     m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²;   c1 := 1 - β1^t, c2 := 1 - β2^t
 *     ρ∞ := 2 / (1 - β2) - 1;   ρ_t := ρ∞ - 2 t β2^t / c2
 *     ρ_t > 5:  r := sqrt((ρ_t - 4)(ρ_t - 2) ρ∞ / ((ρ∞ - 4)(ρ∞ - 2) ρ_t))
 *               W := W - (lr r sqrt(c2) / c1) m / (sqrt(v) + ε)
 *     else:     W := W - (lr / c1) m
 * Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY (PyTorch's decoupled_weight_decay), CHECK_FINITE.
 */
descent_status descent_radam_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                  void *exp_avg, void *exp_avg_sq, int64_t step, double lr,
                                  double beta1, double beta2, double eps, double weight_decay,
                                  int32_t flags);

/**
 * Lion (Chen et al. 2023; defaults lr 1e-4, betas 0.9 / 0.99, weight_decay 0, decoupled):
 *     c := β1 m + (1 - β1) g;   W := W - lr sign(c);   m := β2 m + (1 - β2) g    (sign(0) = 0, sign(NaN) = NaN)
 * Pass DESCENT_OPT_DECOUPLED_WEIGHT_DECAY for the paper's weight decay. Flags: MAXIMIZE,
 * DECOUPLED_WEIGHT_DECAY, CHECK_FINITE.
 */
descent_status descent_lion_step(int32_t dtype, int64_t count, void *param, const void *grad,
                                 void *exp_avg, int64_t step, double lr, double beta1, double beta2,
                                 double weight_decay, int32_t flags);

/* ---- Stateful optimizers ------------------------------------------------------------------- */

/**
 * Handle to a stateful optimizer: one update rule, parameter groups (each with its own
 * hyper-parameters), per-parameter state tensors, one step count t, bound gradient tensors and
 * a non-finite-gradient policy. 0 is the null handle.
 *
 * Typical use (the hot path converts nothing per step):
 *     descent_optimizer_new(DESCENT_RULE_ADAM, &opt);
 *     descent_optimizer_add_group(opt, params, n, NULL);       // tensors, e.g. descent_tensor_wrap'd
 *     descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_LR, 1e-3);
 *     descent_optimizer_set_grads(opt, grads, n);              // bound once
 *     loop { fill the grad tensors' memory in place; descent_optimizer_step(opt, NULL); }
 *
 * The optimizer holds references to every param, grad and state tensor: freeing their handles
 * does not free them while the optimizer lives (wrapped memory must stay valid until
 * descent_optimizer_free). Calls on one optimizer are serialized by an internal lock.
 */
typedef uint64_t descent_optimizer;

/* Update rules (descent_optimizer_new). */
enum {
    DESCENT_RULE_SGD = 1,
    DESCENT_RULE_ADAGRAD = 2,
    DESCENT_RULE_ADADELTA = 3,
    DESCENT_RULE_RMSPROP = 4,
    DESCENT_RULE_ADAM = 5,
    DESCENT_RULE_ADAMW = 6,
    DESCENT_RULE_ADAMAX = 7,
    DESCENT_RULE_NADAM = 8,
    DESCENT_RULE_RADAM = 9,
    DESCENT_RULE_LION = 10
};

/*
 * Hyper-parameter keys (descent_optimizer_set_hyper / _get_hyper). A rule accepts the keys its
 * functional step takes, plus FLAGS (the DESCENT_OPT_* bits as a double holding an integer) and,
 * for Adagrad, INITIAL_ACCUMULATOR_VALUE (the value `sum` starts from when allocated).
 *   SGD: LR MOMENTUM DAMPENING WEIGHT_DECAY      Adagrad: LR LR_DECAY WEIGHT_DECAY
 *   INITIAL_ACCUMULATOR_VALUE EPS                Adadelta: LR RHO EPS WEIGHT_DECAY
 *   RMSprop: LR ALPHA EPS WEIGHT_DECAY MOMENTUM  Adam, AdamW, Adamax, RAdam: LR BETA1 BETA2 EPS
 *   WEIGHT_DECAY     NAdam: those and MOMENTUM_DECAY      Lion: LR BETA1 BETA2 WEIGHT_DECAY
 */
enum {
    DESCENT_HYPER_LR = 1,
    DESCENT_HYPER_MOMENTUM = 2,
    DESCENT_HYPER_DAMPENING = 3,
    DESCENT_HYPER_BETA1 = 4,
    DESCENT_HYPER_BETA2 = 5,
    DESCENT_HYPER_ALPHA = 6,
    DESCENT_HYPER_RHO = 7,
    DESCENT_HYPER_EPS = 8,
    DESCENT_HYPER_WEIGHT_DECAY = 9,
    DESCENT_HYPER_LR_DECAY = 10,
    DESCENT_HYPER_INITIAL_ACCUMULATOR_VALUE = 11,
    DESCENT_HYPER_MOMENTUM_DECAY = 12,
    DESCENT_HYPER_FLAGS = 13
};

/* Non-finite gradient policies (descent_optimizer_set_nonfinite_policy). */
enum {
    DESCENT_NONFINITE_RAISE = 0,   /* default: step fails with DESCENT_ERR_NON_FINITE, nothing changes */
    DESCENT_NONFINITE_SKIP = 1,    /* step returns DESCENT_OK, *skipped = 1, nothing changes (t too) */
    DESCENT_NONFINITE_PROCEED = 2  /* no check: the update runs (NaN spreads to the param, every rule) */
};

/*
 * State slots per rule (descent_optimizer_state_*), in the functional steps' argument order:
 *   SGD 0 momentum_buffer | Adagrad 0 sum | Adadelta 0 square_avg, 1 acc_delta |
 *   RMSprop 0 square_avg, 1 grad_avg, 2 momentum_buffer | Adam, AdamW 0 exp_avg, 1 exp_avg_sq,
 *   2 max_exp_avg_sq | Adamax 0 exp_avg, 1 exp_inf | NAdam, RAdam 0 exp_avg, 1 exp_avg_sq |
 *   Lion 0 exp_avg.
 * A slot is allocated (with the param's dtype and shape) when the settings first need it:
 * at add_group or at set_hyper, never inside step.
 */

/**
 * A new optimizer for `rule` (DESCENT_RULE_*) with PyTorch's defaults and no groups; free it with
 * descent_optimizer_free. Statuses: DESCENT_ERR_NULL_POINTER (out), _INVALID_ARGUMENT (rule),
 * _OUT_OF_MEMORY (the handle table is full).
 */
descent_status descent_optimizer_new(int32_t rule, descent_optimizer *out);

/**
 * Destroys the optimizer (releasing its references to params, grads and state). A null or
 * already-freed handle is a harmless no-op. Statuses: DESCENT_OK, _WRONG_HANDLE_TYPE.
 */
descent_status descent_optimizer_free(descent_optimizer optimizer);

/**
 * Adds a parameter group: `count` tensor handles (any mix of float32/float64) whose memory
 * overlaps neither one another nor a param already registered (the same tensor twice, or two
 * wraps of one buffer, is an error); they take the optimizer's current defaults (group -1 of
 * set_hyper).
 * Their state slots are allocated now. Writes the new group's index to *group_out (NULL allowed).
 * Binding of gradients is dropped (call descent_optimizer_set_grads again).
 * Statuses: handle errors (optimizer or any param), DESCENT_ERR_NULL_POINTER (params NULL with
 * count > 0), _INVALID_ARGUMENT (count < 0, overlapping params), _OUT_OF_MEMORY. On failure
 * nothing changed.
 */
descent_status descent_optimizer_add_group(descent_optimizer optimizer, const descent_tensor *params,
                                           int64_t count, int64_t *group_out);

/**
 * Sets hyper-parameter `key` (DESCENT_HYPER_*) of group `group`, or of the defaults for groups
 * added later when group == -1. It takes effect on the next step (a learning-rate schedule calls
 * this between steps). State slots the new setting needs (e.g. AMSGRAD's max_exp_avg_sq) are
 * allocated now, filled with their initial value.
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (no such group, an unknown key or one the
 * rule does not have, a value outside its domain such as lr < 0, bad flags: FLAGS must hold a
 * non-negative integer, so a NaN or infinite FLAGS value is this status too), _NON_FINITE (a NaN
 * or infinite value for any other key), _OUT_OF_MEMORY. On failure nothing changed (the slots a
 * setting needs are allocated all at once, or none are).
 */
descent_status descent_optimizer_set_hyper(descent_optimizer optimizer, int64_t group, int32_t key,
                                           double value);

/**
 * Reads hyper-parameter `key` of `group` (-1: the defaults) into *out. Statuses: handle errors,
 * DESCENT_ERR_INVALID_ARGUMENT (no such group, an unknown key or one the rule does not have),
 * _NULL_POINTER.
 */
descent_status descent_optimizer_get_hyper(descent_optimizer optimizer, int64_t group, int32_t key,
                                           double *out);

/**
 * Binds one gradient tensor per registered param, in registration order (group by group), each
 * with its param's dtype and shape. The optimizer keeps them; fill their memory in place between
 * steps. Binding again replaces the set.
 * Statuses: handle errors, DESCENT_ERR_NULL_POINTER (grads NULL with count > 0),
 * DESCENT_ERR_SHAPE (count differs from the number of params, or a shape differs), _DTYPE,
 * _INVALID_ARGUMENT (count < 0, or a grad is, or shares memory with, any registered param or
 * state tensor), _OUT_OF_MEMORY. On failure the previous binding stays.
 */
descent_status descent_optimizer_set_grads(descent_optimizer optimizer, const descent_tensor *grads,
                                           int64_t count);

/**
 * One update of every param of every group, in ONE call, with t = step_count + 1 and each group's
 * hyper-parameters. Gradients are first checked for NaN/inf unless the policy is PROCEED.
 * Writes 1 to *skipped (NULL allowed) when the SKIP policy skipped the step, else 0.
 * Large work is split over cores across tensor boundaries; results are bit-identical whatever
 * the thread count. No tensor memory is allocated (state slots exist before the step).
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (no gradients bound, or the step count is
 * already INT64_MAX), _NON_FINITE (non-finite gradient under RAISE, or a non-finite step size). On failure (and on a skipped
 * step) params, state and the step count are unchanged.
 */
descent_status descent_optimizer_step(descent_optimizer optimizer, int32_t *skipped);

/** Sets the non-finite policy (DESCENT_NONFINITE_*). Statuses: handle errors, _INVALID_ARGUMENT. */
descent_status descent_optimizer_set_nonfinite_policy(descent_optimizer optimizer, int32_t policy);

/** Reads the non-finite policy into *out. Statuses: handle errors, _NULL_POINTER. */
descent_status descent_optimizer_nonfinite_policy(descent_optimizer optimizer, int32_t *out);

/** Reads the step count (updates applied so far) into *out. Statuses: handle errors, _NULL_POINTER. */
descent_status descent_optimizer_step_count(descent_optimizer optimizer, int64_t *out);

/** Sets the step count (>= 0); the next update uses t = count + 1. Statuses: handle errors, _INVALID_ARGUMENT. */
descent_status descent_optimizer_set_step_count(descent_optimizer optimizer, int64_t count);

/** NAdam's running product Π of group `group` (1 for other rules) into *out. Statuses: handle errors, _INVALID_ARGUMENT, _NULL_POINTER. */
descent_status descent_optimizer_mu_product(descent_optimizer optimizer, int64_t group, double *out);

/** Sets group `group`'s Π, in (0, 1]. Statuses: handle errors, _INVALID_ARGUMENT. */
descent_status descent_optimizer_set_mu_product(descent_optimizer optimizer, int64_t group, double value);

/** Writes the rule, number of groups and number of params (each pointer may be NULL). Statuses: handle errors. */
descent_status descent_optimizer_counts(descent_optimizer optimizer, int32_t *rule, int64_t *groups,
                                        int64_t *params);

/** Writes 1 to *out if state slot `slot` of param `param` is allocated, else 0. Statuses: handle errors, _INVALID_ARGUMENT (no such param or slot), _NULL_POINTER. */
descent_status descent_optimizer_state_present(descent_optimizer optimizer, int64_t param, int32_t slot,
                                               int32_t *out);

/**
 * Copies state slot `slot` of param `param` (index in registration order) into `out`, a buffer of
 * `capacity` elements of `dtype` (the param's dtype). Statuses: handle errors,
 * DESCENT_ERR_INVALID_ARGUMENT (no such param/slot, or the slot is not allocated), _DTYPE,
 * _BUFFER_TOO_SMALL, _NULL_POINTER.
 */
descent_status descent_optimizer_state_get(descent_optimizer optimizer, int64_t param, int32_t slot,
                                           int32_t dtype, void *out, int64_t capacity);

/**
 * Overwrites state slot `slot` of param `param` from `count` elements of `dtype` (exactly the
 * param's dtype and element count), allocating the slot if needed. Statuses: handle errors,
 * DESCENT_ERR_INVALID_ARGUMENT, _DTYPE, _SHAPE (count differs), _NULL_POINTER, _OUT_OF_MEMORY.
 */
descent_status descent_optimizer_state_set(descent_optimizer optimizer, int64_t param, int32_t slot,
                                           int32_t dtype, const void *data, int64_t count);

/*
 * Compact optimizer state (docs/optimizers.md, "Compact state"). By default every state slot has
 * the param's dtype (4 or 8 bytes per element). Before the first step an optimizer over float32
 * params can keep its state in bfloat16 (2 bytes; every stateful rule) or, for the Adam family,
 * in 8-bit blockwise-quantized form (~1 byte: per block of 256 elements one float32 scale and one
 * code per element of a dynamic floating-point map, signed for the first moment, unsigned for the
 * second; Dettmers et al. 2022, "8-bit Optimizers via Block-wise Quantization"). Arithmetic stays
 * float32; each state element is decoded when read and rounded when stored. Results are
 * bit-identical on every instruction-set path and for every thread count, stochastic rounding
 * included (its random bits are a counter-based hash of seed, step, param index, slot and element
 * index). descent_optimizer_state_get returns the decoded float32 values; state_set rounds the
 * values it gets to the format; checkpoints store the compact bytes (format version 2);
 * descent_optimizer_sizes reports the bytes the state takes (count x 2 per bfloat16 slot,
 * count + 4 x ceil(count / 256) per 8-bit slot). A shard (descent_optimizer_shard) keeps the
 * format, its slots rounded again from the range's values.
 */
enum {
    DESCENT_STATE_FULL = 0,           /* the param's dtype (default) */
    DESCENT_STATE_BFLOAT16 = 1,       /* bfloat16: SGD momentum, Adagrad, Adadelta, RMSprop, the Adam family, Lion */
    DESCENT_STATE_INT8_BLOCKWISE = 2  /* 8-bit blockwise: Adam, AdamW (without AMSGrad), Adamax, NAdam, RAdam */
};
enum {
    DESCENT_ROUND_NEAREST_EVEN = 0,   /* round to nearest, ties to even (the only rounding of INT8_BLOCKWISE) */
    DESCENT_ROUND_STOCHASTIC = 1      /* BFLOAT16 only: stochastic rounding from `seed` */
};

/**
 * Chooses how the optimizer stores its state: `format` (DESCENT_STATE_*), `rounding`
 * (DESCENT_ROUND_*, for bfloat16) and `seed` (stochastic rounding's stream; ignored otherwise).
 * Allowed while the step count is 0 (before the first step, or after descent_optimizer_reset or
 * set_step_count(0)). State already allocated is converted (rounded to the new format); params
 * added later get state in this format. Changing it back to DESCENT_STATE_FULL is allowed too.
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (unknown format or rounding, a step
 * already taken, INT8_BLOCKWISE for a rule outside the Adam family, with STOCHASTIC rounding, or
 * with AMSGrad set in the defaults or a group), DESCENT_ERR_DTYPE (a compact format with a
 * float64 param), _OUT_OF_MEMORY. On failure nothing changed. While the format is compact,
 * add_group rejects float64 params (_DTYPE) and, under INT8_BLOCKWISE, set_hyper rejects flags
 * turning AMSGrad on (_INVALID_ARGUMENT).
 */
descent_status descent_optimizer_set_state_format(descent_optimizer optimizer, int32_t format, int32_t rounding,
                                                  uint64_t seed);

/**
 * Reads the state format, rounding and seed (each pointer may be NULL; the seed reads 0 and the
 * rounding NEAREST_EVEN unless the format is bfloat16). Statuses: handle errors.
 */
descent_status descent_optimizer_state_format(descent_optimizer optimizer, int32_t *format, int32_t *rounding,
                                              uint64_t *seed);

/*
 * Checkpoints. File format version 1 (all integers and floats little-endian; docs/optimizers.md
 * has the same table):
 *   header, 32 bytes:  "DSCNTOPT" magic (8) | u32 version = 1 | u32 flags (bit 0: param values
 *                      included) | u64 payload length | u64 FNV-1a-64 of the payload
 *                      (basis 0xcbf29ce484222325, prime 0x100000001b3, byte by byte)
 *   payload:           i32 rule | i32 non-finite policy | i64 step count | [version 2 only:
 *                      i32 state format | i32 rounding | u64 seed] | u32 K (13) |
 *                      defaults: K x (i32 DESCENT_HYPER_* key, f64 value) | i64 groups G |
 *                      G x [K x (i32 key, f64 value), f64 mu_product, i64 params in group] |
 *                      i64 params P | P x [i64 group, i32 dtype, i32 rank, rank x i64 extent,
 *                      u32 slot mask, each stored slot's elements, (param elements if flag bit 0)]
 * Version 2 (written only when the state format is not DESCENT_STATE_FULL) stores each slot in its
 * format: bfloat16 as count x u16; 8-bit blockwise as count x u8 codes then ceil(count / 256) x f32
 * scales. Both versions load; loading adopts the file's state format (version 1: full).
 */

/**
 * Saves the optimizer's complete state (rule, policy, step count, default and per-group
 * hyper-parameters, NAdam's Π, every allocated state buffer and, with include_params != 0, the
 * parameter values) to the file `path` (a NUL-terminated UTF-8 path). Written atomically: to
 * a temporary file "<path>.tmp-<pid>-<16 hex digits>" that no other save uses, fsync'ed, then
 * renamed over `path` and the directory fsync'ed; an existing file is replaced only when the new
 * one is complete, so `path` always holds the old or a new complete checkpoint, also when saves
 * of different optimizers to the same path run concurrently in threads or processes (each
 * succeeds; the last rename wins). The save holds an exclusive flock() on its temporary file until
 * the rename: a save killed half-way leaves at most that one file, and every save first removes
 * the temporary files of `path` left by saves that are over (unlocked, and their process gone or
 * untouched for a minute), never one of a save still running.
 * Statuses: handle errors, DESCENT_ERR_NULL_POINTER (path), DESCENT_ERR_INVALID_ARGUMENT (empty
 * path, or a path that is not valid UTF-8), DESCENT_ERR_IO (cannot create/write/rename; the
 * temporary file is removed), DESCENT_ERR_OUT_OF_MEMORY (the buffers are allocated before any
 * file is created: nothing is left on disk), DESCENT_ERR_UNSUPPORTED (big-endian host). The
 * optimizer is never modified.
 */
descent_status descent_optimizer_save(descent_optimizer optimizer, const char *path, int32_t include_params);

/**
 * Loads a checkpoint written by descent_optimizer_save into an optimizer with the same rule,
 * group sizes, param dtypes and shapes (params are matched by registration order). Replaces
 * hyper-parameters, step count, policy, Π and state buffers, and the param values when the file
 * has them. Bound gradients are kept.
 * Statuses: handle errors, DESCENT_ERR_NULL_POINTER, DESCENT_ERR_IO (cannot open/read),
 * DESCENT_ERR_CORRUPT (bad magic, unknown version, truncated or extended file, checksum mismatch,
 * invalid stored values, a param lacking a state slot its stored settings need), DESCENT_ERR_INVALID_ARGUMENT (a path that is not valid UTF-8, another
 * rule, or group/param counts differ), DESCENT_ERR_SHAPE (a param's dtype or shape differs), DESCENT_ERR_OUT_OF_MEMORY
 * (the file is read into one checked allocation, the new state into checked allocations).
 * On failure the optimizer (and every param) is unchanged.
 */
descent_status descent_optimizer_load(descent_optimizer optimizer, const char *path);

/* ---------------------------------------------------------------------------------------------
 * Learning-rate schedules and gradient clipping
 * ------------------------------------------------------------------------------------------- */
/* @@schedules@@ */
/*
 * A learning-rate schedule is an immutable object: a pure function from a step index t to a
 * learning rate. descent_schedule_value(s, t, &lr) may be called for any t, in any order, from
 * any thread, any number of times; it never changes the schedule.
 *
 * What t means. t counts COMPLETED steps (or epochs: the caller decides what one unit is), like
 * PyTorch's `last_epoch`: t = 0 is the rate for the first update, and for every decaying schedule
 * value(0) is its initial rate. Where PyTorch has the schedule, value(t) equals PyTorch's
 * closed form at last_epoch = t (the formulas below). The learning-rate decay of the
 * deeplearning.ai course notes, lr0 / (1 + decay_rate * epoch), reads as value(epoch): with
 * lr0 = 0.2 and decay_rate = 1, value(1..4) = 0.1, 0.0667, 0.05, 0.04.
 *
 * Driving an optimizer. Schedules do not own or touch optimizers. Per step (or per epoch):
 *
 *     descent_schedule s;
 *     descent_schedule_new_cosine(0.1, 1000, 0.0, &s);
 *     for (int64_t t = 0; t < 1000; t++) {
 *         double lr;
 *         descent_schedule_value(s, t, &lr);     // rate for this update
 *         ... set the optimizer's learning rate to lr (or pass lr to descent_gd_step) ...
 *         ... compute gradients, take the step ...
 *     }
 *     descent_schedule_free(s);
 *
 * Common rules for every descent_schedule_new_* below. Learning rates (lr0, eta_min, end_lr,
 * max_lr, piecewise values) must be finite and >= 0; step counts (step_size, t_max, t_0,
 * total_iters, total_steps) must be >= 1. The new handle is written to *out, to be freed with
 * descent_schedule_free(). Statuses: DESCENT_OK; DESCENT_ERR_NULL_POINTER (out, or a required
 * array, is NULL); DESCENT_ERR_INVALID_ARGUMENT (any value outside its domain, the message names
 * it); DESCENT_ERR_OUT_OF_MEMORY. On failure *out is not written and nothing is created.
 */

/** Handle to a learning-rate schedule. 0 is the null handle. */
typedef uint64_t descent_schedule;

/** Constant ("manual setting"): lr(t) = lr. */
descent_status descent_schedule_new_constant(double lr, descent_schedule *out);

/** Epoch decay (deeplearning.ai notes; cs231n's 1/t decay): lr(t) = lr0 / (1 + decay_rate * t).
 *  decay_rate finite, >= 0. */
descent_status descent_schedule_new_inverse_time(double lr0, double decay_rate, descent_schedule *out);

/** Exponential decay (PyTorch ExponentialLR; deeplearning.ai's 0.95^t): lr(t) = lr0 * gamma^t.
 *  gamma finite, >= 0. */
descent_status descent_schedule_new_exponential(double lr0, double gamma, descent_schedule *out);

/**
 * Inverse power decay: lr(t) = lr0 * k / (t + offset)^power.
 * power = 0.5 is deeplearning.ai's k / sqrt(epoch) * lr0 (per epoch) and k / sqrt(t) * lr0 (per
 * minibatch step); power = 1 is k / epoch. offset > 0 keeps t = 0 defined; offset = 1 maps the
 * 0-based t onto the 1-based epoch number. k, power finite, >= 0; offset finite, > 0.
 */
descent_status descent_schedule_new_inverse_power(double lr0, double k, double power, double offset,
                                                  descent_schedule *out);

/** Staircase (step) decay, PyTorch StepLR: lr(t) = lr0 * gamma^floor(t / step_size).
 *  step_size >= 1; gamma finite, >= 0. */
descent_status descent_schedule_new_step(double lr0, int64_t step_size, double gamma,
                                         descent_schedule *out);

/**
 * Multi-step decay, PyTorch MultiStepLR: lr(t) = lr0 * gamma^(number of milestones m <= t).
 * `milestones` holds `count` steps >= 0 in any order (they are copied and sorted; a repeated
 * milestone applies gamma again, as in PyTorch). `milestones` may be NULL when count == 0.
 * Extra: DESCENT_ERR_INVALID_ARGUMENT for count < 0 or a negative milestone.
 */
descent_status descent_schedule_new_multi_step(double lr0, const int64_t *milestones, int64_t count,
                                               double gamma, descent_schedule *out);

/**
 * Piecewise constant ("manual" decay by hand-picked rates): lr(t) = values[i], where i is the
 * number of boundaries <= t (so boundary b is the first step of the next value).
 * `boundaries` holds `boundary_count` strictly increasing steps >= 1 (NULL allowed when 0);
 * `values` holds boundary_count + 1 rates. Both are copied.
 */
descent_status descent_schedule_new_piecewise_constant(const int64_t *boundaries, int64_t boundary_count,
                                                       const double *values, descent_schedule *out);

/**
 * Cosine annealing, PyTorch CosineAnnealingLR's closed form:
 *     lr(t) = eta_min + (lr0 - eta_min) * (1 + cos(pi * t / t_max)) / 2
 * lr(0) = lr0, lr(t_max) = eta_min; past t_max the cosine continues (rising), as in PyTorch.
 */
descent_status descent_schedule_new_cosine(double lr0, int64_t t_max, double eta_min,
                                           descent_schedule *out);

/**
 * Cosine annealing with warm restarts (SGDR; PyTorch CosineAnnealingWarmRestarts): cycle i lasts
 * T_i = t_0 * t_mult^i steps and the cycles tile t = 0, 1, ...; at position T_cur inside its cycle
 *     lr(t) = eta_min + (lr0 - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2
 * so lr jumps back to lr0 at every restart (t = t_0, t_0 + t_0*t_mult, ...). Cycle boundaries are
 * computed in exact integer arithmetic. t_0 >= 1; t_mult >= 1 (integer).
 */
descent_status descent_schedule_new_cosine_warm_restarts(double lr0, int64_t t_0, int64_t t_mult,
                                                         double eta_min, descent_schedule *out);

/**
 * Linear ramp, PyTorch LinearLR (linear warmup when start_factor < end_factor = 1):
 *     lr(t) = lr0 * (start_factor + (end_factor - start_factor) * min(t, total_iters) / total_iters)
 * start_factor, end_factor finite, >= 0 (PyTorch's defaults: 1/3, 1, total_iters 5).
 */
descent_status descent_schedule_new_linear(double lr0, double start_factor, double end_factor,
                                           int64_t total_iters, descent_schedule *out);

/**
 * Polynomial decay (PyTorch PolynomialLR when end_lr = 0, TensorFlow PolynomialDecay otherwise):
 *     lr(t) = (lr0 - end_lr) * (1 - min(t, total_iters) / total_iters)^power + end_lr
 * power finite, >= 0.
 */
descent_status descent_schedule_new_polynomial(double lr0, int64_t total_iters, double power,
                                               double end_lr, descent_schedule *out);

/** Annealing shapes for descent_schedule_new_one_cycle. */
enum {
    DESCENT_ANNEAL_COS = 0,   /* end + (start - end) / 2 * (1 + cos(pi * pct)) (PyTorch default) */
    DESCENT_ANNEAL_LINEAR = 1 /* start + (end - start) * pct */
};

/**
 * One-cycle policy, PyTorch OneCycleLR. With initial = max_lr / div_factor and
 * min = initial / final_div_factor, p = pct_start, T = total_steps, the phases end at
 *     two phases (three_phase == 0): p*T - 1 (initial -> max_lr),  T - 1 (max_lr -> min)
 *     three phases (three_phase != 0): p*T - 1 (initial -> max_lr), 2*p*T - 2 (max_lr -> initial),
 *                                      T - 1 (initial -> min)
 * Step t uses the first phase whose end is >= t (else the last); with that phase's start s
 * (previous end, 0 for the first) and end e, pct = (t - s) / (e - s), annealed by
 * anneal_strategy. Valid t: 0 .. total_steps (descent_schedule_value fails past it, as PyTorch
 * does). PyTorch's defaults: pct_start 0.3, DESCENT_ANNEAL_COS, div_factor 25,
 * final_div_factor 1e4, three_phase 0.
 * Extra DESCENT_ERR_INVALID_ARGUMENT: pct_start outside [0, 1]; div_factor or final_div_factor
 * not finite and > 0; unknown anneal_strategy; a phase of zero length (where PyTorch would
 * divide by zero).
 */
descent_status descent_schedule_new_one_cycle(double max_lr, int64_t total_steps, double pct_start,
                                              int32_t anneal_strategy, double div_factor,
                                              double final_div_factor, int32_t three_phase,
                                              descent_schedule *out);

/**
 * One-cycle policy with momentum cycling (PyTorch OneCycleLR with cycle_momentum=True): the
 * learning rate is exactly that of descent_schedule_new_one_cycle with the same arguments, and
 * the schedule also has a momentum, read with descent_schedule_momentum. The momentum moves
 * inversely to the rate over the same phases (same ends, same pct, same anneal_strategy):
 *     two phases:   max_momentum -> base_momentum,  base_momentum -> max_momentum
 *     three phases: max_momentum -> base_momentum,  base_momentum -> max_momentum,
 *                   max_momentum -> max_momentum (flat while the rate falls to min)
 * so momentum(0) = max_momentum, momentum(p*T - 1) = base_momentum and momentum(T - 1) =
 * max_momentum. Apply it at every step as PyTorch does: descent_optimizer_set_hyper with
 * DESCENT_HYPER_MOMENTUM (SGD, RMSprop) or DESCENT_HYPER_BETA1 (the Adam family). PyTorch's
 * defaults: base_momentum 0.85, max_momentum 0.95.
 * Statuses: as descent_schedule_new_one_cycle, plus DESCENT_ERR_INVALID_ARGUMENT when
 * base_momentum or max_momentum is not finite, base_momentum < 0, or max_momentum <
 * base_momentum. On failure *out is not written and nothing is created.
 */
descent_status descent_schedule_new_one_cycle_momentum(double max_lr, int64_t total_steps, double pct_start,
                                                       int32_t anneal_strategy, double div_factor,
                                                       double final_div_factor, int32_t three_phase,
                                                       double base_momentum, double max_momentum,
                                                       descent_schedule *out);

/**
 * Schedules one after another (PyTorch SequentialLR): schedules[i] runs on
 * [milestones[i-1], milestones[i]) and restarts its own count there:
 *     lr(t) = value(schedules[i], t - milestones[i-1])      (milestones[-1] = 0)
 * `schedules` holds `count` >= 1 live schedule handles; `milestones` holds count - 1 strictly
 * increasing steps >= 1 (NULL allowed when count == 1). The new schedule keeps its parts alive:
 * freeing their handles afterwards is fine.
 * Linear warmup for w steps then cosine over T: schedules = {linear(lr0, 0, 1, w),
 * cosine(lr0, T, 0)}, milestones = {w}.
 * Extra statuses: DESCENT_ERR_INVALID_HANDLE / _WRONG_HANDLE_TYPE (a bad part handle).
 */
descent_status descent_schedule_new_sequential(const descent_schedule *schedules, int64_t count,
                                               const int64_t *milestones, descent_schedule *out);

/**
 * Writes the schedule's learning rate at step t (t >= 0, see "What t means") to *lr. No side
 * effects. Statuses: DESCENT_OK; DESCENT_ERR_INVALID_HANDLE / _WRONG_HANDLE_TYPE;
 * DESCENT_ERR_NULL_POINTER (lr); DESCENT_ERR_INVALID_ARGUMENT (t < 0, or t > total_steps for
 * a one-cycle schedule, also inside a sequential one). On failure *lr is not written.
 */
descent_status descent_schedule_value(descent_schedule schedule, int64_t step, double *lr);

/*
 * Schedules and the optimizer's own learning rate. Following PyTorch, where a scheduler starts
 * from the optimizer's lr, a schedule is built around a base rate: lr0 of the decaying,
 * annealing and ramp schedules, a constant's lr, the first piecewise value, one-cycle's max_lr,
 * a sequential schedule's first part's. When a trainer drives an optimizer with a schedule
 * (descent_trainer_set_schedule_ex), the base rate and every group's lr must agree unless the
 * caller says which one wins (DESCENT_SCHEDULE_BASE_*): a conflicting pair is an error, never a
 * silent choice. The same rule holds in Python (descent.schedules.LRScheduler, descent.fit).
 */

/** Whose learning rate counts when a schedule drives an optimizer (descent_trainer_set_schedule_ex). */
enum {
    DESCENT_SCHEDULE_BASE_AGREE = 0,     /* the schedule's base rate must equal every group's lr (1e-12 relative) */
    DESCENT_SCHEDULE_BASE_OPTIMIZER = 1, /* the schedule follows the optimizer: rebased to each group's lr */
    DESCENT_SCHEDULE_BASE_SCHEDULE = 2   /* the schedule's own rates replace the optimizer's */
};

/**
 * Writes the rate the schedule is built around (see above) to *lr. Statuses: DESCENT_OK; handle
 * errors; DESCENT_ERR_NULL_POINTER (lr). On failure *lr is not written.
 */
descent_status descent_schedule_base_rate(descent_schedule schedule, double *lr);

/**
 * A new schedule: `schedule` built around `lr` instead of its base rate (PyTorch: a scheduler's
 * base_lr is the optimizer's lr). lr0 (a constant's lr, one-cycle's max_lr) becomes `lr`;
 * absolute floors stay (cosine and SGDR eta_min, polynomial end_lr); piecewise values scale by
 * lr / values[0]; each part of a sequential schedule is rebased by the same ratio lr / base
 * rate. Free the result with descent_schedule_free. Statuses: DESCENT_OK; handle errors;
 * DESCENT_ERR_NULL_POINTER (out); DESCENT_ERR_INVALID_ARGUMENT (lr not finite and >= 0, a
 * piecewise or sequential schedule starting at rate 0 that would need scaling);
 * DESCENT_ERR_OUT_OF_MEMORY. On failure *out is not written.
 */
descent_status descent_schedule_rebase(descent_schedule schedule, double lr, descent_schedule *out);

/**
 * Writes the schedule's momentum at step t to *momentum, for a schedule that cycles momentum: one
 * made by descent_schedule_new_one_cycle_momentum (formula there), or a sequential schedule with
 * such a part (a warmup into a one-cycle), which carries the cycle through as PyTorch's
 * SequentialLR does: while a cycling part runs, its momentum at its own step; while another part
 * runs, the momentum the last cycling part ended with (at its last step, at most its
 * total_steps) or, before any cycling part has run, the next cycling part's momentum at its step
 * 0 (its max_momentum). No side effects. Statuses: DESCENT_OK; DESCENT_ERR_INVALID_HANDLE /
 * _WRONG_HANDLE_TYPE; DESCENT_ERR_NULL_POINTER (momentum); DESCENT_ERR_UNSUPPORTED (the schedule
 * has no momentum cycle: every other kind, descent_schedule_new_one_cycle, and sequential
 * schedules without a momentum-cycling part); DESCENT_ERR_INVALID_ARGUMENT (t < 0, or t outside
 * 0 ... total_steps of the one-cycle part that answers). On failure *momentum is not written.
 */
descent_status descent_schedule_momentum(descent_schedule schedule, int64_t step, double *momentum);

/**
 * Writes value(first_step + i) to out[i] for i = 0 .. count-1 (a whole curve in one call).
 * `out` may be NULL when count == 0. Statuses: as descent_schedule_value, plus
 * DESCENT_ERR_INVALID_ARGUMENT for count < 0 or first_step + count overflowing,
 * DESCENT_ERR_OUT_OF_MEMORY (no room to evaluate count values first). On failure nothing is
 * written to out.
 */
descent_status descent_schedule_values(descent_schedule schedule, int64_t first_step, int64_t count,
                                       double *out);

/**
 * Destroys a schedule handle (sequential schedules built from it keep working). A null or
 * already-freed handle is a harmless no-op. Statuses: DESCENT_OK, DESCENT_ERR_WRONG_HANDLE_TYPE.
 */
descent_status descent_schedule_free(descent_schedule schedule);

/*
 * Reduce-on-plateau (PyTorch ReduceLROnPlateau): the one STATEFUL schedule. Call
 * descent_plateau_update once per epoch with the monitored metric; it returns the rate to use.
 * Per update with metric m:
 *     better = (mode MIN, REL) m < best * (1 - threshold)   (MIN, ABS) m < best - threshold
 *              (mode MAX, REL) m > best * (1 + threshold)   (MAX, ABS) m > best + threshold
 *     if better: best = m, num_bad_epochs = 0;  else num_bad_epochs += 1
 *     if cooldown_counter > 0: cooldown_counter -= 1, num_bad_epochs = 0
 *     if num_bad_epochs > patience:
 *         new = max(lr * factor, min_lr); if lr - new > eps: lr = new
 *         cooldown_counter = cooldown; num_bad_epochs = 0
 * best starts at +inf (MIN) or -inf (MAX). A NaN metric is never "better" (it counts as a bad
 * epoch), as in PyTorch. Updates on one handle from several threads are serialized.
 */

/** Handle to a reduce-on-plateau scheduler. 0 is the null handle. */
typedef uint64_t descent_plateau;

/** Plateau modes and threshold modes. */
enum {
    DESCENT_PLATEAU_MIN = 0,   /* lower metric is better (a loss) */
    DESCENT_PLATEAU_MAX = 1,   /* higher metric is better (an accuracy) */
    DESCENT_THRESHOLD_REL = 0, /* improvement measured relative to best */
    DESCENT_THRESHOLD_ABS = 1  /* improvement measured in the metric's units */
};

/**
 * A new reduce-on-plateau scheduler starting at rate `lr`. PyTorch's defaults: mode MIN,
 * factor 0.1, patience 10, threshold 1e-4, threshold_mode REL, cooldown 0, min_lr 0, eps 1e-8.
 * Domains: lr, min_lr finite >= 0; 0 <= factor < 1; patience, cooldown >= 0; threshold, eps
 * finite >= 0; mode and threshold_mode one of the constants above. Statuses: DESCENT_OK,
 * DESCENT_ERR_NULL_POINTER (out), DESCENT_ERR_INVALID_ARGUMENT, DESCENT_ERR_OUT_OF_MEMORY.
 * On failure *out is not written.
 */
descent_status descent_plateau_new(double lr, int32_t mode, double factor, int64_t patience,
                                   double threshold, int32_t threshold_mode, int64_t cooldown,
                                   double min_lr, double eps, descent_plateau *out);

/**
 * Records one epoch's metric (any double; NaN is a bad epoch) and writes the learning rate to use
 * from now on to *lr. Statuses: DESCENT_OK, handle errors, DESCENT_ERR_NULL_POINTER (lr; the
 * state is then NOT updated), DESCENT_ERR_INVALID_ARGUMENT (the update counter is already
 * INT64_MAX, only possible after descent_plateau_restore; nothing changed).
 */
descent_status descent_plateau_update(descent_plateau plateau, double metric, double *lr);

/** Writes the current learning rate to *lr. Statuses: DESCENT_OK, handle errors, _NULL_POINTER. */
descent_status descent_plateau_lr(descent_plateau plateau, double *lr);

/**
 * Writes the internal state: best metric so far, num_bad_epochs, cooldown_counter and the number
 * of updates so far. Each out-pointer may be NULL (skipped). Statuses: DESCENT_OK, handle errors
 * (then nothing is written).
 */
descent_status descent_plateau_state(descent_plateau plateau, double *best, int64_t *num_bad_epochs,
                                     int64_t *cooldown_counter, int64_t *updates);

/**
 * Replaces the current learning rate (a manual change between epochs; later reductions start from
 * it, as PyTorch's scheduler starts from the optimizer's current rate). lr finite >= 0.
 * Statuses: DESCENT_OK, handle errors, DESCENT_ERR_INVALID_ARGUMENT (nothing changed).
 */
descent_status descent_plateau_set_lr(descent_plateau plateau, double lr);

/**
 * Replaces the whole state, as read by descent_plateau_lr + descent_plateau_state (resuming from
 * a checkpoint; the hyper-parameters are those given to descent_plateau_new). lr finite >= 0;
 * best not NaN (+-inf allowed); the counters >= 0. Statuses: DESCENT_OK, handle errors,
 * DESCENT_ERR_INVALID_ARGUMENT (nothing changed).
 */
descent_status descent_plateau_restore(descent_plateau plateau, double lr, double best,
                                       int64_t num_bad_epochs, int64_t cooldown_counter,
                                       int64_t updates);

/** Destroys a plateau handle; null or already-freed handles are a harmless no-op.
 *  Statuses: DESCENT_OK, DESCENT_ERR_WRONG_HANDLE_TYPE. */
descent_status descent_plateau_free(descent_plateau plateau);

/*
 * Gradient clipping over `count` gradient tensors given as an array of handles (`grads` may be
 * NULL when count == 0). All tensors must share one dtype (else DESCENT_ERR_DTYPE) and must not
 * share memory, e.g. the same handle twice (else DESCENT_ERR_INVALID_ARGUMENT; tensors with no
 * elements are exempt, as there is nothing to scale twice). Every handle and
 * argument is checked before any tensor is modified: on any failure every gradient is unchanged.
 * Statuses common to all three: DESCENT_ERR_NULL_POINTER (grads NULL with count > 0),
 * DESCENT_ERR_INVALID_HANDLE / _WRONG_HANDLE_TYPE (a bad entry; the message names its index),
 * DESCENT_ERR_DTYPE, DESCENT_ERR_INVALID_ARGUMENT (count < 0, aliasing, bad numbers below),
 * DESCENT_ERR_OUT_OF_MEMORY (no room for the list of count tensors).
 */

/**
 * Clip by global L2 norm (PyTorch clip_grad_norm_ with norm_type 2):
 *     total = sqrt(sum over all tensors and elements of g^2)
 *     if total > max_norm: every g *= max_norm / (total + 1e-6)
 * and writes the PRE-clip total to *pre_clip_norm (which may be NULL). The total is accumulated
 * in double in a fixed order (tensor by tensor; within a tensor in eight interleaved partial sums;
 * per-tensor norms rescaled against overflow) so it is bit-identical run to run. For float32 the
 * scale factor is rounded to float before multiplying.
 * Non-finite total (a NaN/inf element): no gradient is modified, DESCENT_OK is returned and the
 * non-finite total is written, so the caller can skip the step (PyTorch would fill the gradients
 * with NaN/0). Use descent_clip_grad_norm_ex with error_if_nonfinite = 1 to get an error instead.
 * max_norm must be >= 0 (infinity allowed: measure only).
 */
descent_status descent_clip_grad_norm(const descent_tensor *grads, int64_t count, double max_norm,
                                      double *pre_clip_norm);

/**
 * descent_clip_grad_norm with PyTorch's norm_type and error_if_nonfinite options:
 *     total = (sum |g|^norm_type)^(1 / norm_type)        (norm_type > 0, finite)
 *     total = max |g|                                     (norm_type = +INFINITY)
 * norm_type 2 is exactly descent_clip_grad_norm. When error_if_nonfinite != 0 and the total is
 * NaN or infinite, returns DESCENT_ERR_NON_FINITE with nothing modified and *pre_clip_norm not
 * written. Extra DESCENT_ERR_INVALID_ARGUMENT: norm_type NaN or <= 0.
 */
descent_status descent_clip_grad_norm_ex(const descent_tensor *grads, int64_t count, double max_norm,
                                         double norm_type, int32_t error_if_nonfinite,
                                         double *pre_clip_norm);

/**
 * Clip by value (PyTorch clip_grad_value_): every element g becomes min(max(g, -clip_value),
 * clip_value), in place; NaN stays NaN. clip_value >= 0 (infinity allowed; for float32 it is
 * rounded to float).
 */
descent_status descent_clip_grad_value(const descent_tensor *grads, int64_t count, double clip_value);

/* ---------------------------------------------------------------------------------------------
 * Gradients: activations, costs, layers, batch normalization, initialization, numerical gradients
 * ------------------------------------------------------------------------------------------- */
/* @@gradients@@ */
/*
 * All functions in this section compute in double precision internally and round once when they
 * store into a float32 tensor. Tensor arguments share one dtype (DESCENT_ERR_DTYPE otherwise).
 * Output tensors are provided by the caller; everything is validated before anything is written,
 * so on failure every tensor and out-pointer is unchanged. A tensor argument documented as
 * "optional" may be the null handle 0, meaning "not wanted".
 * Common statuses, not repeated below: DESCENT_ERR_INVALID_HANDLE / _WRONG_HANDLE_TYPE (a bad
 * handle), DESCENT_ERR_DTYPE (dtypes differ), DESCENT_ERR_SHAPE (shapes disagree),
 * DESCENT_ERR_NULL_POINTER (a required pointer is NULL), DESCENT_ERR_OUT_OF_MEMORY.
 * Full formulas and guidance: docs/gradients.md.
 */

/* -- Activations ------------------------------------------------------------------------------ */

/** Activation kinds (argument `activation`). */
enum {
    DESCENT_ACTIVATION_IDENTITY = 0,   /* f(x) = x */
    DESCENT_ACTIVATION_SIGMOID = 1,    /* σ(x) = 1/(1+e^-x), σ' = σ(1-σ) */
    DESCENT_ACTIVATION_TANH = 2,       /* tanh x, tanh' = 1 - tanh² */
    DESCENT_ACTIVATION_RELU = 3,       /* max(0,x); derivative 1 for x > 0, else 0 (0 at x = 0) */
    DESCENT_ACTIVATION_LEAKY_RELU = 4, /* x > 0 ? x : slope*x; derivative 1 or slope (slope at 0) */
    DESCENT_ACTIVATION_SOFTMAX = 5     /* e^(x_i - max) / Σ_j e^(x_j - max) along the LAST axis */
};

/**
 * y = f(x) elementwise (softmax: along the last axis, rank >= 1, stable: the row max is
 * subtracted). `negative_slope` is used by LEAKY_RELU only (must then be finite; PyTorch's
 * default is 0.01). y has x's dtype and shape; y may be x (in place).
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (unknown activation),
 * DESCENT_ERR_NON_FINITE (non-finite slope for LEAKY_RELU), DESCENT_ERR_SHAPE (softmax of rank 0).
 */
descent_status descent_activation_forward(int32_t activation, double negative_slope, descent_tensor x,
                                          descent_tensor y);

/**
 * out = f'(x) elementwise (the table in the enum above). `out` may be x.
 * Statuses: as descent_activation_forward, plus DESCENT_ERR_UNSUPPORTED for SOFTMAX (it has a
 * Jacobian, not an elementwise derivative: use descent_activation_backward).
 */
descent_status descent_activation_derivative(int32_t activation, double negative_slope, descent_tensor x,
                                             descent_tensor out);

/**
 * Backward pass (vector-Jacobian product) dx = J_f(x)^T dy: dy * f'(x) elementwise; for SOFTMAX,
 * per row along the last axis, y = softmax(x) and dx = y * (dy - Σ_j dy_j y_j). x, dy, dx share
 * dtype and shape; dx may be x or dy. Statuses: as descent_activation_forward.
 */
descent_status descent_activation_backward(int32_t activation, double negative_slope, descent_tensor x,
                                           descent_tensor dy, descent_tensor dx);

/* -- Costs ----------------------------------------------------------------------------------- */

/** Batch reductions (argument `reduction`). */
enum {
    DESCENT_REDUCTION_MEAN = 0, /* loss and gradient divided by the number of terms (see each cost) */
    DESCENT_REDUCTION_SUM = 1   /* plain sum */
};

/*
 * Every cost writes the loss (a double) to *loss and, when `grad` is not 0, dLoss/dInput into
 * `grad` (the input's dtype and shape; it may be the same handle as an input). Inputs must be
 * finite: DESCENT_ERR_NON_FINITE otherwise. On failure neither *loss nor grad is written.
 */

/**
 * Sum of squared errors E = ½ Σ (y - ŷ)² over every element; grad = ŷ - y.
 * `prediction` (ŷ) and `target` (y) share dtype and shape. grad optional.
 */
descent_status descent_loss_sse(descent_tensor prediction, descent_tensor target, descent_tensor grad,
                                double *loss);

/**
 * Quadratic cost C = 1/(2n) Σ_x ||y(x) - a(x)||², n = prediction's first extent (the batch; 1 for
 * rank 0), one sample per row; grad = (a - y)/n. grad optional.
 */
descent_status descent_loss_quadratic(descent_tensor prediction, descent_tensor target, descent_tensor grad,
                                      double *loss);

/** Mean squared error (1/N) Σ (ŷ - y)² over all N elements; grad = 2(ŷ - y)/N. grad optional. */
descent_status descent_loss_mse(descent_tensor prediction, descent_tensor target, descent_tensor grad,
                                double *loss);

/**
 * Binary cross-entropy from probabilities p in [0, 1] and targets y in [0, 1]:
 *     l = -[y log p̃ + (1 - y) log(1 - p̃)],  p̃ = clamp(p, eps, 1 - eps),
 *     dl/dp = (p̃ - y) / (p̃ (1 - p̃)),
 * summed over all elements (DESCENT_REDUCTION_SUM) or averaged over all N elements (_MEAN).
 * eps in (0, 0.5); 1e-12 is a good default in float64 (the clamp only matters at p = 0 or 1).
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (eps out of range, p or y outside [0, 1],
 * unknown reduction), DESCENT_ERR_NON_FINITE.
 */
descent_status descent_loss_bce(descent_tensor probabilities, descent_tensor target, double eps,
                                int32_t reduction, descent_tensor grad, double *loss);

/**
 * Binary cross-entropy from logits z, stable for every finite z:
 *     l = max(z, 0) - z y + log(1 + e^-|z|),   dl/dz = σ(z) - y,
 * reduced over all elements as for descent_loss_bce. Targets must lie in [0, 1].
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT, DESCENT_ERR_NON_FINITE.
 */
descent_status descent_loss_bce_logits(descent_tensor logits, descent_tensor target, int32_t reduction,
                                       descent_tensor grad, double *loss);

/**
 * Softmax cross-entropy from logits z (batch, classes) and integer labels (label_count == batch,
 * each in [0, classes)):
 *     L_i = log Σ_j e^{z_ij} - z_{i,y_i}   (computed with the row max subtracted: stable),
 *     dL_i/dz_ij = softmax(z_i)_j - [j == y_i];
 * _MEAN divides loss and gradient by the batch size. `labels` may be NULL when label_count is 0.
 * Statuses: common ones, DESCENT_ERR_SHAPE (logits not rank 2, label_count != batch),
 * DESCENT_ERR_INVALID_ARGUMENT (a label out of range, label_count < 0, unknown reduction),
 * DESCENT_ERR_NON_FINITE.
 */
descent_status descent_loss_softmax_cross_entropy(descent_tensor logits, const int64_t *labels,
                                                  int64_t label_count, int32_t reduction,
                                                  descent_tensor grad, double *loss);

/**
 * Multiclass SVM (hinge) loss on scores s (batch, classes) with margin Δ (cs231n uses 1):
 *     L_i = Σ_{j≠y_i} max(0, s_ij - s_{i,y_i} + Δ),
 *     dL_i/ds_ij = [s_ij - s_{i,y_i} + Δ > 0] (j ≠ y_i),  dL_i/ds_{i,y_i} = -(number of such j);
 * at a margin of exactly 0 the subgradient 0 is used. Reduction over the batch as for
 * descent_loss_softmax_cross_entropy. Statuses: as that function, plus DESCENT_ERR_NON_FINITE
 * for a non-finite margin.
 */
descent_status descent_loss_multiclass_hinge(descent_tensor scores, const int64_t *labels,
                                             int64_t label_count, double margin, int32_t reduction,
                                             descent_tensor grad, double *loss);

/**
 * The hinge loss of the linear classifier s = X W^T, with W (classes, features) and X (batch,
 * features): the loss of descent_loss_multiclass_hinge on s, and dW = (dL/ds)^T X (BLAS) into
 * `grad_w` (W's shape; optional; must not be W or X).
 * Statuses: as descent_loss_multiclass_hinge, plus DESCENT_ERR_INVALID_ARGUMENT (grad_w aliases),
 * DESCENT_ERR_UNSUPPORTED (an extent above 2^31 - 1, as descent_tensor_matmul).
 */
descent_status descent_loss_multiclass_hinge_linear(descent_tensor w, descent_tensor x, const int64_t *labels,
                                                    int64_t label_count, double margin, int32_t reduction,
                                                    descent_tensor grad_w, double *loss);

/**
 * L2 regularization R = λ/(2m) ||W||², gradient (λ/m) W into `grad` (optional; may be W itself).
 * m = 1 gives the common ½λ||W||² with gradient λW; m = the batch or training-set size gives the
 * form of Nielsen's NNDL (chapter 3) and the deeplearning.ai notes, whose descent step is
 * W -= η(λ/m)W. λ finite and >= 0, m >= 1.
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (λ or m out of range), _NON_FINITE (W).
 */
descent_status descent_l2_penalty(descent_tensor w, double lambda, int64_t m, descent_tensor grad,
                                  double *penalty);

/* -- Delta rule ------------------------------------------------------------------------------- */

/**
 * The delta rule for one sigmoid unit and one sample x (rank 1, w's shape):
 *     h = Σ_i w_i x_i,  ŷ = σ(h),  δ = (y - ŷ) σ'(h),  Δw = η δ x.
 * Writes Δw into `dw` (w's shape; may be w or x) and h, ŷ, δ to *h, *y_hat, *delta; each of
 * these three pointers may be NULL (not wanted). The caller applies w += Δw.
 * Statuses: common ones, DESCENT_ERR_SHAPE (w not rank 1), DESCENT_ERR_NON_FINITE (y, η, w or x).
 */
descent_status descent_delta_rule(descent_tensor w, descent_tensor x, double y, double eta, descent_tensor dw,
                                  double *h, double *y_hat, double *delta);

/* -- Dense layer ------------------------------------------------------------------------------ */

/**
 * Forward pass of a fully connected layer over a batch. Layout: a (batch, in), W (out, in) — row
 * k holds unit k's weights, as in z = W a for one column sample — b (out,) optional:
 *     z = a W^T + b   (batch, out; BLAS gemm),   out = f(z)   (f: DESCENT_ACTIVATION_*).
 * Writes z (kept for the backward pass) and out; out may be the same handle as z, but neither may
 * share memory with a, W or b.
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (unknown activation, aliasing),
 * DESCENT_ERR_NON_FINITE (leaky slope), DESCENT_ERR_UNSUPPORTED (an extent above 2^31 - 1, as
 * descent_tensor_matmul; possible with zero-sized tensors such as a of shape (3e9, 0)).
 */
descent_status descent_dense_forward(descent_tensor a, descent_tensor w, descent_tensor b, int32_t activation,
                                     double negative_slope, descent_tensor z, descent_tensor out);

/**
 * Backward pass of descent_dense_forward, given z and dout = dL/dout (batch, out):
 *     dz = f'(z) * dout (the activation's vector-Jacobian product),
 *     dW = dz^T a (out, in),  db = Σ_batch dz (out,),  da = dz W (batch, in).
 * db and da are optional. Outputs must not share memory with each other or with any input.
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (unknown activation, aliasing),
 * DESCENT_ERR_NON_FINITE (leaky slope), DESCENT_ERR_UNSUPPORTED (an extent above 2^31 - 1).
 */
descent_status descent_dense_backward(descent_tensor a, descent_tensor w, descent_tensor z, descent_tensor dout,
                                      int32_t activation, double negative_slope, descent_tensor dw,
                                      descent_tensor db, descent_tensor da);

/* -- Batch normalization ---------------------------------------------------------------------- */

/*
 * Stateless batch normalization over x (batch N, features D) with caller-owned buffers: gamma,
 * beta, running_mean, running_var, save_mean, save_invstd are all (D,) tensors of x's dtype.
 * PyTorch's convention: normalize with the BIASED batch variance; update running_var with the
 * UNBIASED one; momentum m weighs the new batch (PyTorch default 0.1, eps default 1e-5).
 */

/**
 * Training forward, per feature j:
 *     μ = mean_i x_ij,  σ² = mean_i (x_ij - μ)²,  x̂ = (x - μ)/sqrt(σ² + eps),  y = γ x̂ + β,
 *     running_mean = (1 - m) running_mean + m μ,
 *     running_var  = (1 - m) running_var  + m σ² N/(N - 1),
 *     save_mean = μ, save_invstd = 1/sqrt(σ² + eps)   (inputs to descent_batchnorm_backward).
 * y may be x. N >= 2. m in [0, 1], eps > 0 and finite.
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (N < 2, m or eps out of range, state
 * buffers sharing memory), DESCENT_ERR_NON_FINITE (x has NaN/inf). On failure nothing changes,
 * running statistics included.
 */
descent_status descent_batchnorm_forward_train(descent_tensor x, descent_tensor gamma, descent_tensor beta,
                                               descent_tensor running_mean, descent_tensor running_var,
                                               double momentum, double eps, descent_tensor y,
                                               descent_tensor save_mean, descent_tensor save_invstd);

/**
 * Backward pass of the training forward, with x̂ recomputed from save_mean and save_invstd:
 *     dβ = Σ_i dy_i,  dγ = Σ_i dy_i x̂_i,  dx_i = γ save_invstd / N · (N dy_i - dβ - x̂_i dγ).
 * dx may be dy; dx, dgamma, dbeta must be distinct from each other, x and the (D,) inputs.
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (aliasing).
 */
descent_status descent_batchnorm_backward(descent_tensor x, descent_tensor gamma, descent_tensor save_mean,
                                          descent_tensor save_invstd, descent_tensor dy, descent_tensor dx,
                                          descent_tensor dgamma, descent_tensor dbeta);

/**
 * Inference forward with the running statistics:
 *     y = γ (x - running_mean)/sqrt(running_var + eps) + β.
 * y may be x. Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (eps out of range, a negative
 * or NaN running variance).
 */
descent_status descent_batchnorm_forward_infer(descent_tensor x, descent_tensor gamma, descent_tensor beta,
                                               descent_tensor running_mean, descent_tensor running_var,
                                               double eps, descent_tensor y);

/* -- Weight initialization -------------------------------------------------------------------- */

/** Initialization schemes (argument `scheme`). std is a normal's standard deviation, a a uniform bound. */
enum {
    DESCENT_INIT_NORMAL = 1,         /* N(0, std²), std = gain */
    DESCENT_INIT_UNIFORM = 2,        /* U(-a, a), a = gain */
    DESCENT_INIT_XAVIER_NORMAL = 3,  /* std = gain sqrt(2/(fan_in + fan_out))  (Glorot) */
    DESCENT_INIT_XAVIER_UNIFORM = 4, /* a = gain sqrt(6/(fan_in + fan_out)) */
    DESCENT_INIT_HE_NORMAL = 5,      /* std = gain sqrt(2/fan_in)  (Kaiming, for ReLU with gain 1) */
    DESCENT_INIT_HE_UNIFORM = 6      /* a = gain sqrt(6/fan_in) */
};

/**
 * Fills `tensor` in place from SplitMix64(seed) (the generator of descent_tensor_random_*): element
 * i is std * normal(i) with normal(i) as in descent_tensor_random_normal, or -a + 2a u(i) with u(i)
 * the uniform of descent_tensor_random_uniform (53 bits for float64, 24 for float32). The same
 * seed gives the same tensor on every machine. gain finite and >= 0.
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (unknown scheme, bad gain),
 * DESCENT_ERR_SHAPE (fans undefined: rank 0 or a zero fan, for the Xavier and He schemes).
 */
descent_status descent_init_fill(descent_tensor tensor, int32_t scheme, uint64_t seed, double gain);

/**
 * The fans of a weight shape (PyTorch's rule): rank 1: fan_in = fan_out = shape[0]; rank >= 2:
 * receptive = Π shape[2..], fan_in = shape[1] receptive, fan_out = shape[0] receptive (a dense W of
 * shape (out, in) has fan_in = in, fan_out = out).
 * Statuses: DESCENT_ERR_NULL_POINTER, DESCENT_ERR_SHAPE (rank 0 or out of range, negative extent,
 * a zero fan).
 */
descent_status descent_init_fans(int64_t rank, const int64_t *shape, int64_t *fan_in, int64_t *fan_out);

/* -- Numerical gradients and gradient checking ------------------------------------------------ */

/**
 * A scalar function of a tensor, supplied by the caller (it returns a descent_status): compute f(x) for the tensor `x` (the
 * caller's own handle, currently perturbed in place), store it in *out and return DESCENT_OK.
 * Any other return value aborts the computation with DESCENT_ERR_CALLBACK. The callback may call
 * any descent_* function (for example descent_tensor_copy_to on x); it should not modify x.
 * `context` is passed through untouched.
 */
typedef int32_t (*descent_scalar_fn)(void *context, descent_tensor x, double *out);

/** Finite-difference methods (argument `method`). */
enum {
    DESCENT_DIFF_FORWARD = 0, /* (f(x + h e_i) - f(x)) / h,  error O(h) */
    DESCENT_DIFF_CENTERED = 1 /* (f(x + h e_i) - f(x - h e_i)) / 2h,  error O(h²) */
};

/**
 * Numerical gradient of f at x into `grad` (x's dtype and shape, a different tensor): each
 * coordinate is perturbed in place by ±h, f called, and the coordinate restored; the divisor is
 * the step actually taken after rounding to x's dtype. x is restored bit for bit afterwards,
 * also on failure. f is called count + 1 (forward) or 2 count (centered) times.
 * Guidance (docs/gradients.md): centered with h = 1e-6 in float64, 1e-2 to 1e-3 in float32.
 * Statuses: common ones, DESCENT_ERR_NULL_POINTER (f NULL), DESCENT_ERR_INVALID_ARGUMENT (h not
 * finite and > 0, unknown method, h vanishing after rounding, grad sharing x's memory),
 * DESCENT_ERR_CALLBACK (f returned non-zero), DESCENT_ERR_NON_FINITE (f returned NaN or inf).
 * On failure grad is unchanged and x is restored.
 */
descent_status descent_numerical_gradient(descent_scalar_fn f, void *context, descent_tensor x, double h,
                                          int32_t method, descent_tensor grad);

/**
 * Gradient check: compares `analytic` (x's dtype and shape) with the numerical gradient of f at x
 * by the relative error  e_i = |a_i - n_i| / max(|a_i| + |n_i|, floor)  (floor > 0, e.g. 1e-12).
 * sample_count = k with 0 < k < x's count checks only k coordinates, index_j = output_j mod count
 * of SplitMix64(seed) for j = 0..k-1 (with replacement); k = 0 or k >= count checks every
 * coordinate once, in order.
 * Writes the largest error to *max_error (NaN if any value is NaN), its flat index to
 * *worst_index, and (when not NULL) the analytic and numerical values there.
 * Typical verdicts (float64, centered, h = 1e-6): < 1e-7 correct; > 1e-4 wrong (unless near a
 * kink such as ReLU's x = 0 or a hinge margin of 0).
 * Statuses: as descent_numerical_gradient, plus DESCENT_ERR_INVALID_ARGUMENT (bad floor or
 * sample_count < 0). x is restored bit for bit.
 */
descent_status descent_gradient_check(descent_scalar_fn f, void *context, descent_tensor x, descent_tensor analytic,
                                      double h, int32_t method, double floor, int64_t sample_count, uint64_t seed,
                                      double *max_error, int64_t *worst_index, double *analytic_at_worst,
                                      double *numerical_at_worst);

/**
 * The relative error of two given gradients (same dtype and shape), as in descent_gradient_check:
 * *max_error = max_i |a_i - n_i| / max(|a_i| + |n_i|, floor); *worst_index its flat index (-1
 * for empty tensors, with *max_error = 0).
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (floor not finite and > 0).
 */
descent_status descent_gradient_compare(descent_tensor analytic, descent_tensor numerical, double floor,
                                        double *max_error, int64_t *worst_index);

/**
 * The step-size experiment of the cs231n "Optimization" notes: for each of the `count` step
 * sizes s_k (for example 1e-10, 1e-9, ..., 1e-1), sets W := W0 - s_k grad and writes f(W) to losses[k]. W is restored to
 * W0 bit for bit afterwards (also on failure). step_sizes and losses may be NULL when count is 0.
 * Statuses: common ones, DESCENT_ERR_NULL_POINTER (f NULL), DESCENT_ERR_INVALID_ARGUMENT
 * (count < 0 or above 2^24, grad sharing W's memory), DESCENT_ERR_NON_FINITE (a step size or grad not finite),
 * DESCENT_ERR_CALLBACK. On failure losses is unchanged.
 */
descent_status descent_step_size_sweep(descent_scalar_fn f, void *context, descent_tensor w, descent_tensor grad,
                                       const double *step_sizes, int64_t count, double *losses);

/* @@graphs@@ */
/* ---------------------------------------------------------------------------------------------
 * Computation graphs and reverse-mode automatic differentiation
 *
 * A graph is built once and run many times (docs/training.md). Nodes are numbered from 0 in the
 * order they are added; every node reads only earlier ones. Each builder call writes the new
 * node's index to *node. A graph has one dtype: every param, constant and bound input has it.
 *
 *  - Inputs are fed before each run (descent_graph_set_input: the graph reads that tensor in
 *    place, so a tensor wrapping your memory gives zero-copy batches). An extent of -1 in an
 *    input's shape marks the batch axis, whose size comes from the bound tensors.
 *  - Labels inputs take integer class labels (one per sample) for the classification costs.
 *  - Params are tensors read in place (descent_tensor_wrap lets them live in your memory);
 *    backward writes the gradient of each into ONE flat buffer (descent_graph_grad_buffer), one
 *    slice per param in param order, so a single allreduce can cover all of them.
 *  - Running: descent_graph_forward evaluates a node (and only what it needs); backward
 *    evaluates a scalar node and writes every trainable param's gradient (0 for params the loss
 *    does not reach). Value and gradient buffers are allocated the first time a batch size is
 *    seen (a few batch sizes are kept) and reused: a step allocates nothing.
 *  - Everything that could fail during a run (unbound input, batch sizes that disagree, a label
 *    outside [0, classes), training batch norm with one sample) is checked before anything is
 *    written; a failed run changes nothing.
 *  - Gradients match the analytic formulas of the Gradients section (each op's backward is
 *    that section's vector-Jacobian product); docs/training.md lists them.
 *
 * The computation graph of the deeplearning.ai course, J = 3(a + bc) at a = 5, b = 3, c = 2,
 * from C:
 *
 *     descent_graph g; descent_tensor ta, tb, tc; int64_t a, b, c, u, v, three, J, none[1];
 *     double va = 5, vb = 3, vc = 2, loss, grad;
 *     descent_graph_new(DESCENT_DTYPE_FLOAT64, &g);
 *     descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 0, none, &va, 1, &ta);   // likewise tb, tc
 *     descent_graph_param(g, ta, 1, &a);                                        // likewise b, c
 *     descent_graph_binary(g, DESCENT_GRAPH_MUL, b, c, &u);          // u = bc
 *     descent_graph_binary(g, DESCENT_GRAPH_ADD, a, u, &v);          // v = a + u
 *     descent_graph_scalar(g, 3.0, &three);
 *     descent_graph_binary(g, DESCENT_GRAPH_MUL, three, v, &J);      // J = 3v
 *     descent_graph_backward(g, J, &loss);                           // loss = 33
 *     descent_graph_grad(g, a, DESCENT_DTYPE_FLOAT64, &grad, 1);     // dJ/da = 3 (db: 6, dc: 9)
 * ------------------------------------------------------------------------------------------- */

/** Handle to a computation graph. 0 is the null handle. */
typedef uint64_t descent_graph;

/** Elementwise binary operations (descent_graph_binary). */
enum {
    DESCENT_GRAPH_ADD = 0, /* a + b */
    DESCENT_GRAPH_SUB = 1, /* a - b */
    DESCENT_GRAPH_MUL = 2, /* a * b */
    DESCENT_GRAPH_DIV = 3  /* a / b */
};

/** Elementwise unary operations (descent_graph_unary). */
enum {
    DESCENT_GRAPH_EXP = 0,    /* e^x;       backward g e^x */
    DESCENT_GRAPH_LOG = 1,    /* ln x;      backward g / x   (NaN for x < 0, IEEE) */
    DESCENT_GRAPH_SQUARE = 2, /* x^2;       backward 2 x g */
    DESCENT_GRAPH_SQRT = 3,   /* sqrt x;    backward g / (2 sqrt x) */
    DESCENT_GRAPH_NEG = 4,    /* -x;        backward -g */
    DESCENT_GRAPH_SIN = 5,    /* sin x;     backward g cos x */
    DESCENT_GRAPH_COS = 6,    /* cos x;     backward -g sin x */
    DESCENT_GRAPH_ABS = 7     /* |x|;       backward g sign(x), 0 at x = 0 */
};

/** Reductions (descent_graph_reduce). */
enum {
    DESCENT_GRAPH_SUM = 0,       /* sum of every element: a scalar */
    DESCENT_GRAPH_MEAN = 1,      /* mean of every element: a scalar (NaN when empty) */
    DESCENT_GRAPH_SUM_AXIS = 2,  /* sum along `axis` (that axis removed) */
    DESCENT_GRAPH_MEAN_AXIS = 3  /* mean along `axis` */
};

/** Costs (descent_graph_cost); formulas as the descent_loss_* functions. Each is a scalar node. */
enum {
    DESCENT_COST_SSE = 0,                   /* ½ Σ (p - y)²                           target: p's shape */
    DESCENT_COST_QUADRATIC = 1,             /* 1/(2n) Σ ‖p - y‖², n = p's first extent  target: p's shape */
    DESCENT_COST_MSE = 2,                   /* (1/N) Σ (p - y)²                         target: p's shape */
    DESCENT_COST_BCE = 3,                   /* BCE of probabilities, p clamped to [ε, 1-ε]; parameter = ε */
    DESCENT_COST_BCE_LOGITS = 4,            /* BCE of logits (stable)                  target: p's shape */
    DESCENT_COST_SOFTMAX_CROSS_ENTROPY = 5, /* logits (batch, classes) vs a labels input */
    DESCENT_COST_MULTICLASS_HINGE = 6       /* scores (batch, classes) vs labels; parameter = margin Δ */
};

/** Param initializers for random restarts (descent_graph_param_init); 1..6 are DESCENT_INIT_*. */
enum {
    DESCENT_PARAM_INIT_NONE = 0,
    DESCENT_PARAM_INIT_ZEROS = 100,
    DESCENT_PARAM_INIT_ONES = 101
};

/**
 * Creates an empty graph of `dtype` (DESCENT_DTYPE_*). Free it with descent_graph_free (nodes,
 * constants, plans and gradient buffers go with it; params stay the caller's tensors).
 * Statuses: DESCENT_ERR_NULL_POINTER, DESCENT_ERR_DTYPE, DESCENT_ERR_OUT_OF_MEMORY.
 */
descent_status descent_graph_new(int32_t dtype, descent_graph *out);

/** Frees a graph. A null or already-freed handle is a harmless no-op. */
descent_status descent_graph_free(descent_graph graph);

/*
 * Builders. Each validates its operands (indices of earlier nodes, shapes, dtype) and writes
 * the new node's index to *node. Common statuses: DESCENT_ERR_NULL_POINTER (node NULL),
 * DESCENT_ERR_INVALID_HANDLE / _WRONG_HANDLE_TYPE (graph or tensor), DESCENT_ERR_INVALID_ARGUMENT
 * (an operand index that is not a node, a labels input where a float node is expected, a value
 * outside its domain), DESCENT_ERR_SHAPE (shapes that do not fit), DESCENT_ERR_DTYPE (a tensor
 * of another dtype). On failure no node is added.
 */

/** A float input of shape `shape` (rank 0..8); extent -1 marks the batch axis. */
descent_status descent_graph_input(descent_graph graph, int64_t rank, const int64_t *shape, int64_t *node);

/** An input of integer class labels, shape (batch,), for the classification costs. */
descent_status descent_graph_labels(descent_graph graph, int64_t *node);

/**
 * A param: the graph reads `tensor` in place on every run (the graph keeps a reference; freeing
 * the handle is fine). trainable = 1: backward writes its gradient; 0: frozen (no gradient; a
 * trainer never updates it). Params may not share memory. DESCENT_ERR_INVALID_ARGUMENT also for
 * trainable not 0 or 1.
 */
descent_status descent_graph_param(descent_graph graph, descent_tensor tensor, int32_t trainable, int64_t *node);

/**
 * Sets how descent_graph_init_params re-initializes param node `node`: kind is one of
 * DESCENT_INIT_* (with `gain`), DESCENT_PARAM_INIT_ZEROS, _ONES, or _NONE (clears it).
 * Statuses: DESCENT_ERR_INVALID_ARGUMENT (not a param node, unknown kind, bad gain),
 * DESCENT_ERR_SHAPE (fans undefined for the param's shape).
 */
descent_status descent_graph_param_init(descent_graph graph, int64_t node, int32_t kind, double gain);

/** A constant: a copy of `tensor` taken now. Never differentiated. */
descent_status descent_graph_constant(descent_graph graph, descent_tensor tensor, int64_t *node);

/** A rank-0 constant holding `value` (rounded to the graph's dtype). */
descent_status descent_graph_scalar(descent_graph graph, double value, int64_t *node);

/**
 * a op b elementwise (DESCENT_GRAPH_ADD ... _DIV). Shapes must be equal, or one must equal the
 * trailing axes of the other (a bias (n,) over (batch, n); a scalar over anything): the smaller
 * operand repeats, and its gradient is the float64 sum over the repeats.
 */
descent_status descent_graph_binary(descent_graph graph, int32_t op, int64_t a, int64_t b, int64_t *node);

/** op(x) elementwise (DESCENT_GRAPH_EXP ... _ABS). */
descent_status descent_graph_unary(descent_graph graph, int32_t op, int64_t x, int64_t *node);

/**
 * op(a) op(b) for rank-2 nodes, op = transpose when trans_a / trans_b is 1 (BLAS gemm).
 * Backward: dA = g op(B)^T (or its transpose), dB = op(A)^T g (or its transpose).
 */
descent_status descent_graph_matmul(descent_graph graph, int64_t a, int64_t b, int32_t trans_a, int32_t trans_b,
                                    int64_t *node);

/**
 * Sum or mean (DESCENT_GRAPH_SUM ... _MEAN_AXIS) over every element (axis ignored) or along
 * `axis` (negative counts from the end), accumulated in float64.
 */
descent_status descent_graph_reduce(descent_graph graph, int32_t op, int64_t x, int64_t axis, int64_t *node);

/** f(x) for an activation DESCENT_ACTIVATION_* (softmax along the last axis). */
descent_status descent_graph_activation(descent_graph graph, int32_t kind, double negative_slope, int64_t x,
                                        int64_t *node);

/**
 * A cost DESCENT_COST_* of `prediction` against `target` (a labels input for the two
 * classification costs; otherwise a node of the prediction's shape that does not depend on
 * params: gradients flow only into the prediction). `reduction` is DESCENT_REDUCTION_* (used by
 * BCE, BCE-logits, softmax cross-entropy and hinge); `parameter` is BCE's clamp ε (0 < ε < 0.5)
 * or the hinge margin, ignored otherwise. Unlike descent_loss_*, graph costs let NaN through
 * (the trainer's non-finite policy handles it) and BCE clamps probabilities without an error.
 */
descent_status descent_graph_cost(descent_graph graph, int32_t cost, int64_t prediction, int64_t target,
                                  int32_t reduction, double parameter, int64_t *node);

/** The L2 penalty λ/(2m) ‖w‖² (a scalar), gradient (λ/m) w. λ >= 0 finite, m >= 1. */
descent_status descent_graph_l2_penalty(descent_graph graph, int64_t w, double lambda, int64_t m, int64_t *node);

/**
 * A dense layer f(x W^T + b): x (batch, in), w (out, in), b (out,) or -1 for none, f a
 * DESCENT_ACTIVATION_*. Backward as descent_dense_backward; the input gradient is computed only
 * when x depends on params (a first layer skips that matrix product).
 */
descent_status descent_graph_dense(descent_graph graph, int64_t x, int64_t w, int64_t b, int32_t activation,
                                   double negative_slope, int64_t *node);

/**
 * Batch normalization of x (batch, features) with per-feature gamma and beta nodes, PyTorch's
 * conventions (momentum = weight of the new batch, e.g. 0.1; eps e.g. 1e-5). The graph owns the
 * running mean (starts at 0) and variance (1): training mode normalizes with batch statistics and
 * updates them; evaluation mode uses them (descent_graph_set_training).
 */
descent_status descent_graph_batchnorm(descent_graph graph, int64_t x, int64_t gamma, int64_t beta, double momentum,
                                       double eps, int64_t *node);

/**
 * Inverted dropout with drop probability p in [0, 1): in training mode element i of training
 * step s is kept and scaled by 1/(1-p) when u >= p, u = unit53(i) of SplitMix64 seeded with
 * SplitMix64(seed).output(s), else zeroed; in evaluation mode it is the identity. A trainer
 * advances s once per step; plain forward/backward calls do not.
 */
descent_status descent_graph_dropout(descent_graph graph, int64_t x, double p, uint64_t seed, int64_t *node);

/** Number of nodes. Statuses: DESCENT_ERR_NULL_POINTER, handle errors. */
descent_status descent_graph_node_count(descent_graph graph, int64_t *out);

/**
 * Removes the nodes from index `count` on (the most recently added), e.g. to undo a composite
 * build that failed part-way (a constant made for an operand, then an operation that refused it;
 * the Python package does this). Nodes read only earlier nodes, so the others stay valid; the
 * next run plans again, and descent_graph_value answers only after it. Statuses: handle errors;
 * DESCENT_ERR_INVALID_ARGUMENT (count < 0 or above the node count, or a param among the nodes to
 * remove: params cannot be removed), nothing removed.
 */
descent_status descent_graph_truncate(descent_graph graph, int64_t count);

/**
 * The symbolic shape of `node` (-1 marks the batch axis): its rank to *rank and extents to
 * shape[0 .. rank) (shape may be NULL for rank 0). DESCENT_ERR_BUFFER_TOO_SMALL when capacity < rank.
 */
descent_status descent_graph_shape(descent_graph graph, int64_t node, int64_t *rank, int64_t *shape,
                                   int64_t capacity);

/** Number of param nodes, and the node index of param `position` (creation order). */
descent_status descent_graph_param_count(descent_graph graph, int64_t *out);
descent_status descent_graph_param_node(descent_graph graph, int64_t position, int64_t *node);

/**
 * Binds `tensor` to input `node` (its shape must match, any extent on the batch axis). The
 * graph reads it in place on every run until bound again and keeps a reference to it.
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (not an input node), DESCENT_ERR_DTYPE,
 * DESCENT_ERR_SHAPE.
 */
descent_status descent_graph_set_input(descent_graph graph, int64_t node, descent_tensor tensor);

/**
 * Copies `count` labels into labels input `node` (labels may be NULL when count is 0). Values are
 * checked against the class count when a run uses them. Statuses: handle errors,
 * DESCENT_ERR_NULL_POINTER, DESCENT_ERR_INVALID_ARGUMENT (not a labels node, count < 0),
 * DESCENT_ERR_OUT_OF_MEMORY.
 */
descent_status descent_graph_set_labels(descent_graph graph, int64_t node, const int64_t *labels, int64_t count);

/** training = 1 (default) or 0 (evaluation: batch norm uses running statistics, no dropout). */
descent_status descent_graph_set_training(descent_graph graph, int32_t training);

/**
 * Evaluates `node` and copies its value (row-major, `dtype` must be the graph's) into out, which
 * holds `capacity` elements; writes the element count to *count when count is not NULL. out may
 * be NULL with capacity 0 to only evaluate and learn the count.
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (unbound input, bad label, one-sample
 * training batch norm, a labels input as `node`: it has no float value), DESCENT_ERR_SHAPE (batch
 * sizes disagree), DESCENT_ERR_DTYPE,
 * DESCENT_ERR_BUFFER_TOO_SMALL, DESCENT_ERR_OUT_OF_MEMORY (first run at a new batch size).
 */
descent_status descent_graph_forward(descent_graph graph, int64_t node, int32_t dtype, void *out, int64_t capacity,
                                     int64_t *count);

/**
 * Copies the value `node` had in the most recent run (forward, backward or a trainer step)
 * WITHOUT running anything again (a training-mode run updates batch norm statistics), like
 * descent_graph_forward's copy: out may be NULL with capacity 0 to learn the count. Params and
 * constants always have a value. DESCENT_ERR_INVALID_ARGUMENT when the last completed run did
 * not compute the node (a run that failed its checks computes nothing, and nodes added since were
 * never computed) or it is a labels input, DESCENT_ERR_BUFFER_TOO_SMALL, DESCENT_ERR_DTYPE.
 */
descent_status descent_graph_value(descent_graph graph, int64_t node, int32_t dtype, void *out, int64_t capacity,
                                   int64_t *count);

/**
 * Evaluates the scalar node `loss` (written to *loss_out when not NULL) and writes d loss/d param
 * for every trainable param into the gradient buffer. Statuses: as descent_graph_forward, plus
 * DESCENT_ERR_SHAPE (loss not a scalar).
 */
descent_status descent_graph_backward(descent_graph graph, int64_t loss, double *loss_out);

/** Copies param node `node`'s gradient (from the last backward) into out (`capacity` elements). */
descent_status descent_graph_grad(descent_graph graph, int64_t node, int32_t dtype, void *out, int64_t capacity);

/**
 * The flat gradient buffer: *data points at *count elements of the graph's dtype holding every
 * param's gradient in param order (frozen params' slices stay 0). Valid until a param is added to
 * the graph or the graph is freed; you may read and write it (e.g. an allreduce in place).
 */
descent_status descent_graph_grad_buffer(descent_graph graph, void **data, int64_t *count);

/**
 * Re-initializes every trainable param from its initializer (descent_graph_param_init; param
 * position k uses seed SplitMix64(seed).output(k)) and resets batch norm running statistics to 0
 * and 1. DESCENT_ERR_INVALID_ARGUMENT, changing nothing, when a trainable param has none.
 */
descent_status descent_graph_init_params(descent_graph graph, uint64_t seed);

/**
 * Reads (write = 0) or sets (write = 1) batch norm node `node`'s running mean and variance
 * (`capacity` = the feature count when writing; variances must be >= 0).
 */
descent_status descent_graph_running_stats(descent_graph graph, int64_t node, int32_t dtype, void *mean,
                                           void *variance, int64_t capacity, int32_t write);

/* @@training@@ */
/* ---------------------------------------------------------------------------------------------
 * Training: data loaders, the one-call training step, fit, random restarts, range test
 *
 * A loader serves mini-batches of a dataset in memory; a trainer ties a graph, its loss node and
 * an optimizer over (some of) the graph's params: descent_trainer_step_batch gathers a batch,
 * runs forward and backward, clips, sets the scheduled learning rate and updates, in one call.
 * The whole loop from C (the MLP of examples/train_mlp.c):
 *
 *     descent_loader_new(x, 0, labels, n, 128, DESCENT_LOADER_SHUFFLE, 42, &train);
 *     descent_trainer_new(graph, adam, loss, &trainer);
 *     descent_trainer_set_nodes(trainer, input, labels_node, logits);
 *     for (int64_t epoch = 0; epoch < 10; epoch++) {
 *         descent_loader_set_epoch(train, epoch);
 *         for (int64_t b = 0; b < batches; b++)
 *             descent_trainer_step_batch(trainer, train, b, &loss, &correct, NULL);
 *     }
 *     descent_trainer_evaluate(trainer, test, &test_loss, &test_accuracy);
 *
 * or descent_trainer_fit, which is that loop plus validation, early stopping and callbacks.
 * ------------------------------------------------------------------------------------------- */

/** Handles to a data loader and a trainer. 0 is the null handle. */
typedef uint64_t descent_loader;
typedef uint64_t descent_trainer;

/** Loader flags. */
enum {
    DESCENT_LOADER_SHUFFLE = 1,  /* a new permutation each epoch, from the seed */
    DESCENT_LOADER_DROP_LAST = 2 /* skip the last partial batch */
};

/**
 * A loader over `inputs` (N, ...) and either float `targets` (N, ..., same dtype; 0 for none) or
 * `label_count` = N integer labels (copied; labels may be NULL when label_count is 0). The loader
 * reads inputs and targets in place (keep wrapped memory alive). batch_size >= 1 (N for batch
 * gradient descent, 1 for stochastic). Epoch e's order is 0..N-1, or with DESCENT_LOADER_SHUFFLE
 * a Fisher-Yates permutation from SplitMix64(SplitMix64(seed).output(e)) (docs/training.md).
 * Statuses: handle errors, DESCENT_ERR_NULL_POINTER, DESCENT_ERR_SHAPE (rank-0 inputs, targets
 * or labels not N), DESCENT_ERR_DTYPE, DESCENT_ERR_INVALID_ARGUMENT (unknown flags, batch size,
 * both targets and labels), DESCENT_ERR_OUT_OF_MEMORY.
 */
descent_status descent_loader_new(descent_tensor inputs, descent_tensor targets, const int64_t *labels,
                                  int64_t label_count, int64_t batch_size, int32_t flags, uint64_t seed,
                                  descent_loader *out);

/** Frees a loader. A null or already-freed handle is a harmless no-op. */
descent_status descent_loader_free(descent_loader loader);

/** Batches per epoch: ceil(N / batch) (floor with DESCENT_LOADER_DROP_LAST). */
descent_status descent_loader_batch_count(descent_loader loader, int64_t *out);

/** Fixes the sample order of epoch `epoch` (>= 0) for the batches that follow. */
descent_status descent_loader_set_epoch(descent_loader loader, int64_t epoch);

/**
 * The sample indices of batch `batch` of the current epoch (epoch 0 if none was set) into out
 * (`capacity` elements), their number into *count. DESCENT_ERR_BUFFER_TOO_SMALL, _INVALID_ARGUMENT
 * (batch out of range).
 */
descent_status descent_loader_batch_indices(descent_loader loader, int64_t batch, int64_t *out, int64_t capacity,
                                            int64_t *count);

/**
 * A trainer for scalar node `loss` of `graph` with `optimizer` (0: an evaluation-only trainer,
 * for descent_trainer_evaluate; its steps fail with DESCENT_ERR_INVALID_ARGUMENT), whose params must all be
 * trainable params of the graph (matched by memory and shape; graph params it does not hold
 * stay frozen). The optimizer's gradients are bound to the graph's gradient buffer (no copies;
 * rebound automatically if something else binds others). Statuses: handle errors,
 * DESCENT_ERR_INVALID_ARGUMENT (an optimizer param not in the graph, or frozen), DESCENT_ERR_SHAPE
 * (loss not a scalar), DESCENT_ERR_NULL_POINTER, DESCENT_ERR_OUT_OF_MEMORY.
 */
descent_status descent_trainer_new(descent_graph graph, descent_optimizer optimizer, int64_t loss,
                                   descent_trainer *out);

/** Frees a trainer (the graph and optimizer stay). Null or already-freed: harmless no-op. */
descent_status descent_trainer_free(descent_trainer trainer);

/**
 * The nodes a loader's batches feed: `input` (an input node), `target` (a labels input for
 * loaders with labels, an input node for float targets; -1 none) and `output` (a (batch, classes)
 * node whose row argmax is compared with the labels for accuracy; -1 none).
 */
descent_status descent_trainer_set_nodes(descent_trainer trainer, int64_t input, int64_t target, int64_t output);

/**
 * Before each update, set every group's learning rate to schedule(t), t = the optimizer's
 * completed steps (per_epoch = 0) or the trainer's completed epochs (per_epoch = 1); schedule 0
 * removes it (the optimizer's lr stays as last set). The same as descent_trainer_set_schedule_ex
 * with DESCENT_SCHEDULE_BASE_AGREE: the schedule's base rate must equal the lr of every group of
 * the trainer's optimizer. A schedule that cycles momentum (descent_schedule_momentum succeeds for
 * it) also sets every group's momentum to momentum(t): DESCENT_HYPER_MOMENTUM for SGD and RMSprop,
 * DESCENT_HYPER_BETA1 for the rules with betas (Adam, AdamW, Adamax, NAdam, RAdam, Lion), as
 * PyTorch's OneCycleLR does; rates and momentum are evaluated and checked before any changes, and
 * a step that fails or is skipped leaves them as they were before it. Statuses: DESCENT_OK; handle
 * errors; DESCENT_ERR_INVALID_ARGUMENT (per_epoch not 0 or 1, an evaluation-only trainer, the
 * rates conflict: the message names both, a momentum-cycling schedule for Adagrad or Adadelta,
 * which have neither). On failure the trainer's schedule is unchanged.
 */
descent_status descent_trainer_set_schedule(descent_trainer trainer, descent_schedule schedule, int32_t per_epoch);

/**
 * descent_trainer_set_schedule with a choice of whose rate counts (DESCENT_SCHEDULE_BASE_*),
 * checked against the groups' learning rates when called: AGREE (a conflict is
 * DESCENT_ERR_INVALID_ARGUMENT), OPTIMIZER (each group follows the schedule rebased to the lr it
 * has now, see descent_schedule_rebase), SCHEDULE (the schedule's values replace every group's
 * lr). Groups added to the optimizer afterwards make the next step fail with
 * DESCENT_ERR_INVALID_ARGUMENT until the schedule is set again. Extra status:
 * DESCENT_ERR_INVALID_ARGUMENT (base not one of the three).
 */
descent_status descent_trainer_set_schedule_ex(descent_trainer trainer, descent_schedule schedule, int32_t per_epoch,
                                               int32_t base);

/**
 * Clip the global L2 norm of the gradients of the optimizer's params (PyTorch's clip_grad_norm_
 * over the optimized params) to max_norm before each update: scale by max_norm/(norm + 1e-6)
 * when norm > max_norm. 0 turns it off.
 */
descent_status descent_trainer_set_clip_norm(descent_trainer trainer, double max_norm);

/** The trainer's completed-epoch counter (numbers the shuffles and per-epoch schedules). */
descent_status descent_trainer_epoch(descent_trainer trainer, int64_t *out);
descent_status descent_trainer_set_epoch(descent_trainer trainer, int64_t epoch);

/**
 * One training step on the graph's bound inputs: forward, backward (recording whether every
 * gradient is finite as it is written), clipping, the scheduled learning rate, and the
 * optimizer's update under its non-finite policy. Writes the loss (before the update) and
 * whether the step was skipped (policy skip). On failure (including DESCENT_ERR_NON_FINITE under
 * policy raise) params, optimizer state and batch norm running statistics are unchanged; the
 * gradient buffer (descent_graph_grad_buffer) is scratch, like node values: it holds what the
 * step's backward wrote (the non-finite gradients, say) when the failure came after it.
 * Statuses: those of descent_graph_backward and descent_optimizer_step.
 */
descent_status descent_trainer_step(descent_trainer trainer, double *loss, int32_t *skipped);

/**
 * descent_trainer_step on batch `batch` of `loader`'s current epoch (gathered into the input and
 * target nodes of descent_trainer_set_nodes). *correct (may be NULL) gets the number of correct
 * argmax predictions in the batch, or -1 without an output node and labels.
 */
descent_status descent_trainer_step_batch(descent_trainer trainer, descent_loader loader, int64_t batch,
                                          double *loss, int64_t *correct, int32_t *skipped);

/**
 * In evaluation mode over every batch of `loader`: the batch-size-weighted mean of the loss
 * node (the dataset's loss for mean-reduced costs) and the accuracy (NaN without labels and an
 * output node). Nothing is updated. Either out-pointer may be NULL.
 */
descent_status descent_trainer_evaluate(descent_trainer trainer, descent_loader loader, double *loss,
                                        double *accuracy);

/**
 * Callbacks of descent_trainer_fit. Return 0 to go on, 1 to stop training after this step or
 * epoch, anything else to abort with DESCENT_ERR_CALLBACK. `metrics` points at the epoch's
 * DESCENT_HISTORY_COLUMNS values.
 */
typedef int32_t (*descent_step_fn)(void *context, int64_t epoch, int64_t batch, double loss);
typedef int32_t (*descent_epoch_fn)(void *context, int64_t epoch, const double *metrics);

/** Columns of a history row: loss, accuracy, val_loss, val_accuracy, steps, skipped steps. */
#define DESCENT_HISTORY_COLUMNS 6

/**
 * Trains for `epochs` epochs over `train` (epoch numbers continue the trainer's counter), after
 * each epoch evaluating `validation` (0 for none). Training loss/accuracy of an epoch are running
 * averages over its steps. Early stopping: with patience > 0, stops when the monitored loss
 * (validation loss, else training loss) has not fallen by more than min_delta for `patience`
 * epochs; restore_best = 1 puts back the params and batch norm statistics of the best epoch at the
 * end. Outputs (each may be NULL with capacity 0): history rows (history_capacity rows of
 * DESCENT_HISTORY_COLUMNS doubles), step_losses (step_capacity doubles), summary[4] = {epochs run,
 * steps run, best epoch (-1 none), stopped early}.
 * Statuses: those of descent_trainer_step_batch and _evaluate, DESCENT_ERR_CALLBACK,
 * DESCENT_ERR_INVALID_ARGUMENT (negative epochs/patience/min_delta, an empty loader). A failure
 * mid-training leaves the params as last updated.
 */
descent_status descent_trainer_fit(descent_trainer trainer, descent_loader train, descent_loader validation,
                                   int64_t epochs, int64_t patience, double min_delta, int32_t restore_best,
                                   descent_step_fn on_step, descent_epoch_fn on_epoch, void *context,
                                   double *history, int64_t history_capacity, double *step_losses,
                                   int64_t step_capacity, int64_t *summary);

/**
 * Random restarts: `count` runs of descent_trainer_fit (restore_best = 1), run k starting from
 * descent_graph_init_params(SplitMix64(seed).output(k)) and a reset optimizer
 * (descent_optimizer_reset), with the same shuffles. results (count rows of 4 doubles, may be
 * NULL): final training loss, best monitored loss, validation accuracy at the best epoch, epochs
 * run; seeds (count, may be NULL): each run's init seed; *best: the run with the lowest best loss
 * (-1 if none was finite). The graph ends holding the best run's params.
 */
descent_status descent_trainer_restarts(descent_trainer trainer, int64_t count, uint64_t seed, descent_loader train,
                                        descent_loader validation, int64_t epochs, int64_t patience,
                                        double min_delta, double *results, uint64_t *seeds, int64_t *best);

/**
 * Learning-rate range test (Smith 2017): up to `steps` training steps with lr_i = start
 * (end/start)^(i/(steps-1)), recording each rate, loss and smoothed loss (debiased exponential
 * average with factor `smoothing` in [0, 1), e.g. 0.98) into rates/losses/smoothed (`steps`
 * doubles each, may be NULL); stops early when the smoothed loss exceeds `divergence` (> 1, e.g.
 * 4) times its minimum. *points = rows written; *suggested = the rate where the smoothed loss falls
 * fastest against log(rate), ignoring the first min(10, n/5) and last min(5, n/10) of the n points
 * (NaN with fewer than 3 points). Afterwards params, batch norm
 * statistics, optimizer state, step count, learning rates and the loader's epoch (its sample
 * order) are exactly as before, also after a failure.
 */
descent_status descent_trainer_range_test(descent_trainer trainer, descent_loader loader, double start, double end,
                                          int64_t steps, double smoothing, double divergence, double *rates,
                                          double *losses, double *smoothed, int64_t *points, double *suggested);

/**
 * Puts the optimizer back to its state before any step: every state slot to its initial value,
 * the step count to 0, NAdam's running product to 1. Hyper-parameters and gradients stay.
 */
descent_status descent_optimizer_reset(descent_optimizer optimizer);

/* ============================================================================================
 * Data-parallel training (docs/distributed.md)
 *
 * The library never calls MPI: it exposes what a data-parallel loop needs, and the loop (Python's
 * descent.distributed, or examples/mpi/train_mlp_mpi.c) makes the MPI calls. Each of N ranks holds
 * a replica of the model; per step, with the same loader seed everywhere:
 *
 *     descent_trainer_backward_batch(trainer, loader, b, rank, N, &loss, &correct, &samples);
 *     descent_graph_grad_buffer(graph, &grads, &count);             // every gradient, one region
 *     MPI_Allreduce(MPI_IN_PLACE, grads, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
 *     descent_trainer_apply(trainer, &skipped);                      // the same update everywhere
 *
 * Sharded optimizer state (ZeRO stage 1): rank r steps only its range of the flattened params with
 * a shard (descent_optimizer_shard) whose gradients are one flat buffer (descent_optimizer_grad_buffer,
 * filled by a reduce-scatter); an allgather into descent_graph_param_buffer then gives every rank
 * the updated params.
 * ========================================================================================== */

/**
 * The first half of a training step: forward and backward on part `part` of `parts` of batch
 * `batch` of `loader`'s current epoch, i.e. rows part*B/parts ..< (part+1)*B/parts (integer
 * division) of the batch's B samples, updating nothing. The gradients are left in the graph's
 * flat gradient buffer (descent_graph_grad_buffer) scaled by n/B, n being the part's sample
 * count, so that the SUM of the parts' buffers is the gradient of the whole batch when the loss
 * is a mean over samples (every mean-reduced cost, plus batch-independent terms such as an L2
 * penalty); sum-reduced costs need no scaling and do not fit this call. With parts = 1 it is the
 * gradient half of descent_trainer_step_batch. Outputs (each may be NULL): the part's mean loss,
 * its correct argmax predictions (-1 without labels and an output node) and n. An empty part
 * (B < parts) writes zero gradients and loss 0. Batch norm uses the part's own statistics; dropout
 * masks are those of the trainer's step counter, which this call advances.
 * Statuses: those of descent_trainer_step_batch; DESCENT_ERR_INVALID_ARGUMENT (parts < 1, part
 * outside 0 ..< parts, batch outside the epoch, an evaluation-only trainer). On failure params,
 * optimizer state and running statistics are unchanged (the gradient buffer may have been written).
 */
descent_status descent_trainer_backward_batch(descent_trainer trainer, descent_loader loader, int64_t batch,
                                              int64_t part, int64_t parts, double *loss, int64_t *correct,
                                              int64_t *samples);

/**
 * The second half of a training step, on whatever the graph's gradient buffer holds now (e.g. the
 * allreduced sum of every rank's descent_trainer_backward_batch): clipping, the scheduled
 * learning rate and the optimizer's update under its non-finite policy (the gradients are scanned
 * again, since they changed after backward). *skipped (may
 * be NULL) = 1 when policy skip skipped the update. Identical buffers give identical updates, so
 * replicas stay bit-identical.
 * Statuses: those of descent_trainer_step. On failure (including DESCENT_ERR_NON_FINITE under
 * policy raise) params, optimizer state and batch norm running statistics are unchanged.
 */
descent_status descent_trainer_apply(descent_trainer trainer, int32_t *skipped);

/**
 * The graph's params as one flat region, without copying: *data points at *count elements of the
 * graph's dtype, every param in param order, when the params lie back to back in memory (views
 * of one array, as the Python MLP allocates them). Writing the region writes the params (an
 * MPI_Bcast of rank 0's initial values, an allgather after a sharded update). The memory is the
 * params' (yours): valid while they live.
 * Statuses: DESCENT_ERR_NULL_POINTER, DESCENT_ERR_INVALID_HANDLE, DESCENT_ERR_INVALID_ARGUMENT (no
 * params, or params that are not one contiguous region in param order; nothing is written).
 */
descent_status descent_graph_param_buffer(descent_graph graph, void **data, int64_t *count);

/**
 * A new optimizer (a shard) over flat elements start ..< start+count of `optimizer`'s flattened
 * params (every param's elements concatenated in param order, as descent_graph_grad_buffer lays
 * out a graph's gradients when the optimizer holds the graph's params in order). The shard
 * updates those elements of the original params in place; it has the same rule, groups (a group
 * may be empty), hyper-parameters, step count, NAdam products and non-finite policy, and a COPY
 * of the state of those elements only: about count/total of the state memory. Its gradients are
 * bound to one zeroed flat buffer per dtype (descent_optimizer_grad_buffer). Free it with
 * descent_optimizer_free; the params' memory must outlive it. `optimizer` is unchanged.
 * Statuses: DESCENT_ERR_NULL_POINTER, DESCENT_ERR_INVALID_HANDLE, DESCENT_ERR_INVALID_ARGUMENT (a
 * range outside 0 ..< total), DESCENT_ERR_OUT_OF_MEMORY.
 */
descent_status descent_optimizer_shard(descent_optimizer optimizer, int64_t start, int64_t count,
                                       descent_optimizer *out);

/**
 * The optimizer's gradients of dtype `dtype` as one flat buffer in param order: *data points at
 * *count elements (0 when no param has that dtype). When the bound gradients are not already
 * views of one buffer per dtype, zeroed buffers are allocated and bound in their place (replacing
 * descent_optimizer_set_grads' binding), so one allreduce or reduce-scatter into the buffer fills
 * every gradient and descent_optimizer_step reads them. Library-owned; valid until gradients are
 * bound again, a group is added, or the optimizer is freed.
 * Statuses: DESCENT_ERR_NULL_POINTER, DESCENT_ERR_INVALID_HANDLE, DESCENT_ERR_DTYPE (unknown
 * dtype), DESCENT_ERR_OUT_OF_MEMORY (the previous binding stays).
 */
descent_status descent_optimizer_grad_buffer(descent_optimizer optimizer, int32_t dtype, void **data,
                                             int64_t *count);

/**
 * *elements (may be NULL) = elements of the flattened params (the total descent_optimizer_shard
 * ranges split); *state_bytes (may be NULL) = bytes of state buffers the optimizer holds (what
 * sharding divides by N). Statuses: DESCENT_ERR_INVALID_HANDLE.
 */
descent_status descent_optimizer_sizes(descent_optimizer optimizer, int64_t *elements, int64_t *state_bytes);

#ifdef __cplusplus
}
#endif

#endif /* DESCENT_H */
