/* The data-parallel C ABI without MPI: the parts of a batch sum to the batch's gradient; the
 * gradient half + apply equals the one-call step bit for bit; two optimizer shards stepping their
 * ranges equal one optimizer; flat param and gradient buffers are zero-copy; bad input is a status
 * and changes nothing. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

enum { IN = 3, HID = 5, OUT = 2, N = 23, BATCH = 10, PARAMS = HID * IN + HID + OUT * HID + OUT };

typedef struct {
    double arena[PARAMS];
    descent_tensor params[4];
    descent_graph graph;
    descent_optimizer adam;
    descent_trainer trainer;
    int64_t input, labels, logits, loss;
} model;

static void build(model *m, const double *init) {
    int64_t shapes[4][2] = {{HID, IN}, {HID, 0}, {OUT, HID}, {OUT, 0}}, offset = 0, p[4];
    int64_t counts[4] = {HID * IN, HID, OUT * HID, OUT}, input_shape[2] = {-1, IN}, h;
    for (int i = 0; i < PARAMS; i++) m->arena[i] = init[i];
    for (int i = 0; i < 4; i++) {
        CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, i % 2 ? 1 : 2, shapes[i], m->arena + offset, counts[i], &m->params[i]));
        offset += counts[i];
    }
    CHECK_OK(descent_graph_new(DESCENT_DTYPE_FLOAT64, &m->graph));
    CHECK_OK(descent_graph_input(m->graph, 2, input_shape, &m->input));
    CHECK_OK(descent_graph_labels(m->graph, &m->labels));
    for (int i = 0; i < 4; i++) CHECK_OK(descent_graph_param(m->graph, m->params[i], 1, &p[i]));
    CHECK_OK(descent_graph_dense(m->graph, m->input, p[0], p[1], DESCENT_ACTIVATION_TANH, 0, &h));
    CHECK_OK(descent_graph_dense(m->graph, h, p[2], p[3], DESCENT_ACTIVATION_IDENTITY, 0, &m->logits));
    CHECK_OK(descent_graph_cost(m->graph, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, m->logits, m->labels,
                                DESCENT_REDUCTION_MEAN, 0, &m->loss));
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_ADAM, &m->adam));
    CHECK_OK(descent_optimizer_add_group(m->adam, m->params, 4, NULL));
    CHECK_OK(descent_optimizer_set_hyper(m->adam, 0, DESCENT_HYPER_LR, 0.05));
    CHECK_OK(descent_trainer_new(m->graph, m->adam, m->loss, &m->trainer));
    CHECK_OK(descent_trainer_set_nodes(m->trainer, m->input, m->labels, m->logits));
}

static void release(model *m) {
    descent_trainer_free(m->trainer);
    descent_optimizer_free(m->adam);
    descent_graph_free(m->graph);
    for (int i = 0; i < 4; i++) descent_tensor_free(m->params[i]);
}

static double max_relative(const double *a, const double *b, int64_t n) {
    double difference = 0, scale = 0;
    for (int64_t i = 0; i < n; i++) {
        difference = fmax(difference, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return difference / scale;
}

int main(void) {
    static double x[N * IN], init[PARAMS];
    static int64_t y[N];
    uint64_t state = 99;
    for (int i = 0; i < N * IN; i++) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (double)(state >> 11) / 9007199254740992.0 - 0.5;
    }
    for (int i = 0; i < N; i++) y[i] = x[i * IN] + x[i * IN + 1] > 0;
    for (int i = 0; i < PARAMS; i++) init[i] = sin(0.7 * i + 0.3);
    int64_t shape[2] = {N, IN};
    descent_tensor data;
    descent_loader loader;
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 2, shape, x, N * IN, &data));
    CHECK_OK(descent_loader_new(data, 0, y, N, BATCH, DESCENT_LOADER_SHUFFLE, 5, &loader));
    CHECK_OK(descent_loader_set_epoch(loader, 0));

    model a, b;
    build(&a, init);
    build(&b, init);

    /* The params are one region: the arena itself, zero-copy. */
    void *data_out = NULL;
    int64_t count = 0;
    CHECK_OK(descent_graph_param_buffer(a.graph, &data_out, &count));
    CHECK(data_out == (void *)a.arena && count == PARAMS);
    CHECK_STATUS(descent_graph_param_buffer(a.graph, NULL, &count), DESCENT_ERR_NULL_POINTER);

    /* Parts of a batch (3 parts of 10 rows: 3, 3, 4) sum to the whole batch's gradient. */
    void *grads;
    int64_t grad_count;
    CHECK_OK(descent_graph_grad_buffer(a.graph, &grads, &grad_count));
    CHECK(grad_count == PARAMS);
    static double whole[PARAMS], summed[PARAMS];
    double loss_whole, loss_part, weighted = 0;
    int64_t samples, total = 0;
    CHECK_OK(descent_trainer_backward_batch(a.trainer, loader, 1, 0, 1, &loss_whole, NULL, &samples));
    CHECK(samples == BATCH);
    for (int i = 0; i < PARAMS; i++) whole[i] = ((double *)grads)[i];
    for (int part = 0; part < 3; part++) {
        CHECK_OK(descent_trainer_backward_batch(a.trainer, loader, 1, part, 3, &loss_part, NULL, &samples));
        for (int i = 0; i < PARAMS; i++) summed[i] += ((double *)grads)[i];
        weighted += loss_part * (double)samples;
        total += samples;
    }
    CHECK(total == BATCH);
    CHECK(max_relative(summed, whole, PARAMS) < 1e-14);
    CHECK(fabs(weighted / BATCH - loss_whole) < 1e-14);
    /* 12 parts of a 10-row batch: two are empty and give zero gradients. */
    CHECK_OK(descent_trainer_backward_batch(a.trainer, loader, 1, 11, 12, &loss_part, NULL, &samples));
    CHECK(samples == 1);
    CHECK_OK(descent_trainer_backward_batch(a.trainer, loader, 1, 0, 12, &loss_part, NULL, &samples));
    CHECK(samples == 0 && loss_part == 0 && ((double *)grads)[0] == 0);

    /* Bad input: a status, and the params stay as they were. */
    CHECK_STATUS(descent_trainer_backward_batch(a.trainer, loader, 1, 3, 3, NULL, NULL, NULL), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_trainer_backward_batch(a.trainer, loader, 1, 0, 0, NULL, NULL, NULL), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_trainer_backward_batch(a.trainer, loader, 99, 0, 1, NULL, NULL, NULL), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_trainer_backward_batch(a.trainer, 0, 0, 0, 1, NULL, NULL, NULL), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_trainer_apply(0, NULL), DESCENT_ERR_INVALID_HANDLE);
    CHECK(max_relative(a.arena, init, PARAMS) == 0);

    /* The two halves (parts = 1) equal the one-call step, bit for bit, over several steps. */
    for (int64_t step = 0; step < 3; step++) {
        double one, two;
        int32_t skipped = -1;
        CHECK_OK(descent_trainer_backward_batch(a.trainer, loader, step % 2, 0, 1, &one, NULL, NULL));
        CHECK_OK(descent_trainer_apply(a.trainer, &skipped));
        CHECK_OK(descent_trainer_step_batch(b.trainer, loader, step % 2, &two, NULL, NULL));
        CHECK(one == two && skipped == 0);
    }
    CHECK(memcmp(a.arena, b.arena, sizeof a.arena) == 0);

    /* Shards: [0, 13) and [13, PARAMS) of Adam's flattened params step like the whole optimizer. */
    int64_t elements = 0, state_bytes = 0, shard_bytes = 0;
    CHECK_OK(descent_optimizer_sizes(a.adam, &elements, &state_bytes));
    CHECK(elements == PARAMS && state_bytes == 2 * PARAMS * 8);
    descent_optimizer left, right, none = 0;
    CHECK_STATUS(descent_optimizer_shard(a.adam, 10, PARAMS, &none), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_optimizer_shard(a.adam, -1, 2, &none), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_optimizer_shard(a.adam, 0, 2, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK(none == 0);
    CHECK_OK(descent_optimizer_shard(a.adam, 0, 13, &left));
    CHECK_OK(descent_optimizer_shard(a.adam, 13, PARAMS - 13, &right));
    CHECK_OK(descent_optimizer_sizes(left, &elements, &shard_bytes));
    CHECK(elements == 13 && shard_bytes == 2 * 13 * 8);
    void *left_grads, *right_grads;
    int64_t left_count, right_count, f32_count = -1;
    CHECK_STATUS(descent_optimizer_grad_buffer(left, 7, &left_grads, &left_count), DESCENT_ERR_DTYPE);
    CHECK_OK(descent_optimizer_grad_buffer(left, DESCENT_DTYPE_FLOAT64, &left_grads, &left_count));
    CHECK_OK(descent_optimizer_grad_buffer(left, DESCENT_DTYPE_FLOAT32, &data_out, &f32_count));
    CHECK_OK(descent_optimizer_grad_buffer(right, DESCENT_DTYPE_FLOAT64, &right_grads, &right_count));
    CHECK(left_count == 13 && right_count == PARAMS - 13 && f32_count == 0);
    for (int64_t step = 0; step < 3; step++) {
        CHECK_OK(descent_trainer_backward_batch(a.trainer, loader, 2, 0, 1, NULL, NULL, NULL));
        for (int i = 0; i < PARAMS; i++) {
            if (i < 13) ((double *)left_grads)[i] = ((double *)grads)[i];
            else ((double *)right_grads)[i - 13] = ((double *)grads)[i];
        }
        CHECK_OK(descent_optimizer_step(left, NULL));
        CHECK_OK(descent_optimizer_step(right, NULL));
        CHECK_OK(descent_trainer_step_batch(b.trainer, loader, 2, NULL, NULL, NULL));
    }
    CHECK(memcmp(a.arena, b.arena, sizeof a.arena) == 0);
    descent_optimizer_free(left);
    descent_optimizer_free(right);

    /* An optimizer's own gradients as one flat buffer: filling it is what step reads. */
    void *flat;
    int64_t flat_count;
    CHECK_OK(descent_optimizer_grad_buffer(b.adam, DESCENT_DTYPE_FLOAT64, &flat, &flat_count));
    CHECK(flat_count == PARAMS);

    /* Params in separate arrays are not one region: a clear error. */
    double gapped[5];  /* two params with a gap between them */
    int64_t two[1] = {2}, node;
    descent_tensor t1, t2;
    descent_graph loose;
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, two, gapped, 2, &t1));
    CHECK_OK(descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, two, gapped + 3, 2, &t2));
    CHECK_OK(descent_graph_new(DESCENT_DTYPE_FLOAT64, &loose));
    CHECK_OK(descent_graph_param(loose, t1, 1, &node));
    CHECK_OK(descent_graph_param(loose, t2, 1, &node));
    CHECK_STATUS(descent_graph_param_buffer(loose, &data_out, &count), DESCENT_ERR_INVALID_ARGUMENT);
    descent_graph_free(loose);
    descent_tensor_free(t1);
    descent_tensor_free(t2);

    release(&a);
    release(&b);
    descent_loader_free(loader);
    descent_tensor_free(data);
    return check_report("data parallel");
}
