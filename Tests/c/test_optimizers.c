/* C tests of the optimizer ABI: functional steps and the stateful optimizer, including bad input. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"


#define N 1000

static int close_rel(double a, double b) { return fabs(a - b) <= 1e-12 * (fabs(a) + fabs(b)) + 1e-300; }

/* Adam in plain C, written from the header's formula (the reference for both paths). */
static void reference_adam(double *w, const double *g, double *m, double *v, int n, long t, double lr,
                           double b1, double b2, double eps) {
    double c1 = 1 - pow(b1, (double)t), c2 = 1 - pow(b2, (double)t);
    for (int i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        w[i] = w[i] - (lr / c1) * m[i] / (sqrt(v[i]) / sqrt(c2) + eps);
    }
}

static void fill(double *x, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = ((double)(seed >> 8) / (double)(1u << 24)) * 2.0 - 1.0;
    }
}

static void test_functional(void) {
    static double w[N], g[N], m[N], v[N], rw[N], rm[N], rv[N];
    fill(w, N, 1);
    memcpy(rw, w, sizeof w);
    memset(m, 0, sizeof m); memset(v, 0, sizeof v); memset(rm, 0, sizeof rm); memset(rv, 0, sizeof rv);
    int ok = 1;
    for (long t = 1; t <= 100; t++) {
        fill(g, N, (unsigned)(100 + t));
        ok &= descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, t, 1e-2, 0.9, 0.99, 1e-8, 0.0, 0) == DESCENT_OK;
        reference_adam(rw, g, rm, rv, N, t, 1e-2, 0.9, 0.99, 1e-8);
    }
    CHECK(ok);
    int same = 1;
    for (int i = 0; i < N; i++) same &= close_rel(w[i], rw[i]) && close_rel(m[i], rm[i]) && close_rel(v[i], rv[i]);
    CHECK(same);

    /* SGD plain in float32: W := W - lr g. */
    float wf[4] = {1, 2, 3, 4}, gf[4] = {1, 1, 1, 1};
    CHECK(descent_sgd_step(DESCENT_DTYPE_FLOAT32, 4, wf, gf, NULL, 1, 0.5, 0, 0, 0, 0) == DESCENT_OK);
    CHECK(wf[0] == 0.5f && wf[3] == 3.5f);

    /* Bad input: errors, nothing written. */
    double before[N];
    memcpy(before, w, sizeof w);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, NULL, g, m, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, NULL, m, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, NULL, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, DESCENT_OPT_AMSGRAD) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 1, -1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(descent_last_error(), "lr") != NULL);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 0, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, -1, w, g, m, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 1, 1e-3, 1.0, 0.999, 1e-8, 0, 0) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 1, NAN, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_NON_FINITE);
    CHECK(descent_adam_step(99, N, w, g, m, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_DTYPE);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, m, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, 1 << 20) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_sgd_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, 1, 0.1, 0.0, 0, 0, DESCENT_OPT_NESTEROV) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_lion_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, 1, 1e-4, 0.9, 0.99, 0, DESCENT_OPT_AMSGRAD) == DESCENT_ERR_INVALID_ARGUMENT);
    double mu = 1.0;
    CHECK(descent_nadam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 1, 2e-3, 0.9, 0.999, 1e-8, 0, 4e-3, 0) == DESCENT_ERR_NULL_POINTER);
    g[7] = INFINITY;
    CHECK(descent_adam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, NULL, 1, 1e-3, 0.9, 0.999, 1e-8, 0, DESCENT_OPT_CHECK_FINITE) == DESCENT_ERR_NON_FINITE);
    g[7] = 0.5;
    CHECK(memcmp(before, w, sizeof w) == 0);
    CHECK(descent_nadam_step(DESCENT_DTYPE_FLOAT64, N, w, g, m, v, &mu, 1, 2e-3, 0.9, 0.999, 1e-8, 0, 4e-3, 0) == DESCENT_OK);
    CHECK(mu < 1.0 && mu > 0.4);
}

