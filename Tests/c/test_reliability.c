/* C tests of the Reliability issue's process-level promises:
 *   - saves from several threads to one path all succeed and leave a complete checkpoint;
 *   - out of address space, save and load return DESCENT_ERR_OUT_OF_MEMORY (no trap, nothing left
 *     on disk, the optimizer unchanged) and work again once memory is back;
 *   - fork() while other threads are inside the library: every child can use the library.
 * Everything risky runs in child processes, so a trap or a hang fails a CHECK instead of the run. */
#include "../stress/stress.h"  /* first: it defines _GNU_SOURCE; the scratch folder, child processes */

#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "check.h"
#include "../stress/fork_probe.h"

/* Present only when the program runs under LeakSanitizer (make test-leaks), whose allocator
 * aborts instead of returning NULL when the address space is exhausted, and can hang a forked
 * child in its own locks. */
extern void __lsan_do_leak_check(void) __attribute__((weak));

/* An Adam optimizer over one float64 param of n elements equal to `value`, after one step. */
static descent_optimizer make_adam(int64_t n, double value, descent_tensor *param_out, descent_tensor *grad_out) {
    descent_optimizer opt = 0;
    descent_tensor param = 0, grad = 0;
    CHECK_OK(descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, value, &param));
    CHECK_OK(descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.5, &grad));
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_ADAM, &opt));
    CHECK_OK(descent_optimizer_add_group(opt, &param, 1, NULL));
    CHECK_OK(descent_optimizer_set_grads(opt, &grad, 1));
    CHECK_OK(descent_optimizer_step(opt, NULL));
    *param_out = param;
    *grad_out = grad;
    return opt;
}

/* Runs `body` in a child process and returns its exit status; -1 when it trapped (a signal) or
 * hung past `seconds` (then it is killed), said on stderr. */
static int child_status(int (*body)(void *), void *context, int seconds, const char *what) {
    int signal_number = 0;
    int status = stress_in_child(body, context, seconds, &signal_number);
    if (status == STRESS_CHILD_HUNG) fprintf(stderr, "%s: child hung for %d s (killed)\n", what, seconds);
    if (status == STRESS_CHILD_SIGNALED) fprintf(stderr, "%s: child killed by signal %d\n", what, signal_number);
    return status < 0 ? -1 : status;
}

/* Runs `body` in a child process: true when every check in it passed (exit status 0). */
static int run_in_child(int (*body)(void *), void *context, int seconds, const char *what) {
    int status = child_status(body, context, seconds, what);
    if (status > 0) fprintf(stderr, "%s: child exited with %d\n", what, status);
    return status == 0;
}

/* ---- concurrent saves from threads ------------------------------------------------------- */

struct saver {
    descent_optimizer opt;
    const char *path;
    pthread_barrier_t *barrier;
    int failures;
};

static void *save_loop(void *raw) {
    struct saver *saver = raw;
    for (int round = 0; round < 60; round++) {
        pthread_barrier_wait(saver->barrier);
        if (descent_optimizer_save(saver->opt, saver->path, 1) != DESCENT_OK) {
            if (saver->failures++ == 0) fprintf(stderr, "save failed: %s\n", descent_last_error());
        }
    }
    return NULL;
}

