/* Resident memory over 1,000,000 create/free cycles stays flat: each cycle creates and frees one
 * kind of object in turn (tensor + clone; optimizer with a group, grads and a step; schedules;
 * plateau; graph with a dense layer, a cost, a forward/backward pass and a trainer; data loader),
 * and makes one failing call (last-error text). Resident memory is sampled after the first 10% of
 * the cycles (the warm-up: heaps and handle tables at their working size) and at the end; the
 * growth in between must stay under 1 MiB.
 * Usage: stress_rss [cycles=1000000]. DESCENT_STRESS_PLANT=1 leaks 64 bytes per cycle (the
 * check must then fail). Exit 0 when flat. */
#include "stress.h"

static long resident_kib(void) {
    FILE *file = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!file) return -1;
    if (fscanf(file, "%ld %ld", &size, &resident) != 2) resident = -1;
    fclose(file);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static float x_data[64 * 8];
static int64_t labels[64];

static int cycle(long i, descent_tensor param, descent_tensor grad, descent_tensor inputs) {
    int ok = 1;
    int64_t n = 64, shape[2] = {4, 8}, input_shape[2] = {-1, 8}, milestones[3] = {10, 20, 30};
    double value = 0;
    switch (i % 6) {
    case 0: {
        descent_tensor a = 0, b = 0;
        ok &= descent_tensor_zeros(DESCENT_DTYPE_FLOAT32, 1, &n, &a) == DESCENT_OK;
        ok &= descent_tensor_clone(a, &b) == DESCENT_OK;
        ok &= descent_tensor_free(a) == DESCENT_OK && descent_tensor_free(b) == DESCENT_OK;
        break;
    }
    case 1: {
        descent_optimizer opt = 0;
        ok &= descent_optimizer_new(1 + (int32_t)(i / 6 % 10), &opt) == DESCENT_OK;
        ok &= descent_optimizer_add_group(opt, &param, 1, NULL) == DESCENT_OK;
        ok &= descent_optimizer_set_grads(opt, &grad, 1) == DESCENT_OK;
        ok &= descent_optimizer_step(opt, NULL) == DESCENT_OK;
        ok &= descent_optimizer_free(opt) == DESCENT_OK;
        break;
    }
    case 2: {
        descent_schedule parts[2] = {0, 0}, sequence = 0;
        int64_t boundary = 5;
        ok &= descent_schedule_new_multi_step(0.1, milestones, 3, 0.5, &parts[0]) == DESCENT_OK;
        ok &= descent_schedule_new_cosine(0.1, 100, 0.0, &parts[1]) == DESCENT_OK;
        ok &= descent_schedule_new_sequential(parts, 2, &boundary, &sequence) == DESCENT_OK;
        ok &= descent_schedule_value(sequence, 17, &value) == DESCENT_OK;
        ok &= descent_schedule_free(sequence) == DESCENT_OK;
        ok &= descent_schedule_free(parts[0]) == DESCENT_OK && descent_schedule_free(parts[1]) == DESCENT_OK;
        break;
    }
    case 3: {
        descent_plateau plateau = 0;
        ok &= descent_plateau_new(0.1, 0, 0.5, 2, 1e-4, 0, 1, 0.0, 1e-8, &plateau) == DESCENT_OK;
        ok &= descent_plateau_update(plateau, 1.0, &value) == DESCENT_OK;
        ok &= descent_plateau_free(plateau) == DESCENT_OK;
        break;
    }
    case 4: {
        descent_graph graph = 0;
        descent_trainer trainer = 0;
        descent_optimizer opt = 0;
        int64_t input, label_node, w, b, logits, loss;
        descent_tensor weights = 0, bias = 0, batch = 0;
        int64_t ws[2] = {4, 8}, bs[1] = {4};
        ok &= descent_tensor_zeros(DESCENT_DTYPE_FLOAT32, 2, ws, &weights) == DESCENT_OK;
        ok &= descent_tensor_zeros(DESCENT_DTYPE_FLOAT32, 1, bs, &bias) == DESCENT_OK;
        ok &= descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT32, 2, shape, x_data, 32, &batch) == DESCENT_OK;
        ok &= descent_graph_new(DESCENT_DTYPE_FLOAT32, &graph) == DESCENT_OK;
        ok &= descent_graph_input(graph, 2, input_shape, &input) == DESCENT_OK;
        ok &= descent_graph_labels(graph, &label_node) == DESCENT_OK;
        ok &= descent_graph_param(graph, weights, 1, &w) == DESCENT_OK;
        ok &= descent_graph_param(graph, bias, 1, &b) == DESCENT_OK;
        ok &= descent_graph_dense(graph, input, w, b, DESCENT_ACTIVATION_IDENTITY, 0, &logits) == DESCENT_OK;
        ok &= descent_graph_cost(graph, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits, label_node, DESCENT_REDUCTION_MEAN, 0,
                                 &loss) == DESCENT_OK;
        ok &= descent_graph_set_input(graph, input, batch) == DESCENT_OK;
        ok &= descent_graph_set_labels(graph, label_node, labels, 4) == DESCENT_OK;
        ok &= descent_graph_backward(graph, loss, &value) == DESCENT_OK;
        ok &= descent_optimizer_new(DESCENT_RULE_ADAM, &opt) == DESCENT_OK;
        ok &= descent_optimizer_add_group(opt, &weights, 1, NULL) == DESCENT_OK;
        ok &= descent_trainer_new(graph, opt, loss, &trainer) == DESCENT_OK;
        ok &= descent_trainer_step(trainer, &value, NULL) == DESCENT_OK;
        ok &= descent_trainer_free(trainer) == DESCENT_OK && descent_optimizer_free(opt) == DESCENT_OK;
        ok &= descent_graph_free(graph) == DESCENT_OK;
        ok &= descent_tensor_free(weights) == DESCENT_OK && descent_tensor_free(bias) == DESCENT_OK;
        ok &= descent_tensor_free(batch) == DESCENT_OK;
        break;
    }
    case 5: {
        descent_loader loader = 0;
        int64_t count = 0;
        ok &= descent_loader_new(inputs, 0, labels, 64, 16, DESCENT_LOADER_SHUFFLE, (uint64_t)i, &loader) == DESCENT_OK;
        ok &= descent_loader_set_epoch(loader, 3) == DESCENT_OK;
        ok &= descent_loader_batch_count(loader, &count) == DESCENT_OK && count == 4;
        ok &= descent_loader_free(loader) == DESCENT_OK;
        break;
    }
    }
    ok &= descent_tensor_sum(0x123456789ULL, &value) == DESCENT_ERR_INVALID_HANDLE;
    return ok;
}

