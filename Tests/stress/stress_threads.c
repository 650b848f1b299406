/* 8 threads vs sequential, bit-identical: eight different training runs (an MLP graph, a shuffled
 * loader, each run its own optimizer rule, a cosine schedule, gradient clipping, fit with history)
 * plus a large matrix product each, first one after another, then all eight at once in 8
 * threads, several rounds. Every run's final params, history and product must equal the
 * sequential run's bit for bit.
 * Usage: stress_threads [rounds=5] [epochs=10]. DESCENT_STRESS_PLANT=1 scales one run's learning
 * rate by 1 + 1e-6 in the threaded rounds (the comparison must then fail). Exit 0 when identical. */
#include "stress.h"  /* first: it defines _GNU_SOURCE */

#include <math.h>
#include <pthread.h>

enum { TASKS = 8, SAMPLES = 2048, FEATURES = 16, HIDDEN = 64, CLASSES = 4, BATCH = 32, MAT = 192 };

static long epochs;
static int plant_active;

struct result {
    float params[HIDDEN * FEATURES + HIDDEN + HIDDEN * HIDDEN + HIDDEN + CLASSES * HIDDEN + CLASSES];
    double history[64 * 6];
    double product[MAT * MAT];
    int ok;
};

static float data_x[SAMPLES * FEATURES];
static int64_t data_y[SAMPLES];
static double mat_a[MAT * MAT], mat_b[MAT * MAT];

#define TRY(call) do { if ((call) != DESCENT_OK) { fprintf(stderr, "task %d: %s: %s\n", task, #call, descent_last_error()); return; } } while (0)

static void run_task(int task, struct result *out) {
    memset(out, 0, sizeof *out);
    float *w1 = out->params, *b1 = w1 + HIDDEN * FEATURES, *w2 = b1 + HIDDEN, *b2 = w2 + HIDDEN * HIDDEN,
          *w3 = b2 + HIDDEN, *b3 = w3 + CLASSES * HIDDEN;
    int64_t w1s[2] = {HIDDEN, FEATURES}, w2s[2] = {HIDDEN, HIDDEN}, w3s[2] = {CLASSES, HIDDEN}, hs[1] = {HIDDEN},
            cs[1] = {CLASSES}, input_shape[2] = {-1, FEATURES}, data_shape[2] = {SAMPLES, FEATURES};
    float *memory[6] = {w1, b1, w2, b2, w3, b3};
    int64_t *shapes[6] = {w1s, hs, w2s, hs, w3s, cs}, ranks[6] = {2, 1, 2, 1, 2, 1},
            counts[6] = {HIDDEN * FEATURES, HIDDEN, HIDDEN * HIDDEN, HIDDEN, CLASSES * HIDDEN, CLASSES};
    descent_tensor params[6] = {0}, inputs = 0, ta = 0, tb = 0, tc = 0;
    descent_graph graph = 0;
    descent_optimizer opt = 0;
    descent_trainer trainer = 0;
    descent_loader loader = 0;
    descent_schedule schedule = 0;
    int64_t input, labels, p[6], h1, h2, logits, loss, mat_shape[2] = {MAT, MAT};
    for (int i = 0; i < 6; i++) TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, ranks[i], shapes[i], memory[i], counts[i], &params[i]));
    TRY(descent_graph_new(DESCENT_DTYPE_FLOAT32, &graph));
    TRY(descent_graph_input(graph, 2, input_shape, &input));
    TRY(descent_graph_labels(graph, &labels));
    for (int i = 0; i < 6; i++) {
        TRY(descent_graph_param(graph, params[i], 1, &p[i]));
        TRY(descent_graph_param_init(graph, p[i], i % 2 == 0 ? DESCENT_INIT_HE_NORMAL : DESCENT_PARAM_INIT_ZEROS, 1.0));
    }
    TRY(descent_graph_init_params(graph, 100 + (uint64_t)task));
    TRY(descent_graph_dense(graph, input, p[0], p[1], DESCENT_ACTIVATION_RELU, 0, &h1));
    TRY(descent_graph_dense(graph, h1, p[2], p[3], DESCENT_ACTIVATION_TANH, 0, &h2));
    TRY(descent_graph_dense(graph, h2, p[4], p[5], DESCENT_ACTIVATION_IDENTITY, 0, &logits));
    TRY(descent_graph_cost(graph, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits, labels, DESCENT_REDUCTION_MEAN, 0, &loss));
    TRY(descent_optimizer_new(1 + task % 10, &opt));
    TRY(descent_optimizer_add_group(opt, params, 6, NULL));
    double lr = 0.01;
    if (plant_active && task == 3) lr *= 1.0 + 1e-6;  /* a few float32 ulps of the update */
    TRY(descent_optimizer_set_hyper(opt, 0, DESCENT_HYPER_LR, lr));
    TRY(descent_trainer_new(graph, opt, loss, &trainer));
    TRY(descent_trainer_set_nodes(trainer, input, labels, logits));
    TRY(descent_schedule_new_cosine(lr, epochs * (SAMPLES / BATCH), 1e-4, &schedule));
    TRY(descent_trainer_set_schedule(trainer, schedule, 0));
    TRY(descent_trainer_set_clip_norm(trainer, 1.0));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, data_shape, data_x, SAMPLES * FEATURES, &inputs));
    TRY(descent_loader_new(inputs, 0, data_y, SAMPLES, BATCH, DESCENT_LOADER_SHUFFLE, 7 + (uint64_t)task, &loader));
    int64_t summary[4];
    TRY(descent_trainer_fit(trainer, loader, 0, epochs, 0, 0.0, 0, NULL, NULL, NULL, out->history, 64, NULL, 0, summary));
    /* A product large enough to be cut into blocks on the library's worker pool. */
    TRY(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 2, mat_shape, mat_a, MAT * MAT, &ta));
    TRY(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 2, mat_shape, mat_b, MAT * MAT, &tb));
    TRY(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, mat_shape, &tc));
    TRY(descent_tensor_scale(ta, 1.0 + task));
    TRY(descent_tensor_matmul(ta, tb, 0, 1, 1.0, 0.0, tc));
    TRY(descent_tensor_copy_to(tc, DESCENT_DTYPE_FLOAT64, out->product, MAT * MAT));
    descent_loader_free(loader);
    descent_schedule_free(schedule);
    descent_trainer_free(trainer);
    descent_optimizer_free(opt);
    descent_graph_free(graph);
    for (int i = 0; i < 6; i++) descent_tensor_free(params[i]);
    descent_tensor_free(inputs);
    descent_tensor_free(ta);
    descent_tensor_free(tb);
    descent_tensor_free(tc);
    out->ok = 1;
}

