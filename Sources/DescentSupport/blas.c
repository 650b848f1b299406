// Which BLAS serves the library's matrix products and level-1 calls, chosen once, at first use:
//   1. $DESCENT_BLAS = "system" forces the system OpenBLAS the library links (libopenblas.so.0);
//      any other non-empty value other than "bundled" is a path to a CBLAS library to load
//      (symbols cblas_* or scipy_cblas_*), falling back to the system one when it fails;
//   2. else libscipy_openblas.so beside libdescent.so (a newer OpenBLAS that `make` places there,
//      from the scipy-openblas32 package on PyPI: its threaded sgemm/dgemm are much faster on the
//      small matrices of a training step than Debian's 0.3.21);
//   3. else the system OpenBLAS.
// dsupport_blas_name() says which one was chosen.
#define _GNU_SOURCE
#include "DescentSupport.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int, double,
                         double *, int);
typedef void (*saxpy_fn)(int, float, const float *, int, float *, int);
typedef void (*daxpy_fn)(int, double, const double *, int, double *, int);
typedef void (*sscal_fn)(int, float, float *, int);
typedef void (*dscal_fn)(int, double, double *, int);

static struct {
    sgemm_fn sgemm;
    dgemm_fn dgemm;
    saxpy_fn saxpy;
    daxpy_fn daxpy;
    sscal_fn sscal;
    dscal_fn dscal;
    int partitioned;  // the loaded library runs single-threaded; the caller partitions products
    char name[512];
} blas;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void use_system(const char *why) {
    blas.sgemm = (sgemm_fn)cblas_sgemm;
    blas.dgemm = (dgemm_fn)cblas_dgemm;
    blas.saxpy = (saxpy_fn)cblas_saxpy;
    blas.daxpy = (daxpy_fn)cblas_daxpy;
    blas.sscal = (sscal_fn)cblas_sscal;
    blas.dscal = (dscal_fn)cblas_dscal;
    snprintf(blas.name, sizeof blas.name, "system OpenBLAS (libopenblas.so.0%s%s)", why[0] ? "; " : "", why);
}

static void *symbol(void *handle, const char *prefix, const char *name) {
    char full[64];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return dlsym(handle, full);
}

static int try_load(const char *path) {
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) return 0;
    static const char *const prefixes[] = {"scipy_", ""};
    for (int p = 0; p < 2; p++) {
        const char *prefix = prefixes[p];
        void *s = symbol(handle, prefix, "cblas_sgemm"), *d = symbol(handle, prefix, "cblas_dgemm");
        void *sa = symbol(handle, prefix, "cblas_saxpy"), *da = symbol(handle, prefix, "cblas_daxpy");
        void *ss = symbol(handle, prefix, "cblas_sscal"), *ds = symbol(handle, prefix, "cblas_dscal");
        if (s && d && sa && da && ss && ds) {
            blas.sgemm = (sgemm_fn)s;
            blas.dgemm = (dgemm_fn)d;
            blas.saxpy = (saxpy_fn)sa;
            blas.daxpy = (daxpy_fn)da;
            blas.sscal = (sscal_fn)ss;
            blas.dscal = (dscal_fn)ds;
            // A private copy (RTLD_LOCAL) runs single-threaded: the library splits each large
            // product into blocks fixed by its shape and runs them on its own threads, so results
            // do not depend on any thread count (OpenBLAS's own split changes the rounding).
            void (*set_threads)(int) = (void (*)(int))symbol(handle, prefix, "openblas_set_num_threads");
            if (set_threads != NULL) {
                set_threads(1);
                blas.partitioned = 1;
            }
            snprintf(blas.name, sizeof blas.name, "%s", path);
            return 1;  // the handle stays open for the life of the process
        }
    }
    dlclose(handle);
    return 0;
}

static void choose(void) {
    const char *choice = getenv("DESCENT_BLAS");
    if (choice != NULL && strcmp(choice, "system") == 0) {
        use_system("DESCENT_BLAS=system");
        return;
    }
    if (choice != NULL && choice[0] != '\0' && strcmp(choice, "bundled") != 0) {
        if (!try_load(choice)) use_system("DESCENT_BLAS could not be loaded");
        return;
    }
    Dl_info info;
    if (dladdr((void *)choose, &info) && info.dli_fname != NULL) {
        char path[4096];
        snprintf(path, sizeof path, "%s", info.dli_fname);
        char *slash = strrchr(path, '/');
        size_t directory = slash ? (size_t)(slash - path) + 1 : 0;
        snprintf(path + directory, sizeof path - directory, "%s", "libscipy_openblas.so");
        if (try_load(path)) return;
    }
    use_system(choice != NULL && strcmp(choice, "bundled") == 0 ? "no bundled libscipy_openblas.so found" : "");
}

static inline void ready(void) { pthread_once(&blas_once, choose); }

int dsupport_blas_partitioned(void) {
    ready();
    return blas.partitioned;
}

const char *dsupport_blas_name(void) {
    ready();
    return blas.name;
}

void dsupport_sgemm(int transpose_a, int transpose_b, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *b, int ldb, float beta, float *c, int ldc) {
    ready();
    blas.sgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n,
               k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dsupport_dgemm(int transpose_a, int transpose_b, int m, int n, int k, double alpha, const double *a, int lda,
                    const double *b, int ldb, double beta, double *c, int ldc) {
    ready();
    blas.dgemm(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans, m, n,
               k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void dsupport_saxpy(int count, float alpha, const float *x, float *y) {
    ready();
    blas.saxpy(count, alpha, x, 1, y, 1);
}

void dsupport_daxpy(int count, double alpha, const double *x, double *y) {
    ready();
    blas.daxpy(count, alpha, x, 1, y, 1);
}

void dsupport_sscal(int count, float alpha, float *x) {
    ready();
    blas.sscal(count, alpha, x, 1);
}

void dsupport_dscal(int count, double alpha, double *x) {
    ready();
    blas.dscal(count, alpha, x, 1);
}