int main(int argc, char **argv) {
    long cycles = stress_arg(argc, argv, 1, 1000000);
    int plant = getenv("DESCENT_STRESS_PLANT") != NULL;
    double started = stress_now();
    int64_t n = 64, data_shape[2] = {64, 8};
    for (int i = 0; i < 64 * 8; i++) x_data[i] = (float)(i % 13) * 0.1f;
    for (int i = 0; i < 64; i++) labels[i] = i % 4;
    descent_tensor param, grad, inputs;
    descent_tensor_full(DESCENT_DTYPE_FLOAT32, 1, &n, 1.0, &param);
    descent_tensor_full(DESCENT_DTYPE_FLOAT32, 1, &n, 0.5, &grad);
    descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT32, 2, data_shape, x_data, 64 * 8, &inputs);
    long warm = cycles / 10, failures = 0, at_warm = 0, peak = 0;
    for (long i = 0; i < cycles; i++) {
        if (!cycle(i, param, grad, inputs) && failures++ < 5) fprintf(stderr, "cycle %ld failed: %s\n", i, descent_last_error());
        if (plant) {
            volatile char *leak = malloc(64);
            if (leak) leak[0] = 1;
        }
        if (i + 1 == warm) at_warm = resident_kib();
        if ((i & 4095) == 0) {
            long now = resident_kib();
            if (now > peak) peak = now;
        }
    }
    long at_end = resident_kib();
    if (at_end > peak) peak = at_end;
    long growth = at_end - at_warm;
    stress_figure("resident memory over create/free cycles", started,
                  "%s cycles over every kind of object: %.1f MiB after %s, %.1f MiB after %s (%+ld KiB; peak %.1f MiB), "
                  "%ld failed cycles",
                  stress_count(cycles), at_warm / 1024.0, stress_count(warm), at_end / 1024.0, stress_count(cycles), growth,
                  peak / 1024.0, failures);
    return failures == 0 && growth < 1024 ? 0 : 1;
}