static void test_stateful(void) {
    static double w[N], g[N], rw[N], rm[N], rv[N];
    fill(w, N, 7);
    memcpy(rw, w, sizeof w);
    memset(rm, 0, sizeof rm); memset(rv, 0, sizeof rv);
    int64_t shape[1] = {N};
    descent_tensor wt = 0, gt = 0, other = 0, small = 0;
    descent_optimizer opt = 0;
    CHECK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, w, N, &wt) == DESCENT_OK);
    CHECK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, g, N, &gt) == DESCENT_OK);
    CHECK(descent_optimizer_new(DESCENT_RULE_ADAM, &opt) == DESCENT_OK);
    int64_t group = -5;
    CHECK(descent_optimizer_add_group(opt, &wt, 1, &group) == DESCENT_OK && group == 0);
    CHECK(descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_LR, 1e-2) == DESCENT_OK);
    CHECK(descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_BETA2, 0.99) == DESCENT_OK);
    int32_t skipped = -1;
    CHECK(descent_optimizer_step(opt, &skipped) == DESCENT_ERR_INVALID_ARGUMENT); /* no grads bound */
    CHECK(descent_optimizer_set_grads(opt, &gt, 1) == DESCENT_OK);
    int ok = 1;
    for (long t = 1; t <= 100; t++) {
        fill(g, N, (unsigned)(500 + t)); /* filled in place: the bound tensor wraps g */
        ok &= descent_optimizer_step(opt, &skipped) == DESCENT_OK && skipped == 0;
        reference_adam(rw, g, rm, rv, N, t, 1e-2, 0.9, 0.99, 1e-8);
    }
    CHECK(ok);
    int same = 1;
    for (int i = 0; i < N; i++) same &= close_rel(w[i], rw[i]);
    CHECK(same);
    int64_t steps = 0;
    CHECK(descent_optimizer_step_count(opt, &steps) == DESCENT_OK && steps == 100);
    static double state[N];
    CHECK(descent_optimizer_state_get(opt, 0, 1, DESCENT_DTYPE_FLOAT64, state, N) == DESCENT_OK);
    same = 1;
    for (int i = 0; i < N; i++) same &= close_rel(state[i], rv[i]);
    CHECK(same);

    /* Bad input. */
    double lr = 0;
    CHECK(descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_LR, -1.0) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_get_hyper(opt, 0, DESCENT_HYPER_LR, &lr) == DESCENT_OK && lr == 1e-2);
    CHECK(descent_optimizer_set_hyper(opt, 3, DESCENT_HYPER_LR, 0.1) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_RHO, 0.5) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_set_hyper(opt, 0, 999, 0.5) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_get_hyper(opt, 0, DESCENT_HYPER_LR, NULL) == DESCENT_ERR_NULL_POINTER);
    int64_t small_shape[1] = {3};
    CHECK(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, small_shape, &small) == DESCENT_OK);
    CHECK(descent_optimizer_set_grads(opt, &small, 1) == DESCENT_ERR_SHAPE);       /* mismatched length */
    descent_tensor two[2] = {gt, gt};
    CHECK(descent_optimizer_set_grads(opt, two, 2) == DESCENT_ERR_SHAPE);          /* wrong count */
    CHECK(descent_optimizer_set_grads(opt, NULL, 1) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_optimizer_set_grads(opt, &wt, 1) == DESCENT_ERR_INVALID_ARGUMENT); /* grad is the param */
    CHECK(descent_optimizer_add_group(opt, &wt, 1, NULL) == DESCENT_ERR_INVALID_ARGUMENT); /* registered twice */
    CHECK(descent_optimizer_state_get(opt, 5, 0, DESCENT_DTYPE_FLOAT64, state, N) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_state_get(opt, 0, 2, DESCENT_DTYPE_FLOAT64, state, N) == DESCENT_ERR_INVALID_ARGUMENT); /* no amsgrad slot */
    CHECK(descent_optimizer_state_get(opt, 0, 0, DESCENT_DTYPE_FLOAT64, state, 3) == DESCENT_ERR_BUFFER_TOO_SMALL);
    CHECK(descent_optimizer_state_set(opt, 0, 0, DESCENT_DTYPE_FLOAT32, state, N) == DESCENT_ERR_DTYPE);
    CHECK(descent_optimizer_set_nonfinite_policy(opt, 7) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_step(wt, NULL) == DESCENT_ERR_WRONG_HANDLE_TYPE);
    CHECK(descent_optimizer_new(42, &other) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_new(DESCENT_RULE_SGD, NULL) == DESCENT_ERR_NULL_POINTER);

    /* Non-finite gradient: raise (default), then skip. */
    double wbefore[N];
    memcpy(wbefore, w, sizeof w);
    g[10] = NAN;
    CHECK(descent_optimizer_step(opt, &skipped) == DESCENT_ERR_NON_FINITE);
    CHECK(descent_optimizer_set_nonfinite_policy(opt, DESCENT_NONFINITE_SKIP) == DESCENT_OK);
    CHECK(descent_optimizer_step(opt, &skipped) == DESCENT_OK && skipped == 1);
    CHECK(descent_optimizer_step_count(opt, &steps) == DESCENT_OK && steps == 100);
    CHECK(memcmp(wbefore, w, sizeof w) == 0);
    g[10] = 0.25;

    /* The optimizer keeps its tensors alive: freeing the handles does not break a step. */
    CHECK(descent_tensor_free(gt) == DESCENT_OK);
    CHECK(descent_optimizer_step(opt, &skipped) == DESCENT_OK && skipped == 0);

    /* t = step_count + 1 would overflow: a typed error (it was a process-killing trap), nothing changes. */
    CHECK(descent_optimizer_set_step_count(opt, INT64_MAX) == DESCENT_OK);
    memcpy(wbefore, w, sizeof w);
    CHECK(descent_optimizer_step(opt, &skipped) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_step_count(opt, &steps) == DESCENT_OK && steps == INT64_MAX);
    CHECK(memcmp(wbefore, w, sizeof w) == 0);
    CHECK(descent_optimizer_set_step_count(opt, 101) == DESCENT_OK);

    /* Stale handle after free; double free is harmless. */
    CHECK(descent_optimizer_free(opt) == DESCENT_OK);
    CHECK(descent_optimizer_free(opt) == DESCENT_OK);
    CHECK(descent_optimizer_step(opt, NULL) == DESCENT_ERR_INVALID_HANDLE);
    CHECK(descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_LR, 0.1) == DESCENT_ERR_INVALID_HANDLE);
    CHECK(descent_optimizer_free(wt) == DESCENT_ERR_WRONG_HANDLE_TYPE);
    descent_tensor_free(small);
    descent_tensor_free(wt);
}

