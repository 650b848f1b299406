/* Verifies that a training step allocates nothing once its batch size has been seen: this
 * program replaces malloc and friends (glibc's __libc_* underneath), trains an MLP through the
 * one-call step for a few warm-up steps, then counts every allocation made by the library (the
 * Swift runtime, the worker pool and OpenBLAS included) during further steps of each kind:
 * descent_trainer_step_batch (gather + forward + backward + update), descent_trainer_step and
 * descent_graph_backward, in float32 and float64, with batch norm and dropout, for a model small
 * enough to run on the calling thread and one whose activations go to the worker pool; then the
 * optimizer and functional steps on and off the pool. Not built with the sanitizers (they bring
 * their own malloc). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../c/check.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static volatile int counting = 0;
static volatile long allocations = 0;

static void count(void) {
    if (counting) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *pointer, size_t size) { count(); return __libc_realloc(pointer, size); }
void free(void *pointer) { __libc_free(pointer); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
    count();
    void *pointer = __libc_memalign(alignment, size);
    if (!pointer) return ENOMEM;
    *out = pointer;
    return 0;
}

/* Two model sizes: the small one runs every operation on the calling thread; the large one sends
 * the hidden layer's activations (128 x 512 = 65536 elements) to the worker pool. */
enum { SAMPLES = 512, FEATURES = 32, HIDDEN_MAX = 512, CLASSES = 10 };

