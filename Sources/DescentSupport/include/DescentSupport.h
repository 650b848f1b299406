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
DSUPPORT_HIDDEN void dsupport_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a,
                                    int lda, const float *b, int ldb, float beta, float *c, int ldc);
DSUPPORT_HIDDEN void dsupport_dgemm(int transpose_a, int transpose_b, int m, int n, int k, double alpha,
                                    const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc);
DSUPPORT_HIDDEN void dsupport_saxpy(int count, float alpha, const float *x, float *y);
DSUPPORT_HIDDEN void dsupport_daxpy(int count, double alpha, const double *x, double *y);
DSUPPORT_HIDDEN void dsupport_sscal(int count, float alpha, float *x);
DSUPPORT_HIDDEN void dsupport_dscal(int count, double alpha, double *x);

#endif