static void test_checkpoint(void) {
    enum { M = 64 };
    static double w[M], g[M], w2[M], g2[M];
    fill(w, M, 3);
    int64_t shape[1] = {M};
    descent_tensor wt = 0, gt = 0, wt2 = 0, gt2 = 0;
    descent_optimizer a = 0, b = 0, sgd = 0;
    CHECK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, w, M, &wt) == DESCENT_OK);
    CHECK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, g, M, &gt) == DESCENT_OK);
    CHECK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, w2, M, &wt2) == DESCENT_OK);
    CHECK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, g2, M, &gt2) == DESCENT_OK);
    CHECK(descent_optimizer_new(DESCENT_RULE_RMSPROP, &a) == DESCENT_OK);
    CHECK(descent_optimizer_set_hyper(a, -1, DESCENT_HYPER_MOMENTUM, 0.5) == DESCENT_OK);
    CHECK(descent_optimizer_add_group(a, &wt, 1, NULL) == DESCENT_OK);
    CHECK(descent_optimizer_set_grads(a, &gt, 1) == DESCENT_OK);
    for (int t = 0; t < 5; t++) { fill(g, M, 40u + (unsigned)t); CHECK(descent_optimizer_step(a, NULL) == DESCENT_OK); }

    char path[64], broken[64];
    snprintf(path, sizeof path, "/tmp/descent_test_opt_%d.ckpt", (int)getpid());
    snprintf(broken, sizeof broken, "/tmp/descent_test_opt_%d.bad", (int)getpid());
    CHECK(descent_optimizer_save(a, path, 1) == DESCENT_OK);
    CHECK(descent_optimizer_save(a, NULL, 1) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_optimizer_save(a, "/nonexistent-dir/x/y.ckpt", 1) == DESCENT_ERR_IO);
    /* Not UTF-8: rejected (repairing it would name another file). */
    CHECK(descent_optimizer_save(a, "/tmp/descent-\xff.ckpt", 1) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_optimizer_load(a, "/tmp/descent-\xff.ckpt") == DESCENT_ERR_INVALID_ARGUMENT);

    CHECK(descent_optimizer_new(DESCENT_RULE_RMSPROP, &b) == DESCENT_OK);
    CHECK(descent_optimizer_add_group(b, &wt2, 1, NULL) == DESCENT_OK);
    CHECK(descent_optimizer_set_grads(b, &gt2, 1) == DESCENT_OK);

    /* A truncated copy and a copy with one flipped byte are CORRUPT; b stays as it was. */
    FILE *in = fopen(path, "rb");
    static unsigned char bytes[1 << 16];
    size_t size = in ? fread(bytes, 1, sizeof bytes, in) : 0;
    if (in) fclose(in);
    CHECK(size > 64);
    FILE *out = fopen(broken, "wb");
    if (out) { fwrite(bytes, 1, size - 5, out); fclose(out); }
    CHECK(descent_optimizer_load(b, broken) == DESCENT_ERR_CORRUPT);
    bytes[size / 2] ^= 0x10;
    out = fopen(broken, "wb");
    if (out) { fwrite(bytes, 1, size, out); fclose(out); }
    CHECK(descent_optimizer_load(b, broken) == DESCENT_ERR_CORRUPT);
    int64_t steps = -1;
    CHECK(descent_optimizer_step_count(b, &steps) == DESCENT_OK && steps == 0);
    CHECK(descent_optimizer_load(b, "/nonexistent-dir/none.ckpt") == DESCENT_ERR_IO);

    /* Another rule: a clear error. */
    CHECK(descent_optimizer_new(DESCENT_RULE_SGD, &sgd) == DESCENT_OK);
    CHECK(descent_optimizer_load(sgd, path) == DESCENT_ERR_INVALID_ARGUMENT);

    /* The good file: b continues exactly like a. */
    CHECK(descent_optimizer_load(b, path) == DESCENT_OK);
    CHECK(descent_optimizer_step_count(b, &steps) == DESCENT_OK && steps == 5);
    CHECK(memcmp(w, w2, sizeof w) == 0);
    for (int t = 5; t < 10; t++) {
        fill(g, M, 40u + (unsigned)t);
        memcpy(g2, g, sizeof g);
        CHECK(descent_optimizer_step(a, NULL) == DESCENT_OK);
        CHECK(descent_optimizer_step(b, NULL) == DESCENT_OK);
    }
    CHECK(memcmp(w, w2, sizeof w) == 0);
    remove(path);
    remove(broken);
    descent_optimizer_free(a);
    descent_optimizer_free(b);
    descent_optimizer_free(sgd);
    descent_tensor_free(wt); descent_tensor_free(gt); descent_tensor_free(wt2); descent_tensor_free(gt2);
}

