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

#ifdef __cplusplus
}
#endif

#endif /* DESCENT_H */