static void run(int32_t dtype, int HIDDEN, int BATCH) {
    const size_t size = dtype == DESCENT_DTYPE_FLOAT32 ? 4 : 8;
    static unsigned char x[SAMPLES * FEATURES * 8], w1[HIDDEN_MAX * FEATURES * 8], w2[CLASSES * HIDDEN_MAX * 8];
    static unsigned char b2[CLASSES * 8], gamma[HIDDEN_MAX * 8], beta[HIDDEN_MAX * 8];
    static int64_t y[SAMPLES];
    for (int i = 0; i < SAMPLES * FEATURES; i++) {
        double v = sin(0.37 * i) + 0.1 * cos(1.7 * i);
        if (size == 4) ((float *)x)[i] = (float)v; else ((double *)x)[i] = v;
    }
    for (int i = 0; i < SAMPLES; i++) y[i] = i % CLASSES;
    int64_t xs[2] = {SAMPLES, FEATURES}, w1s[2] = {HIDDEN, FEATURES}, w2s[2] = {CLASSES, HIDDEN};
    int64_t b2s[1] = {CLASSES}, hs[1] = {HIDDEN}, ins[2] = {-1, FEATURES};
    descent_tensor tx = 0, tw1 = 0, tw2 = 0, tb2 = 0, tg = 0, tb = 0;
    descent_tensor_wrap(dtype, 2, xs, x, SAMPLES * FEATURES, &tx);
    descent_tensor_wrap(dtype, 2, w1s, w1, HIDDEN * FEATURES, &tw1);
    descent_tensor_wrap(dtype, 2, w2s, w2, CLASSES * HIDDEN, &tw2);
    descent_tensor_wrap(dtype, 1, b2s, b2, CLASSES, &tb2);
    descent_tensor_wrap(dtype, 1, hs, gamma, HIDDEN, &tg);
    descent_tensor_wrap(dtype, 1, hs, beta, HIDDEN, &tb);
    descent_init_fill(tw1, DESCENT_INIT_HE_NORMAL, 1, 1.0);
    descent_init_fill(tw2, DESCENT_INIT_XAVIER_NORMAL, 2, 1.0);
    memset(b2, 0, sizeof b2);
    memset(beta, 0, sizeof beta);
    for (int i = 0; i < HIDDEN; i++) {
        if (size == 4) ((float *)gamma)[i] = 1; else ((double *)gamma)[i] = 1;
    }
    descent_graph g = 0;
    int64_t in, labels, pw1, pw2, pb2, pg, pb, z, bn, act, drop, logits, loss;
    descent_graph_new(dtype, &g);
    descent_graph_input(g, 2, ins, &in);
    descent_graph_labels(g, &labels);
    descent_graph_param(g, tw1, 1, &pw1);
    descent_graph_param(g, tg, 1, &pg);
    descent_graph_param(g, tb, 1, &pb);
    descent_graph_param(g, tw2, 1, &pw2);
    descent_graph_param(g, tb2, 1, &pb2);
    descent_graph_dense(g, in, pw1, -1, DESCENT_ACTIVATION_IDENTITY, 0, &z);
    descent_graph_batchnorm(g, z, pg, pb, 0.1, 1e-5, &bn);
    descent_graph_activation(g, DESCENT_ACTIVATION_RELU, 0, bn, &act);
    descent_graph_dropout(g, act, 0.2, 9, &drop);
    descent_graph_dense(g, drop, pw2, pb2, DESCENT_ACTIVATION_IDENTITY, 0, &logits);
    CHECK_OK(descent_graph_cost(g, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits, labels, DESCENT_REDUCTION_MEAN, 0,
                                &loss));
    descent_optimizer adam = 0;
    descent_tensor params[5] = {tw1, tg, tb, tw2, tb2};
    descent_optimizer_new(DESCENT_RULE_ADAM, &adam);
    descent_optimizer_add_group(adam, params, 5, NULL);
    descent_trainer trainer = 0;
    CHECK_OK(descent_trainer_new(g, adam, loss, &trainer));
    CHECK_OK(descent_trainer_set_nodes(trainer, in, labels, logits));
    descent_trainer_set_clip_norm(trainer, 5.0);
    descent_loader loader = 0;
    CHECK_OK(descent_loader_new(tx, 0, y, SAMPLES, BATCH, DESCENT_LOADER_SHUFFLE, 5, &loader));
    double value = 0, first = 0;
    int64_t correct = 0;
    /* Warm-up: the plan for this batch size, the loader's staging buffers, OpenBLAS's buffers. */
    for (int b = 0; b < 3; b++)
        CHECK_OK(descent_trainer_step_batch(trainer, loader, b % (SAMPLES / BATCH), &value, &correct, NULL));
    first = value;

    allocations = 0;
    counting = 1;
    int ok = 1;
    for (int b = 3; b < 8; b++)
        ok &= descent_trainer_step_batch(trainer, loader, b % (SAMPLES / BATCH), &value, &correct, NULL) == DESCENT_OK;
    counting = 0;
    CHECK(ok);
    printf("%s, hidden %d, batch %d: %ld allocations in 5 trainer steps (gather + forward + backward + clip + "
           "Adam)\n", size == 4 ? "float32" : "float64", HIDDEN, BATCH, allocations);
    CHECK(allocations == 0);

    allocations = 0;
    counting = 1;
    for (int i = 0; i < 5; i++) ok &= descent_trainer_step(trainer, &value, NULL) == DESCENT_OK;
    for (int i = 0; i < 5; i++) ok &= descent_graph_backward(g, loss, &value) == DESCENT_OK;
    counting = 0;
    CHECK(ok);
    printf("%s, hidden %d, batch %d: %ld allocations in 5 bound-input steps and 5 backward passes\n",
           size == 4 ? "float32" : "float64", HIDDEN, BATCH, allocations);
    CHECK(allocations == 0);
    CHECK(isfinite(value) && isfinite(first));

    descent_loader_free(loader);
    descent_trainer_free(trainer);
    descent_optimizer_free(adam);
    descent_graph_free(g);
    descent_tensor_free(tx);
    descent_tensor_free(tw1);
    descent_tensor_free(tw2);
    descent_tensor_free(tb2);
    descent_tensor_free(tg);
    descent_tensor_free(tb);
}

