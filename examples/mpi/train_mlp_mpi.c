/* Data-parallel training of a 2-32-32-3 MLP (float64, ReLU, softmax cross-entropy, Adam) on three
 * spirals with MPI and libdescent: the library never calls MPI, this program does.
 *
 *   mpirun -np 2 build/examples/mpi/train_mlp_mpi [OUT]
 *
 * Every rank builds the same model over ONE array of parameters (so they are one region:
 * descent_graph_param_buffer), takes rank 0's initial values (MPI_Bcast), and per step computes
 * the gradient of its part of the global batch (descent_trainer_backward_batch), sums every
 * gradient with ONE MPI_Allreduce over the graph's flat gradient buffer, and applies the same
 * update (descent_trainer_apply). With OUT, rank r writes its final params to OUT-rR.bin and its
 * initial ones to OUT-rR.init.bin (raw float64), which python/tests/test_distributed.py compares
 * across 1 and 2 ranks. `make` builds it when mpicc exists. */
#include <mpi.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "descent.h"

#define TRY(call)                                                                                   \
    do {                                                                                            \
        if ((call) != DESCENT_OK) {                                                                 \
            fprintf(stderr, "rank %d: %s failed: %s\n", rank, #call, descent_last_error());         \
            MPI_Abort(MPI_COMM_WORLD, 1); /* the other ranks must not wait for this one forever */ \
        }                                                                                           \
    } while (0)

enum { CLASSES = 3, PER_CLASS = 200, SAMPLES = CLASSES * PER_CLASS, HIDDEN = 32, EPOCHS = 5, BATCH = 60 };
enum { PARAMS = HIDDEN * 2 + HIDDEN + HIDDEN * HIDDEN + HIDDEN + CLASSES * HIDDEN + CLASSES };

static void spirals(double *x, int64_t *y) {
    uint64_t state = 12345;
    for (int c = 0; c < CLASSES; c++) {
        for (int i = 0; i < PER_CLASS; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            double noise = ((double)(state >> 11) / 9007199254740992.0 - 0.5) * 0.3;
            double r = (double)i / PER_CLASS, t = c * 2.0944 + 4.0 * r + noise;
            int n = c * PER_CLASS + i;
            x[2 * n] = r * sin(t);
            x[2 * n + 1] = r * cos(t);
            y[n] = c;
        }
    }
}

static void write_params(const char *out, int rank, const char *suffix, const double *values, int64_t count) {
    char path[4096];
    snprintf(path, sizeof path, "%s-r%d%s.bin", out, rank, suffix);
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(values, sizeof(double), (size_t)count, file) != (size_t)count) {
        fprintf(stderr, "rank %d: cannot write %s\n", rank, path);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    fclose(file);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    static double x[SAMPLES * 2];
    static int64_t y[SAMPLES];
    spirals(x, y);

    /* One arena for every parameter, in the order the graph adds them. */
    static double arena[PARAMS];
    double *w1 = arena, *b1 = w1 + HIDDEN * 2, *w2 = b1 + HIDDEN, *b2 = w2 + HIDDEN * HIDDEN,
           *w3 = b2 + HIDDEN, *b3 = w3 + CLASSES * HIDDEN;
    double *views[6] = {w1, b1, w2, b2, w3, b3};
    int64_t counts[6] = {HIDDEN * 2, HIDDEN, HIDDEN * HIDDEN, HIDDEN, CLASSES * HIDDEN, CLASSES};
    int64_t shapes[6][2] = {{HIDDEN, 2}, {HIDDEN, 0}, {HIDDEN, HIDDEN}, {HIDDEN, 0}, {CLASSES, HIDDEN}, {CLASSES, 0}};
    descent_tensor params[6];
    for (int i = 0; i < 6; i++) {
        TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, i % 2 == 0 ? 2 : 1, shapes[i], views[i], counts[i], &params[i]));
    }
    descent_graph graph;
    int64_t input, labels, p[6], h1, h2, logits, loss, input_shape[2] = {-1, 2};
    TRY(descent_graph_new(DESCENT_DTYPE_FLOAT64, &graph));
    TRY(descent_graph_input(graph, 2, input_shape, &input));
    TRY(descent_graph_labels(graph, &labels));
    for (int i = 0; i < 6; i++) {
        TRY(descent_graph_param(graph, params[i], 1, &p[i]));
        TRY(descent_graph_param_init(graph, p[i], i % 2 == 0 ? DESCENT_INIT_HE_NORMAL : DESCENT_PARAM_INIT_ZEROS, 1.0));
    }
    TRY(descent_graph_init_params(graph, 7 + (uint64_t)rank)); /* different on purpose: rank 0's win */
    TRY(descent_graph_dense(graph, input, p[0], p[1], DESCENT_ACTIVATION_RELU, 0, &h1));
    TRY(descent_graph_dense(graph, h1, p[2], p[3], DESCENT_ACTIVATION_RELU, 0, &h2));
    TRY(descent_graph_dense(graph, h2, p[4], p[5], DESCENT_ACTIVATION_IDENTITY, 0, &logits));
    TRY(descent_graph_cost(graph, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits, labels, DESCENT_REDUCTION_MEAN, 0, &loss));

    /* Rank 0's initial params everywhere: one broadcast of the params' single region. */
    void *param_data;
    int64_t param_count;
    TRY(descent_graph_param_buffer(graph, &param_data, &param_count));
    MPI_Bcast(param_data, (int)param_count, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    const char *out = argc > 1 ? argv[1] : NULL;
    if (out != NULL) write_params(out, rank, ".init", (const double *)param_data, param_count);

    descent_optimizer adam;
    TRY(descent_optimizer_new(DESCENT_RULE_ADAM, &adam));
    TRY(descent_optimizer_add_group(adam, params, 6, NULL));
    TRY(descent_optimizer_set_hyper(adam, 0, DESCENT_HYPER_LR, 0.01));
    descent_trainer trainer;
    TRY(descent_trainer_new(graph, adam, loss, &trainer));
    TRY(descent_trainer_set_nodes(trainer, input, labels, logits));
    int64_t data_shape[2] = {SAMPLES, 2};
    descent_tensor data;
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 2, data_shape, x, SAMPLES * 2, &data));
    descent_loader train; /* the same seed on every rank: the same global batches */
    TRY(descent_loader_new(data, 0, y, SAMPLES, BATCH, DESCENT_LOADER_SHUFFLE, 42, &train));

    void *grads;
    int64_t grad_count, batches;
    TRY(descent_graph_grad_buffer(graph, &grads, &grad_count));
    TRY(descent_loader_batch_count(train, &batches));
    double seconds_in_allreduce = 0, last_loss = 0;
    for (int64_t epoch = 0; epoch < EPOCHS; epoch++) {
        TRY(descent_loader_set_epoch(train, epoch));
        double sums[2] = {0, 0}; /* Σ n·loss, Σ n over this rank's parts */
        for (int64_t b = 0; b < batches; b++) {
            double part_loss;
            int64_t samples;
            TRY(descent_trainer_backward_batch(trainer, train, b, rank, size, &part_loss, NULL, &samples));
            double started = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, grads, (int)grad_count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            seconds_in_allreduce += MPI_Wtime() - started;
            TRY(descent_trainer_apply(trainer, NULL));
            sums[0] += part_loss * (double)samples;
            sums[1] += (double)samples;
        }
        MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); /* global metric */
        last_loss = sums[0] / sums[1];
        if (rank == 0) printf("epoch %lld: mean training loss %.6f\n", (long long)epoch + 1, last_loss);
    }
    if (rank == 0) {
        printf("final loss %.6f on %d rank(s); %.3f ms in MPI_Allreduce (%lld gradients, %lld bytes per step)\n",
               last_loss, size, seconds_in_allreduce * 1e3, (long long)grad_count, (long long)grad_count * 8);
    }
    if (out != NULL) write_params(out, rank, "", (const double *)param_data, param_count);

    descent_loader_free(train);
    descent_trainer_free(trainer);
    descent_optimizer_free(adam);
    descent_graph_free(graph);
    descent_tensor_free(data);
    for (int i = 0; i < 6; i++) descent_tensor_free(params[i]);
    MPI_Finalize();
    return 0;
}
