/* Trains a 2-32-32-3 MLP (ReLU, He init, softmax cross-entropy, Adam) on three interleaved
 * spirals through the C ABI alone: raw arrays in, a graph, a data loader, a trainer, the epoch
 * loop of one-call steps, then the test accuracy. `make demo` runs it. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "descent.h"

#define TRY(call)                                                                      \
    do {                                                                               \
        if ((call) != DESCENT_OK) {                                                    \
            fprintf(stderr, "%s failed: %s\n", #call, descent_last_error());           \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

enum { CLASSES = 3, PER_CLASS = 300, SAMPLES = CLASSES * PER_CLASS, HIDDEN = 32, EPOCHS = 60, BATCH = 32 };

/* Three spiral arms with a little deterministic noise; every 5th sample is held out. */
static void spirals(float *x, int64_t *y) {
    uint64_t state = 12345;
    for (int c = 0; c < CLASSES; c++) {
        for (int i = 0; i < PER_CLASS; i++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            double noise = ((double)(state >> 11) / 9007199254740992.0 - 0.5) * 0.3;
            double r = (double)i / PER_CLASS, t = c * 2.0944 + 4.0 * r + noise;
            int n = c * PER_CLASS + i;
            x[2 * n] = (float)(r * sin(t));
            x[2 * n + 1] = (float)(r * cos(t));
            y[n] = c;
        }
    }
}

int main(void) {
    static float all_x[SAMPLES * 2], train_x[SAMPLES * 2], test_x[SAMPLES * 2];
    static int64_t all_y[SAMPLES], train_y[SAMPLES], test_y[SAMPLES];
    spirals(all_x, all_y);
    int64_t train_n = 0, test_n = 0;
    for (int n = 0; n < SAMPLES; n++) {
        float *x = n % 5 == 0 ? test_x + 2 * test_n : train_x + 2 * train_n;
        x[0] = all_x[2 * n];
        x[1] = all_x[2 * n + 1];
        if (n % 5 == 0) test_y[test_n++] = all_y[n]; else train_y[train_n++] = all_y[n];
    }

    /* Parameters live in our own arrays; the graph and the optimizer read and update them in place. */
    static float w1[HIDDEN * 2], b1[HIDDEN], w2[HIDDEN * HIDDEN], b2[HIDDEN], w3[CLASSES * HIDDEN], b3[CLASSES];
    int64_t w1s[2] = {HIDDEN, 2}, w2s[2] = {HIDDEN, HIDDEN}, w3s[2] = {CLASSES, HIDDEN}, hs[1] = {HIDDEN}, cs[1] = {CLASSES};
    descent_tensor params[6];
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, w1s, w1, HIDDEN * 2, &params[0]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, hs, b1, HIDDEN, &params[1]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, w2s, w2, HIDDEN * HIDDEN, &params[2]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, hs, b2, HIDDEN, &params[3]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, w3s, w3, CLASSES * HIDDEN, &params[4]));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, cs, b3, CLASSES, &params[5]));

    /* The graph: x -> dense(ReLU) -> dense(ReLU) -> dense -> softmax cross-entropy. */
    descent_graph graph;
    int64_t input, labels, p[6], h1, h2, logits, loss, input_shape[2] = {-1, 2};
    TRY(descent_graph_new(DESCENT_DTYPE_FLOAT32, &graph));
    TRY(descent_graph_input(graph, 2, input_shape, &input));
    TRY(descent_graph_labels(graph, &labels));
    for (int i = 0; i < 6; i++) {
        TRY(descent_graph_param(graph, params[i], 1, &p[i]));
        TRY(descent_graph_param_init(graph, p[i], i % 2 == 0 ? DESCENT_INIT_HE_NORMAL : DESCENT_PARAM_INIT_ZEROS, 1.0));
    }
    TRY(descent_graph_init_params(graph, 7));
    TRY(descent_graph_dense(graph, input, p[0], p[1], DESCENT_ACTIVATION_RELU, 0, &h1));
    TRY(descent_graph_dense(graph, h1, p[2], p[3], DESCENT_ACTIVATION_RELU, 0, &h2));
    TRY(descent_graph_dense(graph, h2, p[4], p[5], DESCENT_ACTIVATION_IDENTITY, 0, &logits));
    TRY(descent_graph_cost(graph, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits, labels, DESCENT_REDUCTION_MEAN, 0, &loss));

    /* Adam over the same arrays, a trainer tying it to the loss, loaders over raw arrays. */
    descent_optimizer adam;
    TRY(descent_optimizer_new(DESCENT_RULE_ADAM, &adam));
    TRY(descent_optimizer_add_group(adam, params, 6, NULL));
    TRY(descent_optimizer_set_hyper(adam, 0, DESCENT_HYPER_LR, 0.01));
    descent_trainer trainer;
    TRY(descent_trainer_new(graph, adam, loss, &trainer));
    TRY(descent_trainer_set_nodes(trainer, input, labels, logits));
    int64_t train_shape[2] = {train_n, 2}, test_shape[2] = {test_n, 2};
    descent_tensor train_t, test_t;
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, train_shape, train_x, train_n * 2, &train_t));
    TRY(descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 2, test_shape, test_x, test_n * 2, &test_t));
    descent_loader train, test;
    TRY(descent_loader_new(train_t, 0, train_y, train_n, BATCH, DESCENT_LOADER_SHUFFLE, 42, &train));
    TRY(descent_loader_new(test_t, 0, test_y, test_n, 256, 0, 0, &test));

    int64_t batches;
    TRY(descent_loader_batch_count(train, &batches));
    printf("three spirals: %lld training / %lld test samples, %lld steps per epoch\n", (long long)train_n,
           (long long)test_n, (long long)batches);
    printf("epoch  mean training loss  training accuracy\n");
    for (int64_t epoch = 0; epoch < EPOCHS; epoch++) {
        TRY(descent_loader_set_epoch(train, epoch));
        double total = 0;
        int64_t correct_total = 0;
        for (int64_t b = 0; b < batches; b++) {
            double value;
            int64_t correct;
            TRY(descent_trainer_step_batch(trainer, train, b, &value, &correct, NULL));
            total += value;
            correct_total += correct;
        }
        if (epoch % 10 == 9) {
            printf("%5lld  %18.4f  %17.3f\n", (long long)epoch + 1, total / batches, (double)correct_total / train_n);
        }
    }
    double test_loss, test_accuracy;
    TRY(descent_trainer_evaluate(trainer, test, &test_loss, &test_accuracy));
    printf("test loss %.4f, test accuracy %.3f\n", test_loss, test_accuracy);

    descent_loader_free(train);
    descent_loader_free(test);
    descent_trainer_free(trainer);
    descent_optimizer_free(adam);
    descent_graph_free(graph);
    descent_tensor_free(train_t);
    descent_tensor_free(test_t);
    for (int i = 0; i < 6; i++) descent_tensor_free(params[i]);
    return test_accuracy > 0.9 ? 0 : 1;
}