static void test_threads_save_to_one_path(void) {
    char path[300];
    snprintf(path, sizeof path, "%s/threads.ckpt", stress_scratch);
    enum { THREADS = 3 };
    struct saver savers[THREADS];
    descent_tensor params[THREADS], grads[THREADS];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, THREADS);
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        savers[i] = (struct saver){make_adam(20000, 1.0 + i, &params[i], &grads[i]), path, &barrier, 0};
        CHECK(pthread_create(&threads[i], NULL, save_loop, &savers[i]) == 0);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        failures += savers[i].failures;
    }
    CHECK(failures == 0);
    /* The file is one complete checkpoint: it loads, and its params are one saver's values. */
    descent_tensor param, grad;
    descent_optimizer reader = make_adam(20000, 0.0, &param, &grad);
    CHECK_OK(descent_optimizer_load(reader, path));
    static double values[20000];
    CHECK_OK(descent_tensor_copy_to(param, DESCENT_DTYPE_FLOAT64, values, 20000));
    int uniform = 1;
    for (int i = 1; i < 20000; i++) uniform &= values[i] == values[0];
    CHECK(uniform);   /* not a mix of two saves */
    CHECK(stress_count_files("threads.ckpt.tmp") == 0);
    descent_optimizer_free(reader);
    descent_tensor_free(param);
    descent_tensor_free(grad);
    for (int i = 0; i < THREADS; i++) {
        descent_optimizer_free(savers[i].opt);
        descent_tensor_free(params[i]);
        descent_tensor_free(grads[i]);
    }
    pthread_barrier_destroy(&barrier);
}

/* ---- out of memory in save and load --------------------------------------------------------- */

/* Maps anonymous memory until nothing more fits (largest pieces first, down to one page). */
static void *fillers[4096];
static size_t filler_sizes[4096];
static int filler_count = 0;

static void fill_address_space(void) {
    for (size_t size = (size_t)1 << 40; size >= 4096; size /= 2) {
        for (;;) {
            void *block = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (block == MAP_FAILED) break;
            if (filler_count == 4096) return;
            fillers[filler_count] = block;
            filler_sizes[filler_count++] = size;
        }
    }
}

static void release_address_space(void) {
    for (int i = 0; i < filler_count; i++) munmap(fillers[i], filler_sizes[i]);
    filler_count = 0;
}

/* Limits the address space a little above what is mapped now, then fills the rest. */
static int run_out_of_address_space(void) {
    fprintf(stderr, "%s", "");  /* stdio buffers exist before memory runs out */
    long now = stress_virtual_size();
    struct rlimit limit = {(rlim_t)now + (64 << 20), (rlim_t)now + (64 << 20)};
    if (now <= 0 || setrlimit(RLIMIT_AS, &limit) != 0) return 0;
    fill_address_space();
    return 1;
}

enum { OOM_N = 1 << 20 };  /* 8 MB per tensor: a checkpoint with params is ~24 MB */
static char oom_good[300], oom_fresh[300];

static int write_good_checkpoint_child(void *unused) {
    (void)unused;
    descent_tensor param, grad;
    descent_optimizer opt = make_adam(OOM_N, 2.0, &param, &grad);
    CHECK_OK(descent_optimizer_save(opt, oom_good, 1));
    return check_failed == 0 ? 0 : 1;
}

/* save with no memory: DESCENT_ERR_OUT_OF_MEMORY, no file (final or temporary) left behind. */
static int save_out_of_memory_child(void *unused) {
    (void)unused;
    descent_tensor param, grad;
    descent_optimizer opt = make_adam(OOM_N, 2.0, &param, &grad);
    CHECK(run_out_of_address_space());
    for (int round = 0; round < 3; round++) {
        CHECK_STATUS(descent_optimizer_save(opt, oom_fresh, 1), DESCENT_ERR_OUT_OF_MEMORY);
        CHECK_STATUS(descent_optimizer_save(opt, oom_fresh, 0), DESCENT_ERR_OUT_OF_MEMORY);
    }
    CHECK(strstr(descent_last_error(), "descent_optimizer_save") != NULL);
    /* Memory back (listing the folder needs some): nothing was left on disk, and the same
     * optimizer saves. */
    release_address_space();
    CHECK(stress_count_files("fresh.ckpt") == 0);
    CHECK_OK(descent_optimizer_save(opt, oom_fresh, 1));
    CHECK(stress_count_files("fresh.ckpt") == 1);
    return check_failed == 0 ? 0 : 1;
}