struct job {
    int task;
    struct result *out;
};

static void *thread_main(void *raw) {
    struct job *job = raw;
    run_task(job->task, job->out);
    return NULL;
}

int main(int argc, char **argv) {
    long rounds = stress_arg(argc, argv, 1, 5);
    epochs = stress_arg(argc, argv, 2, 10);
    double started = stress_now();
    uint64_t state = 99;
    for (int i = 0; i < SAMPLES * FEATURES; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        data_x[i] = (float)((double)(state >> 11) / 9007199254740992.0 - 0.5);
    }
    for (int i = 0; i < SAMPLES; i++) data_y[i] = (data_x[i * FEATURES] > 0) * 2 + (data_x[i * FEATURES + 1] > 0);
    for (int i = 0; i < MAT * MAT; i++) {
        mat_a[i] = sin(i * 0.37);
        mat_b[i] = cos(i * 0.11);
    }
    static struct result sequential[TASKS], threaded[TASKS];
    for (int t = 0; t < TASKS; t++) run_task(t, &sequential[t]);
    int all_ran = 1, mismatches = 0;
    for (int t = 0; t < TASKS; t++) {
        all_ran &= sequential[t].ok;
        /* the runs did train: the last epoch's loss is finite and below the first's */
        double first = sequential[t].history[0], last = sequential[t].history[(epochs - 1) * 6];
        if (!(isfinite(last) && last < first)) {
            fprintf(stderr, "run %d did not train (loss %g -> %g)\n", t, first, last);
            all_ran = 0;
        }
    }
    plant_active = getenv("DESCENT_STRESS_PLANT") != NULL;
    for (long round = 0; round < rounds; round++) {
        pthread_t threads[TASKS];
        struct job jobs[TASKS];
        for (int t = 0; t < TASKS; t++) {
            jobs[t] = (struct job){t, &threaded[t]};
            pthread_create(&threads[t], NULL, thread_main, &jobs[t]);
        }
        for (int t = 0; t < TASKS; t++) pthread_join(threads[t], NULL);
        for (int t = 0; t < TASKS; t++) {
            all_ran &= threaded[t].ok;
            if (memcmp(&threaded[t], &sequential[t], sizeof threaded[t]) != 0) {
                if (mismatches++ < 5) fprintf(stderr, "round %ld: run %d in a thread differs from the sequential run\n", round, t);
            }
        }
    }
    stress_figure("8 threads vs sequential", started,
                  "%d training runs (%ld epochs, rules 1-8) and %dx%d products, %ld rounds of all 8 at once in threads: "
                  "%d of %ld thread results differ from the sequential ones (%s bytes compared per round)%s",
                  TASKS, epochs, MAT, MAT, rounds, mismatches, rounds * TASKS,
                  stress_count((long long)sizeof sequential), all_ran ? "" : "; SOME RUNS FAILED");
    return all_ran && mismatches == 0 ? 0 : 1;
}
