/* fork() while other threads are inside the library: 3 threads create, step, fail and free
 * objects (and step one shared optimizer) without pause while the main thread forks; every child
 * must use the library (tensors, kernels, an optimizer, the last-error text) and exit cleanly
 * within 20 s. A child that finds the shared optimizer mid-call at the fork gets
 * DESCENT_ERR_UNSUPPORTED for it (documented), which counts as working.
 * Usage: stress_fork [forks=1000]. DESCENT_STRESS_PLANT=1 makes every 50th child trap and every
 * 50th (offset 25) hang, to show both are caught. Exit 0 when every child worked. */
#include "stress.h"  /* first: it defines _GNU_SOURCE */

#include "fork_probe.h"

static long fork_index;

/* forked_child, except that with DESCENT_STRESS_PLANT=1 every 50th child traps and every 50th
 * (offset 25) hangs. */
static int planted_child(void *context) {
    if (getenv("DESCENT_STRESS_PLANT")) {
        if (fork_index % 50 == 0) raise(SIGILL);
        if (fork_index % 50 == 25) pause();
    }
    return forked_child(context);
}

int main(int argc, char **argv) {
    long forks = stress_arg(argc, argv, 1, 1000);
    enum { THREADS = 3 };
    double started = stress_now();
    int64_t n = 1000;
    descent_tensor shared_param, shared_grad;
    descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 1.0, &shared_param);
    descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.5, &shared_grad);
    descent_optimizer_new(DESCENT_RULE_ADAM, &shared_opt);
    descent_optimizer_add_group(shared_opt, &shared_param, 1, NULL);
    descent_optimizer_set_grads(shared_opt, &shared_grad, 1);
    pthread_t threads[THREADS];
    atomic_store(&stop_hammering, 0);
    for (long i = 0; i < THREADS; i++) pthread_create(&threads[i], NULL, hammer, (void *)i);
    long good = 0, stale = 0, crashed = 0, hung = 0, failed = 0;
    for (fork_index = 0; fork_index < forks; fork_index++) {
        int signal_number = 0;
        int status = stress_in_child(planted_child, NULL, 20, &signal_number);
        if (status == 0 || status == CHILD_SAW_STALE_OBJECT) good++;
        if (status == CHILD_SAW_STALE_OBJECT) stale++;
        if (status == STRESS_CHILD_SIGNALED && crashed++ < 5) fprintf(stderr, "fork %ld: child killed by signal %d\n", fork_index, signal_number);
        if (status == STRESS_CHILD_HUNG && hung++ < 5) fprintf(stderr, "fork %ld: child hung (killed after 20 s)\n", fork_index);
        if (status > 0 && status != CHILD_SAW_STALE_OBJECT && failed++ < 5) fprintf(stderr, "fork %ld: child failed check %d\n", fork_index, status);
    }
    atomic_store(&stop_hammering, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    int parent_works = descent_optimizer_step(shared_opt, NULL) == DESCENT_OK;
    stress_figure("fork while other threads are inside the library", started,
                  "%s forks with %d threads inside the library: %s children worked (%s found the shared optimizer "
                  "mid-call and got DESCENT_ERR_UNSUPPORTED for it), %ld crashed, %ld hung, %ld failed a check; parent %s",
                  stress_count(forks), THREADS, stress_count(good), stress_count(stale), crashed, hung, failed,
                  parent_works ? "works" : "BROKEN");
    return good == forks && parent_works ? 0 : 1;
}