/* load with no memory: DESCENT_ERR_OUT_OF_MEMORY, the optimizer unchanged; works once memory is back. */
static int load_out_of_memory_child(void *unused) {
    (void)unused;
    descent_tensor param, grad;
    descent_optimizer opt = make_adam(OOM_N, 5.0, &param, &grad);  /* the file holds 2.0 after one step */
    CHECK_OK(descent_optimizer_step(opt, NULL));
    int64_t steps = 0;
    double value = 0;
    CHECK(run_out_of_address_space());
    for (int round = 0; round < 3; round++) {
        CHECK_STATUS(descent_optimizer_load(opt, oom_good), DESCENT_ERR_OUT_OF_MEMORY);
    }
    CHECK(strstr(descent_last_error(), "descent_optimizer_load") != NULL);
    CHECK_OK(descent_optimizer_step_count(opt, &steps));
    CHECK(steps == 2);
    release_address_space();
    CHECK_OK(descent_optimizer_load(opt, oom_good));
    CHECK_OK(descent_optimizer_step_count(opt, &steps));
    CHECK(steps == 1);
    CHECK_OK(descent_tensor_max_abs(param, &value));
    CHECK(value < 2.0 && value > 1.99);
    return check_failed == 0 ? 0 : 1;
}

static void test_out_of_memory(void) {
    if (__lsan_do_leak_check) {
        printf("reliability: out-of-memory checks skipped under LeakSanitizer (its allocator aborts)\n");
        return;
    }
    snprintf(oom_good, sizeof oom_good, "%s/good.ckpt", stress_scratch);
    snprintf(oom_fresh, sizeof oom_fresh, "%s/fresh.ckpt", stress_scratch);
    /* Every child starts from this process's heap: write the checkpoint in a child of its own, so
     * that no buffer a save freed is left in the heap for the out-of-memory children to reuse. */
    CHECK(run_in_child(write_good_checkpoint_child, NULL, 60, "write checkpoint"));
    CHECK(run_in_child(save_out_of_memory_child, NULL, 60, "save out of memory"));
    CHECK(run_in_child(load_out_of_memory_child, NULL, 60, "load out of memory"));
}

/* ---- fork while other threads are inside the library ---------------------------------------- */

static void test_fork_while_threads_are_inside(void) {
    enum { THREADS = 3, FORKS = 400 };
    if (__lsan_do_leak_check) {
        /* gcc 12's LeakSanitizer is not fork-safe itself: a child can hang in its stack-depot
         * spin lock (held by a parent thread inside malloc at the fork), before reaching Descent. */
        printf("reliability: fork checks skipped under LeakSanitizer (its own allocator is not fork-safe)\n");
        return;
    }
    descent_tensor shared_param, shared_grad;
    shared_opt = make_adam(1000, 1.0, &shared_param, &shared_grad);
    pthread_t threads[THREADS];
    atomic_store(&stop_hammering, 0);
    for (long i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, hammer, (void *)i) == 0);
    int good = 0, stale = 0;
    for (int i = 0; i < FORKS; i++) {
        int status = child_status(forked_child, NULL, 20, "forked child");
        if (status == 0 || status == CHILD_SAW_STALE_OBJECT) good++;
        if (status == CHILD_SAW_STALE_OBJECT) stale++;
        if (status > 0 && status != CHILD_SAW_STALE_OBJECT) fprintf(stderr, "forked child: exited with %d\n", status);
    }
    atomic_store(&stop_hammering, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    printf("reliability: %d of %d forked children used the library cleanly (%d found the shared optimizer "
           "mid-call at the fork and got DESCENT_ERR_UNSUPPORTED for it)\n", good, FORKS, stale);
    CHECK(good == FORKS);
    /* The parent still works. */
    CHECK_OK(descent_optimizer_step(shared_opt, NULL));
    descent_optimizer_free(shared_opt);
    descent_tensor_free(shared_param);
    descent_tensor_free(shared_grad);
}

int main(void) {
    /* A fixed mmap threshold: large buffers are always mapped and unmapped when freed, so the heap
     * never keeps a freed large block that would hide an allocation failure. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    stress_make_scratch("reliability");
    test_out_of_memory();
    test_threads_save_to_one_path();
    test_fork_while_threads_are_inside();
    stress_remove_scratch();
    return check_report("reliability");
}
