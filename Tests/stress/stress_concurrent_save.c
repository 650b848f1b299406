/* Concurrent saves to one path from threads and processes: P processes of T threads each save
 * their own optimizer (params all equal to the writer's id, step count = id) to ONE path, round
 * after round, while a reader thread in each process loads the path again and again. Every save
 * and every load must succeed, every load must see one writer's complete state (never a mix),
 * and no temporary file may be left at the end.
 * Usage: stress_concurrent_save [rounds=60] [processes=3] [threads=4].
 * DESCENT_STRESS_PLANT=1 adds a writer that rewrites the file in place, unsafely (the check
 * must then see torn or failed loads). Exit 0 when every check held. */
#include "stress.h"  /* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

enum { N = 20000 };

static char path[400];
static long rounds;
static atomic_int writers_done;
static atomic_long saves_ok, save_failures, loads_ok, load_failures, torn;

struct writer {
    int id;
};

static descent_optimizer make(double value, descent_tensor *param, descent_tensor *grad) {
    descent_optimizer opt = 0;
    int64_t n = N;
    descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, value, param);
    descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.0, grad);
    descent_optimizer_new(DESCENT_RULE_ADAM, &opt);
    descent_optimizer_add_group(opt, param, 1, NULL);
    descent_optimizer_set_grads(opt, grad, 1);
    return opt;
}

static void *write_loop(void *raw) {
    struct writer *writer = raw;
    descent_tensor param, grad;
    descent_optimizer opt = make((double)writer->id, &param, &grad);
    descent_optimizer_set_step_count(opt, writer->id);
    for (long round = 0; round < rounds; round++) {
        if (descent_optimizer_save(opt, path, 1) == DESCENT_OK) {
            atomic_fetch_add(&saves_ok, 1);
        } else if (atomic_fetch_add(&save_failures, 1) < 3) {
            fprintf(stderr, "save failed: %s\n", descent_last_error());
        }
    }
    descent_optimizer_free(opt);
    descent_tensor_free(param);
    descent_tensor_free(grad);
    atomic_fetch_add(&writers_done, 1);
    return NULL;
}

/* Planted: rewrites the checkpoint in place (truncate, then write in pieces), as a save without
 * a temporary file would. */
static void *unsafe_writer(void *unused) {
    (void)unused;
    static unsigned char bytes[1 << 20];
    int fd = open(path, O_RDONLY);
    ssize_t size = fd >= 0 ? read(fd, bytes, sizeof bytes) : -1;
    if (fd >= 0) close(fd);
    for (long round = 0; round < rounds && size > 0; round++) {
        fd = open(path, O_WRONLY | O_TRUNC);
        if (fd < 0) continue;
        for (ssize_t at = 0; at < size; at += 4096) {
            if (write(fd, bytes + at, (size_t)(size - at < 4096 ? size - at : 4096)) < 0) break;
            sched_yield();
        }
        close(fd);
    }
    return NULL;
}

static void *read_loop(void *raw) {
    int writers = *(int *)raw;
    descent_tensor param, grad;
    descent_optimizer reader = make(-1.0, &param, &grad);
    static _Thread_local double values[N];
    while (atomic_load(&writers_done) < writers) {
        if (descent_optimizer_load(reader, path) != DESCENT_OK) {
            if (atomic_fetch_add(&load_failures, 1) < 3) fprintf(stderr, "load failed: %s\n", descent_last_error());
            continue;
        }
        int64_t steps = -1;
        descent_optimizer_step_count(reader, &steps);
        descent_tensor_copy_to(param, DESCENT_DTYPE_FLOAT64, values, N);
        int whole = 1;
        for (int i = 0; i < N; i++) whole &= values[i] == (double)steps;
        if (whole) {
            atomic_fetch_add(&loads_ok, 1);
        } else if (atomic_fetch_add(&torn, 1) < 3) {
            fprintf(stderr, "a load saw a mix of two saves\n");
        }
    }
    descent_optimizer_free(reader);
    descent_tensor_free(param);
    descent_tensor_free(grad);
    return NULL;
}