static void steps_on_and_off_the_pool(void) {
    int ok = 1;
    /* The optimizer's own step, under the default policy (the non-finite scan, then the update:
     * two phases of one dispatch) and under proceed, and the functional step with and without its
     * finiteness check: 60000 elements run on the calling thread, 300000 go to the worker pool
     * (above 2 x 65536), which allocates nothing either (its jobs are values, not closures). */
    for (int big_count = 60000; big_count <= 300000; big_count += 240000) {
        enum { BIG_MAX = 300000 };
        static double big[BIG_MAX], big_grad[BIG_MAX], m[BIG_MAX], v[BIG_MAX];
        for (int i = 0; i < big_count; i++) { big[i] = 1.0; big_grad[i] = 1e-3 * (i % 7); m[i] = v[i] = 0; }
        int64_t big_shape[1] = {big_count};
        descent_tensor tp = 0, tgr = 0;
        CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, big_shape, big, big_count, &tp));
        CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, big_shape, big_grad, big_count, &tgr));
        for (int policy = DESCENT_NONFINITE_RAISE; policy <= DESCENT_NONFINITE_PROCEED; policy += 2) {
            descent_optimizer opt = 0;
            CHECK_OK(descent_optimizer_new(DESCENT_RULE_ADAM, &opt));
            CHECK_OK(descent_optimizer_set_nonfinite_policy(opt, policy));
            CHECK_OK(descent_optimizer_add_group(opt, &tp, 1, NULL));
            CHECK_OK(descent_optimizer_set_grads(opt, &tgr, 1));
            for (int i = 0; i < 3; i++) CHECK_OK(descent_optimizer_step(opt, NULL));
            allocations = 0;
            counting = 1;
            for (int i = 0; i < 5; i++) ok &= descent_optimizer_step(opt, NULL) == DESCENT_OK;
            counting = 0;
            CHECK(ok);
            printf("float64: %ld allocations in 5 optimizer steps of %d elements (%s)\n", allocations, big_count,
                   policy == DESCENT_NONFINITE_RAISE ? "checked" : "proceed");
            CHECK(allocations == 0);
            descent_optimizer_free(opt);
        }
        for (int flags = 0; flags <= DESCENT_OPT_CHECK_FINITE; flags += DESCENT_OPT_CHECK_FINITE) {
            CHECK_OK(descent_adam_step(DESCENT_DTYPE_FLOAT64, big_count, big, big_grad, m, v, NULL, 1, 1e-3, 0.9, 0.999,
                                       1e-8, 0.0, flags));
            allocations = 0;
            counting = 1;
            for (int t = 2; t < 7; t++)
                ok &= descent_adam_step(DESCENT_DTYPE_FLOAT64, big_count, big, big_grad, m, v, NULL, t, 1e-3, 0.9, 0.999,
                                        1e-8, 0.0, flags) == DESCENT_OK;
            counting = 0;
            CHECK(ok);
            printf("float64: %ld allocations in 5 functional Adam steps of %d elements (%s)\n",
                   allocations, big_count, flags ? "checked" : "unchecked");
            CHECK(allocations == 0);
        }
        descent_tensor_free(tp);
        descent_tensor_free(tgr);
    }

}

int main(void) {
    /* The counter sees the library's allocations: creating a tensor must count at least one. */
    descent_tensor probe = 0;
    int64_t shape[1] = {1000};
    allocations = 0;
    counting = 1;
    descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, shape, &probe);
    counting = 0;
    printf("probe: %ld allocations for one descent_tensor_zeros\n", allocations);
    CHECK(allocations >= 1);
    descent_tensor_free(probe);
    run(DESCENT_DTYPE_FLOAT32, 64, 64);
    run(DESCENT_DTYPE_FLOAT64, 64, 64);
    run(DESCENT_DTYPE_FLOAT32, HIDDEN_MAX, 128);
    run(DESCENT_DTYPE_FLOAT64, HIDDEN_MAX, 128);
    steps_on_and_off_the_pool();
    return check_report("test_no_allocation");
}
