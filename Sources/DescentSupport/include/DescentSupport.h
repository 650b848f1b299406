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