/* Every rule's functional step runs in float32 and float64 and moves the parameter. */
static void test_every_rule_smoke(void) {
    for (int dtype = DESCENT_DTYPE_FLOAT32; dtype <= DESCENT_DTYPE_FLOAT64; dtype++) {
        for (int rule = 0; rule < 10; rule++) {
            double pd[8], gd[8], ad[8] = {0}, bd[8] = {0}, cd[8] = {0}, mu = 1.0;
            float pf[8], gf[8], af[8] = {0}, bf[8] = {0}, cf[8] = {0};
            for (int i = 0; i < 8; i++) { pd[i] = pf[i] = 1.0f + (float)i; gd[i] = gf[i] = 0.5f - 0.1f * (float)i; }
            int f32 = dtype == DESCENT_DTYPE_FLOAT32;
            void *p = f32 ? (void *)pf : (void *)pd, *g = f32 ? (void *)gf : (void *)gd;
            void *a = f32 ? (void *)af : (void *)ad, *b = f32 ? (void *)bf : (void *)bd, *c = f32 ? (void *)cf : (void *)cd;
            descent_status status = -1;
            for (long t = 1; t <= 3; t++) {
                switch (rule) {
                case 0: status = descent_sgd_step(dtype, 8, p, g, a, t, 0.1, 0.9, 0.0, 0.01, DESCENT_OPT_NESTEROV); break;
                case 1: status = descent_adagrad_step(dtype, 8, p, g, a, t, 0.1, 0.01, 0.0, 1e-10, 0); break;
                case 2: status = descent_adadelta_step(dtype, 8, p, g, a, b, t, 1.0, 0.9, 1e-6, 0.0, 0); break;
                case 3: status = descent_rmsprop_step(dtype, 8, p, g, a, b, c, t, 0.01, 0.99, 1e-8, 0.0, 0.9, DESCENT_OPT_CENTERED); break;
                case 4: status = descent_adam_step(dtype, 8, p, g, a, b, c, t, 0.01, 0.9, 0.999, 1e-8, 0.0, DESCENT_OPT_AMSGRAD); break;
                case 5: status = descent_adamw_step(dtype, 8, p, g, a, b, NULL, t, 0.01, 0.9, 0.999, 1e-8, 0.01, 0); break;
                case 6: status = descent_adamax_step(dtype, 8, p, g, a, b, t, 0.01, 0.9, 0.999, 1e-8, 0.0, 0); break;
                case 7: status = descent_nadam_step(dtype, 8, p, g, a, b, &mu, t, 0.01, 0.9, 0.999, 1e-8, 0.0, 4e-3, 0); break;
                case 8: status = descent_radam_step(dtype, 8, p, g, a, b, t, 0.01, 0.9, 0.999, 1e-8, 0.0, 0); break;
                default: status = descent_lion_step(dtype, 8, p, g, a, t, 1e-3, 0.9, 0.99, 0.1, DESCENT_OPT_DECOUPLED_WEIGHT_DECAY); break;
                }
                if (status != DESCENT_OK) break;
            }
            CHECK(status == DESCENT_OK);
            double first = f32 ? (double)pf[0] : pd[0];
            CHECK(first != 1.0 && isfinite(first));
        }
    }
}

