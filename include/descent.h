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

/* ---------------------------------------------------------------------------------------------
 * Learning-rate schedules and gradient clipping
 * ------------------------------------------------------------------------------------------- */
/* @@schedules@@ */

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
 * Statuses: as descent_loss_multiclass_hinge, plus DESCENT_ERR_INVALID_ARGUMENT (grad_w aliases).
 */
descent_status descent_loss_multiclass_hinge_linear(descent_tensor w, descent_tensor x, const int64_t *labels,
                                                    int64_t label_count, double margin, int32_t reduction,
                                                    descent_tensor grad_w, double *loss);

/**
 * L2 regularization R = λ/(2m) ||W||², gradient (λ/m) W into `grad` (optional; may be W itself).
 * m = 1 gives the common ½λ||W||² with gradient λW; m = the batch or training-set size gives the
 * textbook's form, whose descent step is W -= η(λ/m)W. λ finite and >= 0, m >= 1.
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
 * DESCENT_ERR_NON_FINITE (leaky slope).
 */
descent_status descent_dense_forward(descent_tensor a, descent_tensor w, descent_tensor b, int32_t activation,
                                     double negative_slope, descent_tensor z, descent_tensor out);

/**
 * Backward pass of descent_dense_forward, given z and dout = dL/dout (batch, out):
 *     dz = f'(z) * dout (the activation's vector-Jacobian product),
 *     dW = dz^T a (out, in),  db = Σ_batch dz (out,),  da = dz W (batch, in).
 * db and da are optional. Outputs must not share memory with each other or with any input.
 * Statuses: common ones, DESCENT_ERR_INVALID_ARGUMENT (unknown activation, aliasing),
 * DESCENT_ERR_NON_FINITE (leaky slope).
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
 * The seeds' step-size experiment: for each of the `count` step sizes s_k (the seeds use
 * 1e-10, 1e-9, ..., 1e-1), sets W := W0 - s_k grad and writes f(W) to losses[k]. W is restored to
 * W0 bit for bit afterwards (also on failure). step_sizes and losses may be NULL when count is 0.
 * Statuses: common ones, DESCENT_ERR_NULL_POINTER (f NULL), DESCENT_ERR_INVALID_ARGUMENT
 * (count < 0 or above 2^24, grad sharing W's memory), DESCENT_ERR_NON_FINITE (a step size or grad not finite),
 * DESCENT_ERR_CALLBACK. On failure losses is unchanged.
 */
descent_status descent_step_size_sweep(descent_scalar_fn f, void *context, descent_tensor w, descent_tensor grad,
                                       const double *step_sizes, int64_t count, double *losses);

#ifdef __cplusplus
}
#endif

#endif /* DESCENT_H */
