/* fork() while other threads are inside the library, shared by Tests/c/test_reliability.c (make
 * test) and Tests/stress/stress_fork.c (make stress): `hammer` threads create, step, fail and free
 * objects (and step the one `shared_opt`) without pause while the main thread forks, and
 * `forked_child` is what every child does; both programs count how the children end.
 * Include after stress.h. */
#ifndef DESCENT_FORK_PROBE_H
#define DESCENT_FORK_PROBE_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "descent.h"

static atomic_int stop_hammering;
static descent_optimizer shared_opt;

/* A thread's loop until `stop_hammering`: every kind of call, one of them failing (last-error text). */
static void *hammer(void *raw) {
    long id = (long)raw;
    int64_t n = 64;
    double data[64];
    while (!atomic_load(&stop_hammering)) {
        descent_tensor a = 0, b = 0;
        descent_optimizer opt = 0;
        if (descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 1.0, &a) != DESCENT_OK) continue;
        descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.25, &b);
        descent_tensor_add(a, b, a);
        descent_tensor_copy_to(a, DESCENT_DTYPE_FLOAT64, data, 64);
        descent_tensor_sum(123456789, data);                  /* a failing call: last-error text */
        descent_tensor_add(a, 0, a);
        descent_optimizer_new(id % 2 ? DESCENT_RULE_SGD : DESCENT_RULE_ADAM, &opt);
        descent_optimizer_add_group(opt, &a, 1, NULL);
        descent_optimizer_set_grads(opt, &b, 1);
        descent_optimizer_step(opt, NULL);
        descent_optimizer_step(shared_opt, NULL);              /* a shared object's lock too */
        descent_optimizer_free(opt);
        descent_tensor_free(a);
        descent_tensor_free(b);
    }
    return NULL;
}

/* What every forked child does: a few calls of each kind, all must behave. Exit 0, or
 * CHILD_SAW_STALE_OBJECT when the shared optimizer was mid-call at the fork (it then refuses with
 * DESCENT_ERR_UNSUPPORTED, every time: documented), or the number of the check that failed. */
enum { CHILD_SAW_STALE_OBJECT = 3 };

static int forked_child(void *unused) {
    (void)unused;
    int stale = 0;
    int64_t n = 1 << 18;   /* large enough to be split over the worker pool in the parent */
    descent_tensor a = 0, b = 0;
    descent_optimizer opt = 0;
    double sum = 0;
    if (descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 1.0, &a) != DESCENT_OK) return 10;
    if (descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 2.0, &b) != DESCENT_OK) return 11;
    if (descent_tensor_add(a, b, a) != DESCENT_OK) return 12;
    if (descent_tensor_sum(a, &sum) != DESCENT_OK || sum != 3.0 * (double)n) return 13;
    if (descent_tensor_sum(987654321, &sum) != DESCENT_ERR_INVALID_HANDLE) return 14;
    if (strstr(descent_last_error(), "descent_tensor_sum") == NULL) return 15;
    if (descent_optimizer_new(DESCENT_RULE_SGD, &opt) != DESCENT_OK) return 16;
    if (descent_optimizer_add_group(opt, &a, 1, NULL) != DESCENT_OK) return 17;
    if (descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_LR, 0.5) != DESCENT_OK) return 18;
    if (descent_optimizer_set_grads(opt, &b, 1) != DESCENT_OK) return 19;
    if (descent_optimizer_step(opt, NULL) != DESCENT_OK) return 20;
    if (descent_tensor_sum(a, &sum) != DESCENT_OK || sum != 2.0 * (double)n) return 21;
    /* The shared optimizer may have been mid-call in another thread at the fork: its state may
     * be half-updated, so it refuses with a clear error (every time); a trap or a hang fails. */
    descent_status shared = descent_optimizer_step(shared_opt, NULL);
    if (shared == DESCENT_ERR_UNSUPPORTED) {
        if (strstr(descent_last_error(), "fork()") == NULL) return 25;
        if (descent_optimizer_step(shared_opt, NULL) != DESCENT_ERR_UNSUPPORTED) return 26;
        stale = 1;
    } else if (shared != DESCENT_OK) {
        return 22;
    }
    if (descent_optimizer_free(opt) != DESCENT_OK) return 23;
    if (descent_tensor_free(a) != DESCENT_OK || descent_tensor_free(b) != DESCENT_OK) return 24;
    return stale ? CHILD_SAW_STALE_OBJECT : 0;
}

#endif
