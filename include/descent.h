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
 * Extra statuses: DESCENT_ERR_NON_FINITE, DESCENT_ERR_SHAPE (count < 0).
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
 * Extra statuses: DESCENT_ERR_NON_FINITE (non-finite bounds), DESCENT_ERR_INVALID_ARGUMENT
 * (low > high).
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
 *              Buffers must not alias one another and must be aligned to the element size.
 *              State buffers start at 0 unless the rule says otherwise; a state buffer the rule
 *              does not need under the given settings may be NULL (each rule says which).
 *   step       t of this update, >= 1 (keep your own counter: 1, 2, 3, ...).
 *   flags      a bitwise OR of DESCENT_OPT_* below; a flag the rule does not list is an error.
 * Large buffers are split over cores (elementwise, so results are bit-identical whatever the
 * thread count). No memory is allocated.
 * Statuses: DESCENT_OK; DESCENT_ERR_DTYPE (unknown dtype); DESCENT_ERR_NULL_POINTER (param, grad
 * or a needed state buffer NULL); DESCENT_ERR_INVALID_ARGUMENT (count < 0, step < 1, aliasing or
 * misaligned buffers, a hyper-parameter outside its domain such as lr < 0 or beta >= 1, unknown
 * or conflicting flags); DESCENT_ERR_NON_FINITE (a non-finite hyper-parameter or step size, or
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
    DESCENT_OPT_EMA_MOMENTUM = 128,          /* SGD: textbook v := μv + (1-μ)g; W := W - lr v */
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
 * max_exp_avg_sq may be NULL without AMSGRAD. The textbook notes' Adam is beta1 0.9, beta2 0.99,
 * eps 1e-8. Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY, EPS_INSIDE_SQRT, NO_BIAS_CORRECTION, AMSGRAD,
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
 * *mu_product must be in (0, 1]. Flags: MAXIMIZE, DECOUPLED_WEIGHT_DECAY (PyTorch's
 * decoupled_weight_decay), CHECK_FINITE.
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
 *     c := β1 m + (1 - β1) g;   W := W - lr sign(c);   m := β2 m + (1 - β2) g    (sign(0) = 0)
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
    DESCENT_NONFINITE_PROCEED = 2  /* no check: the update runs (NaN spreads) */
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
 * descent_optimizer_free. Statuses: DESCENT_ERR_NULL_POINTER (out), _INVALID_ARGUMENT (rule).
 */
descent_status descent_optimizer_new(int32_t rule, descent_optimizer *out);

/**
 * Destroys the optimizer (releasing its references to params, grads and state). A null or
 * already-freed handle is a harmless no-op. Statuses: DESCENT_OK, _WRONG_HANDLE_TYPE.
 */
descent_status descent_optimizer_free(descent_optimizer optimizer);

/**
 * Adds a parameter group: `count` distinct tensor handles (any mix of float32/float64, none
 * already registered), which take the optimizer's current defaults (group -1 of set_hyper).
 * Their state slots are allocated now. Writes the new group's index to *group_out (NULL allowed).
 * Binding of gradients is dropped (call descent_optimizer_set_grads again).
 * Statuses: handle errors (optimizer or any param), DESCENT_ERR_NULL_POINTER (params NULL with
 * count > 0), _INVALID_ARGUMENT (count < 0, duplicates), _OUT_OF_MEMORY. On failure nothing changed.
 */
descent_status descent_optimizer_add_group(descent_optimizer optimizer, const descent_tensor *params,
                                           int64_t count, int64_t *group_out);

/**
 * Sets hyper-parameter `key` (DESCENT_HYPER_*) of group `group`, or of the defaults for groups
 * added later when group == -1. It takes effect on the next step (a learning-rate schedule calls
 * this between steps). State slots the new setting needs (e.g. AMSGRAD's max_exp_avg_sq) are
 * allocated now, filled with their initial value.
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (no such group, a key the rule does not
 * have, a value outside its domain such as lr < 0, bad flags), _NON_FINITE (NaN/inf value),
 * _OUT_OF_MEMORY. On failure nothing changed.
 */
descent_status descent_optimizer_set_hyper(descent_optimizer optimizer, int64_t group, int32_t key,
                                           double value);

/** Reads hyper-parameter `key` of `group` (-1: the defaults) into *out. Statuses as set_hyper, _NULL_POINTER. */
descent_status descent_optimizer_get_hyper(descent_optimizer optimizer, int64_t group, int32_t key,
                                           double *out);

/**
 * Binds one gradient tensor per registered param, in registration order (group by group), each
 * with its param's dtype and shape. The optimizer keeps them; fill their memory in place between
 * steps. Binding again replaces the set.
 * Statuses: handle errors, DESCENT_ERR_NULL_POINTER, DESCENT_ERR_SHAPE (count differs from the
 * number of params, or a shape differs), _DTYPE, _INVALID_ARGUMENT (a grad is a param or a state
 * tensor). On failure the previous binding stays.
 */
descent_status descent_optimizer_set_grads(descent_optimizer optimizer, const descent_tensor *grads,
                                           int64_t count);

/**
 * One update of every param of every group, in ONE call, with t = step_count + 1 and each group's
 * hyper-parameters. Gradients are first checked for NaN/inf unless the policy is PROCEED.
 * Writes 1 to *skipped (NULL allowed) when the SKIP policy skipped the step, else 0.
 * Large work is split over cores across tensor boundaries; results are bit-identical whatever
 * the thread count. No memory is allocated for the update itself.
 * Statuses: handle errors, DESCENT_ERR_INVALID_ARGUMENT (no gradients bound), _NON_FINITE
 * (non-finite gradient under RAISE, or a non-finite step size). On failure (and on a skipped
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
 * Checkpoints. File format version 1 (all integers and floats little-endian; docs/optimizers.md
 * has the same table):
 *   header, 32 bytes:  "DSCNTOPT" magic (8) | u32 version = 1 | u32 flags (bit 0: param values
 *                      included) | u64 payload length | u64 FNV-1a-64 of the payload
 *                      (basis 0xcbf29ce484222325, prime 0x100000001b3, byte by byte)
 *   payload:           i32 rule | i32 non-finite policy | i64 step count | u32 K (13) |
 *                      defaults: K x (i32 DESCENT_HYPER_* key, f64 value) | i64 groups G |
 *                      G x [K x (i32 key, f64 value), f64 mu_product, i64 params in group] |
 *                      i64 params P | P x [i64 group, i32 dtype, i32 rank, rank x i64 extent,
 *                      u32 slot mask, each stored slot's elements, (param elements if flag bit 0)]
 */

/**
 * Saves the optimizer's complete state (rule, policy, step count, default and per-group
 * hyper-parameters, NAdam's Π, every allocated state buffer and, with include_params != 0, the
 * parameter values) to the file `path` (a NUL-terminated UTF-8 path). Written atomically: to
 * "<path>.tmp-<pid>", fsync'ed, then renamed over `path`; an existing file is replaced only when
 * the new one is complete. Statuses: handle errors, DESCENT_ERR_NULL_POINTER (path),
 * DESCENT_ERR_INVALID_ARGUMENT (empty path), DESCENT_ERR_IO (cannot create/write/rename; the
 * temporary file is removed), DESCENT_ERR_UNSUPPORTED (big-endian host). The optimizer is never
 * modified.
 */
descent_status descent_optimizer_save(descent_optimizer optimizer, const char *path, int32_t include_params);

/**
 * Loads a checkpoint written by descent_optimizer_save into an optimizer with the same rule,
 * group sizes, param dtypes and shapes (params are matched by registration order). Replaces
 * hyper-parameters, step count, policy, Π and state buffers, and the param values when the file
 * has them. Bound gradients are kept.
 * Statuses: handle errors, DESCENT_ERR_NULL_POINTER, DESCENT_ERR_IO (cannot open/read),
 * DESCENT_ERR_CORRUPT (bad magic, unknown version, truncated or extended file, checksum mismatch,
 * invalid stored values), DESCENT_ERR_INVALID_ARGUMENT (another rule, or group/param counts
 * differ), DESCENT_ERR_SHAPE (a param's dtype or shape differs), DESCENT_ERR_OUT_OF_MEMORY.
 * On failure the optimizer (and every param) is unchanged.
 */
descent_status descent_optimizer_load(descent_optimizer optimizer, const char *path);

/* ---------------------------------------------------------------------------------------------
 * Learning-rate schedules and gradient clipping
 * ------------------------------------------------------------------------------------------- */
/* @@schedules@@ */

/* ---------------------------------------------------------------------------------------------
 * Gradients: activations, costs, layers, batch normalization, initialization, numerical gradients
 * ------------------------------------------------------------------------------------------- */
/* @@gradients@@ */

#ifdef __cplusplus
}
#endif

#endif /* DESCENT_H */