/* Audit regression: a gradient that is (or overlaps) ANOTHER param is refused, as descent.h says
 * ("a grad is, or shares memory with, any registered param or state tensor"); nothing changes. */
static void test_grads_must_not_overlap_any_param(void) {
    double memory[8] = {1, 2, 3, 4, 5, 6, 7, 8}, before[8], g[4] = {1, 1, 1, 1};
    int64_t shape[1] = {4};
    descent_tensor p0 = 0, p1 = 0, view = 0, gt = 0, other = 0;
    descent_optimizer opt = 0;
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, memory, 4, &p0));
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, memory + 4, 4, &p1));
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, memory + 2, 4, &view)); /* overlaps both */
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, g, 4, &gt));
    CHECK_OK(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, shape, &other));
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_SGD, &opt));
    descent_tensor params[2] = {p0, p1};
    CHECK_OK(descent_optimizer_add_group(opt, params, 2, NULL));
    descent_tensor good[2] = {gt, other}, swapped[2] = {p1, other}, overlapping[2] = {gt, view};
    CHECK_OK(descent_optimizer_set_grads(opt, good, 2));
    memcpy(before, memory, sizeof memory);
    CHECK_STATUS(descent_optimizer_set_grads(opt, swapped, 2), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(descent_last_error(), "gradient 0") != NULL);
    CHECK_STATUS(descent_optimizer_set_grads(opt, overlapping, 2), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(memcmp(before, memory, sizeof memory) == 0);
    int64_t steps = -1;
    CHECK_OK(descent_optimizer_step_count(opt, &steps));
    CHECK(steps == 0);
    CHECK_OK(descent_optimizer_step(opt, NULL));     /* the previous binding stays */
    CHECK(memory[0] == 1.0 - 1e-3 && memory[4] == 5.0);
    descent_optimizer_free(opt);
    descent_tensor_free(p0); descent_tensor_free(p1); descent_tensor_free(view);
    descent_tensor_free(gt); descent_tensor_free(other);
}

/* The kernel paths (descent_isa, descent_set_isa, descent_isa_available): float32 Adam with
 * AMSGrad and weight decay and float64 Nesterov SGD give the same bytes on every path this CPU
 * has; bad names and NULLs are errors that leave the selection alone. */