/* One process: `threads` writers (ids base+1 ...) and one reader. Returns 0 when all held. */
static int run_process(int base, int threads, int plant) {
    pthread_t writers[16], reader, planted;
    struct writer ids[16];
    for (int i = 0; i < threads; i++) {
        ids[i].id = base + i + 1;
        pthread_create(&writers[i], NULL, write_loop, &ids[i]);
    }
    pthread_create(&reader, NULL, read_loop, &threads);
    if (plant) pthread_create(&planted, NULL, unsafe_writer, NULL);
    for (int i = 0; i < threads; i++) pthread_join(writers[i], NULL);
    pthread_join(reader, NULL);
    if (plant) pthread_join(planted, NULL);
    return 0;
}

int main(int argc, char **argv) {
    rounds = stress_arg(argc, argv, 1, 60);
    int processes = (int)stress_arg(argc, argv, 2, 3), threads = (int)stress_arg(argc, argv, 3, 4);
    if (threads > 16) threads = 16;
    int plant = getenv("DESCENT_STRESS_PLANT") != NULL;
    double started = stress_now();
    stress_make_scratch("concurrent");
    snprintf(path, sizeof path, "%s/shared.ckpt", stress_scratch);
    {
        descent_tensor param, grad;
        descent_optimizer first = make(0.0, &param, &grad);
        descent_optimizer_save(first, path, 1);
    }
    /* Child processes report their counts through a pipe: saves ok/failed, loads ok/failed, torn. */
    int report[2];
    if (pipe(report) != 0) return 2;
    pid_t pids[16];
    if (processes > 16) processes = 16;
    for (int p = 0; p < processes; p++) {
        fflush(stdout);
        fflush(stderr);
        pids[p] = fork();
        if (pids[p] == 0) {
            close(report[0]);
            run_process(1000 * (p + 1), threads, plant && p == 0);
            long counts[5] = {atomic_load(&saves_ok), atomic_load(&save_failures), atomic_load(&loads_ok),
                              atomic_load(&load_failures), atomic_load(&torn)};
            if (write(report[1], counts, sizeof counts) != (ssize_t)sizeof counts) _exit(3);
            _exit(0);
        }
    }
    close(report[1]);
    long totals[5] = {0}, counts[5];
    int crashed = 0;
    for (int p = 0; p < processes; p++) {
        int signal_number = 0;
        int status = stress_wait(pids[p], 600, &signal_number);
        if (status != 0) {
            crashed++;
            fprintf(stderr, "process %d ended with status %d (signal %d)\n", p, status, signal_number);
        }
    }
    while (read(report[0], counts, sizeof counts) == (ssize_t)sizeof counts) {
        for (int i = 0; i < 5; i++) totals[i] += counts[i];
    }
    close(report[0]);
    /* The file left is one writer's complete state, and no temporary file remains. */
    descent_tensor param, grad;
    descent_optimizer reader = make(-1.0, &param, &grad);
    int64_t steps = -1;
    int final_ok = descent_optimizer_load(reader, path) == DESCENT_OK &&
                   descent_optimizer_step_count(reader, &steps) == DESCENT_OK && steps > 1000;
    int temporaries = stress_count_files("shared.ckpt.tmp");
    stress_remove_scratch();
    long expected_saves = rounds * processes * threads;
    stress_figure("concurrent saves to one path from threads and processes", started,
                  "%d processes x %d threads: %s of %s saves succeeded, %s concurrent loads all complete states "
                  "(%ld failed, %ld torn), final file %s, %d temporary files left",
                  processes, threads, stress_count(totals[0]), stress_count(expected_saves), stress_count(totals[2]),
                  totals[3], totals[4], final_ok ? "loads" : "BROKEN", temporaries);
    int passed = crashed == 0 && totals[0] == expected_saves && totals[1] == 0 && totals[3] == 0 &&
                 totals[4] == 0 && final_ok && temporaries == 0 && totals[2] > 0;
    return passed ? 0 : 1;
}
