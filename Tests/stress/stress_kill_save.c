/* SIGKILL during saves: a child saves one optimizer to one path over and over (each save a new
 * "generation": step count g and every param element equal to g); the parent kills it with
 * SIGKILL at a random moment of a save (write, fsync, rename, directory fsync). After every kill
 * the file must load, be one complete generation (the one before the kill, or one the child
 * wrote), and at most one stray temporary file may be left (the next save sweeps it).
 * Usage: stress_kill_save [kills=200]. DESCENT_STRESS_PLANT=1 damages the file after every 10th
 * kill the way a non-atomic save would (cut to half its length) and leaves two stray temporary
 * files (the checks must then fail). Exit 0 when every check held. */
#include "stress.h"

enum { N = 1 << 18 };  /* 2 MiB of float64 params; with Adam's two slots a 6 MiB checkpoint */

static char path[400];
static double values[N];

static descent_optimizer make(descent_tensor *param, descent_tensor *grad) {
    descent_optimizer opt = 0;
    int64_t n = N;
    if (descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.0, param) != DESCENT_OK ||
        descent_tensor_full(DESCENT_DTYPE_FLOAT64, 1, &n, 0.5, grad) != DESCENT_OK ||
        descent_optimizer_new(DESCENT_RULE_ADAM, &opt) != DESCENT_OK ||
        descent_optimizer_add_group(opt, param, 1, NULL) != DESCENT_OK ||
        descent_optimizer_set_grads(opt, grad, 1) != DESCENT_OK || descent_optimizer_step(opt, NULL) != DESCENT_OK) {
        fprintf(stderr, "setup failed: %s\n", descent_last_error());
        exit(3);
    }
    return opt;
}

static descent_status save_generation(descent_optimizer opt, descent_tensor param, int64_t generation) {
    for (int i = 0; i < N; i++) values[i] = (double)generation;
    if (descent_tensor_copy_from(param, DESCENT_DTYPE_FLOAT64, values, N) != DESCENT_OK) return -1;
    if (descent_optimizer_set_step_count(opt, generation) != DESCENT_OK) return -1;
    return descent_optimizer_save(opt, path, 1);
}

/* The generation the file holds, or -1 when it does not load or is not one complete generation. */
static int64_t file_generation(descent_optimizer reader, descent_tensor param) {
    int64_t steps = -1;
    if (descent_optimizer_load(reader, path) != DESCENT_OK) {
        fprintf(stderr, "the checkpoint does not load: %s\n", descent_last_error());
        return -1;
    }
    if (descent_optimizer_step_count(reader, &steps) != DESCENT_OK) return -1;
    if (descent_tensor_copy_to(param, DESCENT_DTYPE_FLOAT64, values, N) != DESCENT_OK) return -1;
    for (int i = 0; i < N; i++) {
        if (values[i] != (double)steps) {
            fprintf(stderr, "the checkpoint mixes generations: step count %lld, element %d = %g\n", (long long)steps,
                    i, values[i]);
            return -1;
        }
    }
    return steps;
}

int main(int argc, char **argv) {
    long kills = stress_arg(argc, argv, 1, 200);
    double started = stress_now();
    stress_make_scratch("kill");
    snprintf(path, sizeof path, "%s/state.ckpt", stress_scratch);
    descent_tensor param, grad, reader_param, reader_grad;
    descent_optimizer opt = make(&param, &grad);
    descent_optimizer reader = make(&reader_param, &reader_grad);
    /* Generation 0 on disk, and how long one save takes here. */
    double before = stress_now();
    for (int i = 0; i < 3; i++) {
        if (save_generation(opt, param, 0) != DESCENT_OK) {
            fprintf(stderr, "save failed: %s\n", descent_last_error());
            return 1;
        }
    }
    double save_seconds = (stress_now() - before) / 3;
    int64_t on_disk = 0;
    long failures = 0, unchanged = 0, advanced = 0, most_temporaries = 0, saves_seen = 0;
    unsigned seed = 12345;
    for (long kill_index = 0; kill_index < kills; kill_index++) {
        int ready[2];
        if (pipe(ready) != 0) return 2;
        int64_t base = (kill_index + 1) * 1000000;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            close(ready[0]);
            /* The child saves generations base, base + 1, ... until it is killed. */
            if (write(ready[1], "r", 1) != 1) _exit(4);
            for (int64_t g = base;; g++) {
                if (save_generation(opt, param, g) != DESCENT_OK) _exit(5);
            }
        }
        close(ready[1]);
        char byte;
        if (read(ready[0], &byte, 1) != 1) {
            fprintf(stderr, "kill %ld: the child died before saving\n", kill_index);
            failures++;
        }
        close(ready[0]);
        /* A random moment within the first few saves (each copies N values, then saves). */
        double delay = save_seconds * 3.0 * (double)rand_r(&seed) / RAND_MAX;
        struct timespec pause = {(time_t)delay, (long)((delay - (double)(time_t)delay) * 1e9)};
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        int signal_number = 0;
        int status = stress_wait(pid, 30, &signal_number);
        if (status != STRESS_CHILD_SIGNALED || signal_number != SIGKILL) {
            fprintf(stderr, "kill %ld: the child ended with status %d before the kill\n", kill_index, status);
            failures++;
        }
        if (getenv("DESCENT_STRESS_PLANT") && kill_index % 10 == 9) {
            struct stat info;
            char stray[500];
            if (stat(path, &info) == 0 && truncate(path, info.st_size / 2) != 0) perror("truncate");
            for (int i = 0; i < 2; i++) {
                snprintf(stray, sizeof stray, "%s.tmp-planted-%d", path, i);
                FILE *file = fopen(stray, "w");
                if (file) fclose(file);
            }
        }
        int temporaries = stress_count_files("state.ckpt.tmp");
        if (temporaries > most_temporaries) most_temporaries = temporaries;
        if (temporaries > 1) {
            fprintf(stderr, "kill %ld: %d temporary files left\n", kill_index, temporaries);
            failures++;
        }
        int64_t generation = file_generation(reader, reader_param);
        if (generation == on_disk) {
            unchanged++;
        } else if (generation >= base && generation < base + 1000000) {
            advanced++;
            saves_seen += generation - base + 1;
            on_disk = generation;
        } else {
            fprintf(stderr, "kill %ld: the file holds generation %lld, neither the old %lld nor one of the child's\n",
                    kill_index, (long long)generation, (long long)on_disk);
            failures++;
        }
    }
    /* One more save sweeps the last killed save's temporary file. */
    if (save_generation(opt, param, 7) != DESCENT_OK || stress_count_files("state.ckpt.tmp") != 0) {
        fprintf(stderr, "a save after the kills did not clean up: %s\n", descent_last_error());
        failures++;
    }
    stress_remove_scratch();
    stress_figure("SIGKILL during saves", started,
                  "%s kills mid-save (a save takes %.1f ms): the file loaded every time as one complete state "
                  "(%s times the old one, %s times a newer one), %ld failures, at most %ld stray temporary file%s",
                  stress_count(kills), save_seconds * 1e3, stress_count(unchanged), stress_count(advanced), failures,
                  most_temporaries, most_temporaries == 1 ? "" : "s");
    return failures == 0 && kills > 0 ? 0 : 1;
}