static void test_kernel_paths(void) {
    static const char *paths[] = {"baseline", "avx2", "avx512"};
    const char *initial = NULL;
    CHECK_OK(descent_isa(&initial));
    CHECK(initial != NULL);
    CHECK_STATUS(descent_isa(NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_set_isa(NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_set_isa("sse9"), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(descent_last_error(), "descent_set_isa: unknown kernel path 'sse9'") != NULL);
    int32_t available = -1;
    CHECK_STATUS(descent_isa_available("neon", &available), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(available == -1);
    CHECK_STATUS(descent_isa_available("avx2", NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_OK(descent_isa_available("baseline", &available));
    CHECK(available == 1);
    const char *still = NULL;
    CHECK_OK(descent_isa(&still));
    CHECK(still != NULL && initial != NULL && strcmp(still, initial) == 0);

    enum { COUNT = 1027, STEPS = 7 };
    static float p32[3][COUNT], m32[3][COUNT], v32[3][COUNT], vmax32[3][COUNT], g32[COUNT];
    static double p64[3][COUNT], b64[3][COUNT], g64[COUNT];
    int ran[3] = {0, 0, 0};
    for (int path = 0; path < 3; path++) {
        CHECK_OK(descent_isa_available(paths[path], &available));
        if (!available) {
            CHECK_STATUS(descent_set_isa(paths[path]), DESCENT_ERR_UNSUPPORTED);
            continue;
        }
        CHECK_OK(descent_set_isa(paths[path]));
        const char *now = NULL;
        CHECK_OK(descent_isa(&now));
        CHECK(now != NULL && strcmp(now, paths[path]) == 0);
        double seed_values[COUNT];
        fill(seed_values, COUNT, 11);
        for (int i = 0; i < COUNT; i++) {
            p32[path][i] = (float)seed_values[i];
            p64[path][i] = seed_values[i];
            m32[path][i] = v32[path][i] = vmax32[path][i] = 0;
            b64[path][i] = 0;
        }
        for (int t = 1; t <= STEPS; t++) {
            double grad_values[COUNT];
            fill(grad_values, COUNT, 100u + (unsigned)t);
            for (int i = 0; i < COUNT; i++) {
                g32[i] = (float)(grad_values[i] * 1e-2);
                g64[i] = grad_values[i];
            }
            CHECK_OK(descent_adam_step(DESCENT_DTYPE_FLOAT32, COUNT, p32[path], g32, m32[path], v32[path],
                                       vmax32[path], t, 1e-2, 0.9, 0.999, 1e-8, 0.01, DESCENT_OPT_AMSGRAD));
            CHECK_OK(descent_sgd_step(DESCENT_DTYPE_FLOAT64, COUNT, p64[path], g64, b64[path], t, 0.05, 0.9, 0.0,
                                      0.01, DESCENT_OPT_NESTEROV));
        }
        ran[path] = 1;
    }
    CHECK(ran[0] == 1);
    for (int path = 1; path < 3; path++) {
        if (!ran[path]) continue;
        CHECK(memcmp(p32[0], p32[path], sizeof p32[0]) == 0);
        CHECK(memcmp(v32[0], v32[path], sizeof v32[0]) == 0);
        CHECK(memcmp(vmax32[0], vmax32[path], sizeof vmax32[0]) == 0);
        CHECK(memcmp(p64[0], p64[path], sizeof p64[0]) == 0);
        CHECK(memcmp(b64[0], b64[path], sizeof b64[0]) == 0);
    }
    if (initial != NULL) CHECK_OK(descent_set_isa(initial));
}

/* Compact state from C: bfloat16 and 8-bit state through set_state_format, the memory they take,
 * values read back rounded to the format, and bad input leaving everything unchanged. */
static void test_compact_state(void) {
    enum { CN = 600 };
    static float p[CN], g[CN], state[CN];
    for (int i = 0; i < CN; i++) { p[i] = 1.0f; g[i] = (float)(i % 13) * 0.01f - 0.06f; }
    descent_tensor param, grad, param64;
    const int64_t shape[1] = {CN};
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, shape, p, CN, &param));
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, shape, g, CN, &grad));
    CHECK_OK(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, shape, &param64));
    descent_optimizer opt;
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_ADAM, &opt));
    CHECK_OK(descent_optimizer_add_group(opt, &param, 1, NULL));
    int64_t bytes = 0;
    CHECK_OK(descent_optimizer_sizes(opt, NULL, &bytes));
    CHECK(bytes == 2 * 4 * CN);
    CHECK_STATUS(descent_optimizer_set_state_format(opt, 3, 0, 0), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_optimizer_set_state_format(opt, DESCENT_STATE_INT8_BLOCKWISE, DESCENT_ROUND_STOCHASTIC, 1),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_optimizer_set_state_format(opt, DESCENT_STATE_INT8_BLOCKWISE, DESCENT_ROUND_NEAREST_EVEN, 0));
    CHECK_OK(descent_optimizer_sizes(opt, NULL, &bytes));
    CHECK(bytes == 2 * (CN + 4 * 3)); /* 600 elements: 3 blocks of 256 */
    int32_t format = -1, rounding = -1;
    uint64_t seed = 9;
    CHECK_OK(descent_optimizer_state_format(opt, &format, &rounding, &seed));
    CHECK(format == DESCENT_STATE_INT8_BLOCKWISE && rounding == DESCENT_ROUND_NEAREST_EVEN && seed == 0);
    /* A float64 param cannot join compact state; nothing changes. */
    CHECK_STATUS(descent_optimizer_add_group(opt, &param64, 1, NULL), DESCENT_ERR_DTYPE);
    int64_t groups = 0;
    CHECK_OK(descent_optimizer_counts(opt, NULL, &groups, NULL));
    CHECK(groups == 1);
    /* AMSGrad is refused under 8-bit state. */
    CHECK_STATUS(descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_FLAGS, DESCENT_OPT_AMSGRAD), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_optimizer_set_grads(opt, &grad, 1));
    CHECK_OK(descent_optimizer_step(opt, NULL));
    /* exp_avg after one step is 0.1 g, read back through the 8-bit map: within 1/16 relative. */
    CHECK_OK(descent_optimizer_state_get(opt, 0, 0, DESCENT_DTYPE_FLOAT32, state, CN));
    int close = 1;
    for (int i = 0; i < CN; i++) {
        const float want = 0.1f * g[i];
        if (fabsf(state[i] - want) > fabsf(want) / 16 + 1e-7f) close = 0;
    }
    CHECK(close);
    CHECK_STATUS(descent_optimizer_state_get(opt, 0, 0, DESCENT_DTYPE_FLOAT64, state, CN), DESCENT_ERR_DTYPE);
    /* After the first step the format is fixed. */
    CHECK_STATUS(descent_optimizer_set_state_format(opt, DESCENT_STATE_BFLOAT16, DESCENT_ROUND_NEAREST_EVEN, 0),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_optimizer_state_format(opt, &format, NULL, NULL));
    CHECK(format == DESCENT_STATE_INT8_BLOCKWISE);
    CHECK_OK(descent_optimizer_free(opt));

    /* bfloat16 for SGD momentum; 8-bit is for the Adam family only; float64 params refuse both. */
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_SGD, &opt));
    CHECK_OK(descent_optimizer_set_hyper(opt, -1, DESCENT_HYPER_MOMENTUM, 0.9));
    CHECK_OK(descent_optimizer_add_group(opt, &param, 1, NULL));
    CHECK_STATUS(descent_optimizer_set_state_format(opt, DESCENT_STATE_INT8_BLOCKWISE, 0, 0), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_optimizer_set_state_format(opt, DESCENT_STATE_BFLOAT16, DESCENT_ROUND_STOCHASTIC, 42));
    CHECK_OK(descent_optimizer_sizes(opt, NULL, &bytes));
    CHECK(bytes == 2 * CN);
    CHECK_OK(descent_optimizer_state_format(opt, &format, &rounding, &seed));
    CHECK(format == DESCENT_STATE_BFLOAT16 && rounding == DESCENT_ROUND_STOCHASTIC && seed == 42);
    CHECK_OK(descent_optimizer_free(opt));
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_ADAM, &opt));
    CHECK_OK(descent_optimizer_add_group(opt, &param64, 1, NULL));
    CHECK_STATUS(descent_optimizer_set_state_format(opt, DESCENT_STATE_BFLOAT16, 0, 0), DESCENT_ERR_DTYPE);
    CHECK_OK(descent_optimizer_state_format(opt, &format, NULL, NULL));
    CHECK(format == DESCENT_STATE_FULL);
    CHECK_OK(descent_optimizer_free(opt));
    CHECK_STATUS(descent_optimizer_set_state_format(opt, DESCENT_STATE_BFLOAT16, 0, 0), DESCENT_ERR_INVALID_HANDLE);
    descent_tensor_free(param);
    descent_tensor_free(grad);
    descent_tensor_free(param64);
}

int main(void) {
    test_grads_must_not_overlap_any_param();
    test_every_rule_smoke();
    test_functional();
    test_stateful();
    test_checkpoint();
    test_kernel_paths();
    test_compact_state();
    return check_report("optimizers");
}
