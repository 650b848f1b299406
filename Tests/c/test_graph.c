/* C test of the graphs and training sections of descent.h: the textbook graph J = 3(a + bc),
 * a one-hidden-layer network's loss and gradients against a C reference written from the
 * formulas, one trainer step against a hand-written SGD update, the loader's batches, fit with
 * callbacks, and bad input (each failure returns its documented status and changes nothing). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define CLOSE(a, b, tol) (fabs((a) - (b)) <= (tol) * (1.0 + fabs(b)))

static descent_tensor wrap(int64_t rank, const int64_t *shape, double *data, int64_t count) {
    descent_tensor t = 0;
    if (descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, rank, shape, data, count, &t) != DESCENT_OK) {
        fprintf(stderr, "cannot wrap: %s\n", descent_last_error());
    }
    return t;
}

static void test_textbook_graph(void) {
    double va = 5, vb = 3, vc = 2, loss = 0, grad = 0;
    descent_graph g = 0;
    descent_tensor ta = wrap(0, NULL, &va, 1), tb = wrap(0, NULL, &vb, 1), tc = wrap(0, NULL, &vc, 1);
    int64_t a, b, c, u, v, three, J;
    CHECK_OK(descent_graph_new(DESCENT_DTYPE_FLOAT64, &g));
    CHECK_OK(descent_graph_param(g, ta, 1, &a));
    CHECK_OK(descent_graph_param(g, tb, 1, &b));
    CHECK_OK(descent_graph_param(g, tc, 1, &c));
    CHECK_OK(descent_graph_binary(g, DESCENT_GRAPH_MUL, b, c, &u));
    CHECK_OK(descent_graph_binary(g, DESCENT_GRAPH_ADD, a, u, &v));
    CHECK_OK(descent_graph_scalar(g, 3.0, &three));
    CHECK_OK(descent_graph_binary(g, DESCENT_GRAPH_MUL, three, v, &J));
    CHECK_OK(descent_graph_backward(g, J, &loss));
    CHECK(loss == 33.0);
    CHECK_OK(descent_graph_grad(g, a, DESCENT_DTYPE_FLOAT64, &grad, 1));
    CHECK(grad == 3.0);
    CHECK_OK(descent_graph_grad(g, b, DESCENT_DTYPE_FLOAT64, &grad, 1));
    CHECK(grad == 6.0);
    CHECK_OK(descent_graph_grad(g, c, DESCENT_DTYPE_FLOAT64, &grad, 1));
    CHECK(grad == 9.0);
    /* u = bc = 6 and v = 11 through forward. */
    double value = 0;
    int64_t count = 0;
    CHECK_OK(descent_graph_forward(g, u, DESCENT_DTYPE_FLOAT64, &value, 1, &count));
    CHECK(value == 6.0 && count == 1);
    CHECK_OK(descent_graph_forward(g, v, DESCENT_DTYPE_FLOAT64, &value, 1, &count));
    CHECK(value == 11.0);
    /* Bad input: an operand that is not a node, a grad of a non-param, wrong dtype, small buffer. */
    int64_t node = -7;
    CHECK_STATUS(descent_graph_binary(g, DESCENT_GRAPH_ADD, a, 99, &node), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(node == -7);
    CHECK_STATUS(descent_graph_binary(g, 9, a, b, &node), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_graph_binary(g, DESCENT_GRAPH_ADD, a, b, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_graph_grad(g, u, DESCENT_DTYPE_FLOAT64, &grad, 1), DESCENT_ERR_INVALID_ARGUMENT);
    float single = 0;
    CHECK_STATUS(descent_graph_grad(g, a, DESCENT_DTYPE_FLOAT32, &single, 1), DESCENT_ERR_DTYPE);
    CHECK_STATUS(descent_graph_backward(g, 1000, &loss), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_graph_backward(0, J, &loss), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_graph_backward(ta, J, &loss), DESCENT_ERR_WRONG_HANDLE_TYPE);
    int64_t count_nodes = 0;
    CHECK_OK(descent_graph_node_count(g, &count_nodes));
    CHECK(count_nodes == 7);
    CHECK_OK(descent_graph_free(g));
    CHECK_OK(descent_graph_free(g)); /* a second free is harmless */
    CHECK_STATUS(descent_graph_backward(g, J, &loss), DESCENT_ERR_INVALID_HANDLE);
    descent_tensor_free(ta);
    descent_tensor_free(tb);
    descent_tensor_free(tc);
}

/* A 3-4-2 network with tanh hidden units and softmax cross-entropy on 5 samples, written out:
 * h = tanh(x W1^T + b1), z = h W2^T + b2, L = mean_i (log Σ_j e^z_ij - z_i,y_i). */
enum { N = 5, IN = 3, HID = 4, OUT = 2 };

static double reference_loss(const double *x, const int64_t *y, const double *W1, const double *b1,
                             const double *W2, const double *b2, double *dW1, double *db1, double *dW2,
                             double *db2) {
    double loss = 0;
    memset(dW1, 0, sizeof(double) * HID * IN);
    memset(db1, 0, sizeof(double) * HID);
    memset(dW2, 0, sizeof(double) * OUT * HID);
    memset(db2, 0, sizeof(double) * OUT);
    for (int i = 0; i < N; i++) {
        double h[HID], z[OUT], p[OUT], dz[OUT], dh[HID];
        for (int k = 0; k < HID; k++) {
            double s = b1[k];
            for (int j = 0; j < IN; j++) s += x[i * IN + j] * W1[k * IN + j];
            h[k] = tanh(s);
        }
        double largest = -INFINITY, total = 0;
        for (int o = 0; o < OUT; o++) {
            z[o] = b2[o];
            for (int k = 0; k < HID; k++) z[o] += h[k] * W2[o * HID + k];
            if (z[o] > largest) largest = z[o];
        }
        for (int o = 0; o < OUT; o++) total += exp(z[o] - largest);
        loss += log(total) + largest - z[y[i]];
        for (int o = 0; o < OUT; o++) {
            p[o] = exp(z[o] - largest) / total;
            dz[o] = (p[o] - (o == y[i] ? 1.0 : 0.0)) / N;
            db2[o] += dz[o];
            for (int k = 0; k < HID; k++) dW2[o * HID + k] += dz[o] * h[k];
        }
        for (int k = 0; k < HID; k++) {
            dh[k] = 0;
            for (int o = 0; o < OUT; o++) dh[k] += dz[o] * W2[o * HID + k];
            dh[k] *= 1 - h[k] * h[k];
            db1[k] += dh[k];
            for (int j = 0; j < IN; j++) dW1[k * IN + j] += dh[k] * x[i * IN + j];
        }
    }
    return loss / N;
}

static void test_network_and_trainer(void) {
    double x[N * IN], W1[HID * IN], b1[HID], W2[OUT * HID], b2[OUT];
    int64_t y[N] = {0, 1, 1, 0, 1};
    for (int i = 0; i < N * IN; i++) x[i] = sin(1.3 * i + 0.2);
    for (int i = 0; i < HID * IN; i++) W1[i] = 0.4 * cos(0.7 * i);
    for (int i = 0; i < HID; i++) b1[i] = 0.05 * i;
    for (int i = 0; i < OUT * HID; i++) W2[i] = 0.3 * sin(0.9 * i + 1);
    for (int i = 0; i < OUT; i++) b2[i] = -0.1 * i;
    int64_t xs[2] = {N, IN}, w1s[2] = {HID, IN}, b1s[1] = {HID}, w2s[2] = {OUT, HID}, b2s[1] = {OUT};
    int64_t inputs[2] = {-1, IN};
    descent_tensor tx = wrap(2, xs, x, N * IN), tW1 = wrap(2, w1s, W1, HID * IN), tb1 = wrap(1, b1s, b1, HID);
    descent_tensor tW2 = wrap(2, w2s, W2, OUT * HID), tb2 = wrap(1, b2s, b2, OUT);
    descent_graph g = 0;
    int64_t in, labels, w1, bb1, w2, bb2, hidden, logits, loss;
    CHECK_OK(descent_graph_new(DESCENT_DTYPE_FLOAT64, &g));
    CHECK_OK(descent_graph_input(g, 2, inputs, &in));
    CHECK_OK(descent_graph_labels(g, &labels));
    CHECK_OK(descent_graph_param(g, tW1, 1, &w1));
    CHECK_OK(descent_graph_param(g, tb1, 1, &bb1));
    CHECK_OK(descent_graph_param(g, tW2, 1, &w2));
    CHECK_OK(descent_graph_param(g, tb2, 1, &bb2));
    CHECK_OK(descent_graph_dense(g, in, w1, bb1, DESCENT_ACTIVATION_TANH, 0, &hidden));
    CHECK_OK(descent_graph_dense(g, hidden, w2, bb2, DESCENT_ACTIVATION_IDENTITY, 0, &logits));
    CHECK_OK(descent_graph_cost(g, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits, labels, DESCENT_REDUCTION_MEAN, 0,
                                &loss));
    int64_t rank = 0, shape[2] = {0, 0};
    CHECK_OK(descent_graph_shape(g, logits, &rank, shape, 2));
    CHECK(rank == 2 && shape[0] == -1 && shape[1] == OUT);

    /* Unbound inputs are an error before anything runs. */
    double value = 0;
    CHECK_STATUS(descent_graph_backward(g, loss, &value), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_graph_set_input(g, in, tx));
    int64_t bad_labels[N] = {0, 1, 2, 0, 1};
    CHECK_OK(descent_graph_set_labels(g, labels, bad_labels, N));
    CHECK_STATUS(descent_graph_backward(g, loss, &value), DESCENT_ERR_INVALID_ARGUMENT); /* label 2 of 2 classes */
    CHECK_OK(descent_graph_set_labels(g, labels, y, N));
    /* A (bound) labels node has no float value: forwarding it is an error, not a trap. */
    int64_t label_count = -3;
    CHECK_STATUS(descent_graph_forward(g, labels, DESCENT_DTYPE_FLOAT64, NULL, 0, &label_count),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(label_count == -3);

    double dW1[HID * IN], db1[HID], dW2[OUT * HID], db2[OUT];
    double expected = reference_loss(x, y, W1, b1, W2, b2, dW1, db1, dW2, db2);
    CHECK_OK(descent_graph_backward(g, loss, &value));
    CHECK(CLOSE(value, expected, 1e-13));
    double got[HID * IN];
    int ok = 1;
    CHECK_OK(descent_graph_grad(g, w1, DESCENT_DTYPE_FLOAT64, got, HID * IN));
    for (int i = 0; i < HID * IN; i++) ok &= CLOSE(got[i], dW1[i], 1e-12);
    CHECK_OK(descent_graph_grad(g, bb1, DESCENT_DTYPE_FLOAT64, got, HID));
    for (int i = 0; i < HID; i++) ok &= CLOSE(got[i], db1[i], 1e-12);
    CHECK_OK(descent_graph_grad(g, w2, DESCENT_DTYPE_FLOAT64, got, OUT * HID));
    for (int i = 0; i < OUT * HID; i++) ok &= CLOSE(got[i], dW2[i], 1e-12);
    CHECK_OK(descent_graph_grad(g, bb2, DESCENT_DTYPE_FLOAT64, got, OUT));
    for (int i = 0; i < OUT; i++) ok &= CLOSE(got[i], db2[i], 1e-12);
    CHECK(ok);

    /* The flat buffer holds the same gradients, in param order. */
    void *data = NULL;
    int64_t total = 0;
    CHECK_OK(descent_graph_grad_buffer(g, &data, &total));
    CHECK(total == HID * IN + HID + OUT * HID + OUT);
    CHECK(data != NULL && CLOSE(((double *)data)[0], dW1[0], 1e-12) &&
          CLOSE(((double *)data)[HID * IN + HID], dW2[0], 1e-12));

    /* One trainer step with SGD lr 0.5 equals W -= 0.5 dW for every param. */
    descent_optimizer sgd = 0;
    descent_tensor params[4] = {tW1, tb1, tW2, tb2};
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_SGD, &sgd));
    CHECK_OK(descent_optimizer_add_group(sgd, params, 4, NULL));
    CHECK_OK(descent_optimizer_set_hyper(sgd, 0, DESCENT_HYPER_LR, 0.5));
    descent_trainer trainer = 0;
    CHECK_OK(descent_trainer_new(g, sgd, loss, &trainer));
    double before_W1[HID * IN], before_b2[OUT];
    memcpy(before_W1, W1, sizeof W1);
    memcpy(before_b2, b2, sizeof b2);
    int32_t skipped = -1;
    CHECK_OK(descent_trainer_step(trainer, &value, &skipped));
    CHECK(CLOSE(value, expected, 1e-13) && skipped == 0);
    ok = 1;
    for (int i = 0; i < HID * IN; i++) ok &= CLOSE(W1[i], before_W1[i] - 0.5 * dW1[i], 1e-12);
    for (int i = 0; i < OUT; i++) ok &= CLOSE(b2[i], before_b2[i] - 0.5 * db2[i], 1e-12);
    CHECK(ok);

    /* A second step's loss is the reference loss at the updated params. */
    expected = reference_loss(x, y, W1, b1, W2, b2, dW1, db1, dW2, db2);
    CHECK_OK(descent_trainer_step(trainer, &value, &skipped));
    CHECK(CLOSE(value, expected, 1e-13));

    /* A loader over the same data: batch 2, no shuffle -> batches {0,1} {2,3} {4}; with the
     * trainer's nodes set, step_batch trains on those rows and counts correct argmaxes. */
    descent_loader loader = 0;
    CHECK_OK(descent_loader_new(tx, 0, y, N, 2, 0, 7, &loader));
    int64_t batches = 0, indices[2] = {0, 0}, got_count = 0;
    CHECK_OK(descent_loader_batch_count(loader, &batches));
    CHECK(batches == 3);
    CHECK_OK(descent_loader_batch_indices(loader, 2, indices, 2, &got_count));
    CHECK(got_count == 1 && indices[0] == 4);
    CHECK_STATUS(descent_trainer_step_batch(trainer, loader, 0, &value, NULL, NULL), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_trainer_set_nodes(trainer, in, labels, logits));
    int64_t correct = -5;
    CHECK_OK(descent_trainer_step_batch(trainer, loader, 2, &value, &correct, &skipped));
    CHECK(correct == 0 || correct == 1);
    double eval_loss = 0, accuracy = 0;
    CHECK_OK(descent_trainer_evaluate(trainer, loader, &eval_loss, &accuracy));
    CHECK(isfinite(eval_loss) && accuracy >= 0 && accuracy <= 1);
    CHECK_STATUS(descent_loader_batch_indices(loader, 3, indices, 2, &got_count), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_loader_new(tx, 0, y, N - 1, 2, 0, 7, &loader), DESCENT_ERR_SHAPE);
    CHECK_STATUS(descent_loader_new(tx, 0, y, N, 0, 0, 7, &loader), DESCENT_ERR_INVALID_ARGUMENT);

    /* An optimizer over a tensor the graph does not hold is refused. */
    double stray_value = 1;
    descent_tensor stray = wrap(0, NULL, &stray_value, 1);
    descent_optimizer other = 0;
    descent_trainer refused = 0;
    CHECK_OK(descent_optimizer_new(DESCENT_RULE_ADAM, &other));
    CHECK_OK(descent_optimizer_add_group(other, &stray, 1, NULL));
    CHECK_STATUS(descent_trainer_new(g, other, loss, &refused), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(refused == 0);
    CHECK_STATUS(descent_trainer_new(g, sgd, logits, &refused), DESCENT_ERR_SHAPE); /* not a scalar */

    descent_optimizer_free(other);
    descent_tensor_free(stray);
    descent_loader_free(loader);
    descent_trainer_free(trainer);
    descent_optimizer_free(sgd);
    descent_graph_free(g);
    descent_tensor_free(tx);
    descent_tensor_free(tW1);
    descent_tensor_free(tb1);
    descent_tensor_free(tW2);
    descent_tensor_free(tb2);
}

/* fit with callbacks: the step callback sees every step, returning 1 from the epoch callback
 * stops, and a failing callback aborts with DESCENT_ERR_CALLBACK. */
struct fit_counts {
    int steps, epochs, stop_after_epochs, fail_on_step;
};

static int32_t on_step(void *context, int64_t epoch, int64_t batch, double loss) {
    struct fit_counts *counts = context;
    (void)epoch;
    (void)batch;
    counts->steps++;
    if (!isfinite(loss)) return 2;
    return counts->fail_on_step && counts->steps == counts->fail_on_step ? 7 : 0;
}

static int32_t on_epoch(void *context, int64_t epoch, const double *metrics) {
    struct fit_counts *counts = context;
    (void)epoch;
    counts->epochs++;
    if (!(metrics[4] >= 1)) return 2; /* steps column */
    return counts->epochs == counts->stop_after_epochs ? 1 : 0;
}

static void test_fit(void) {
    enum { M = 64 };
    double x[M * 2], w[2 * 2] = {0.1, -0.2, 0.3, 0.05}, bias[2] = {0, 0};
    int64_t y[M];
    for (int i = 0; i < M; i++) {
        x[2 * i] = cos(0.37 * i);
        x[2 * i + 1] = sin(0.91 * i);
        y[i] = x[2 * i] + x[2 * i + 1] > 0 ? 1 : 0;
    }
    int64_t xs[2] = {M, 2}, ws[2] = {2, 2}, bs[1] = {2}, ins[2] = {-1, 2};
    descent_tensor tx = wrap(2, xs, x, M * 2), tw = wrap(2, ws, w, 4), tb = wrap(1, bs, bias, 2);
    descent_graph g = 0;
    int64_t in, labels, pw, pb, logits, loss;
    descent_graph_new(DESCENT_DTYPE_FLOAT64, &g);
    descent_graph_input(g, 2, ins, &in);
    descent_graph_labels(g, &labels);
    descent_graph_param(g, tw, 1, &pw);
    descent_graph_param(g, tb, 1, &pb);
    descent_graph_dense(g, in, pw, pb, DESCENT_ACTIVATION_IDENTITY, 0, &logits);
    CHECK_OK(descent_graph_cost(g, DESCENT_COST_SOFTMAX_CROSS_ENTROPY, logits, labels, DESCENT_REDUCTION_MEAN, 0,
                                &loss));
    descent_optimizer adam = 0;
    descent_tensor params[2] = {tw, tb};
    descent_optimizer_new(DESCENT_RULE_ADAM, &adam);
    descent_optimizer_add_group(adam, params, 2, NULL);
    descent_optimizer_set_hyper(adam, 0, DESCENT_HYPER_LR, 0.05);
    descent_trainer trainer = 0;
    CHECK_OK(descent_trainer_new(g, adam, loss, &trainer));
    CHECK_OK(descent_trainer_set_nodes(trainer, in, labels, logits));
    descent_loader loader = 0;
    CHECK_OK(descent_loader_new(tx, 0, y, M, 16, DESCENT_LOADER_SHUFFLE, 3, &loader));

    struct fit_counts counts = {0, 0, 0, 0};
    double history[20 * DESCENT_HISTORY_COLUMNS], steps[80];
    int64_t summary[4] = {-1, -1, -1, -1};
    CHECK_OK(descent_trainer_fit(trainer, loader, loader, 20, 0, 0, 0, on_step, on_epoch, &counts, history, 20, steps,
                                 80, summary));
    CHECK(counts.steps == 80 && counts.epochs == 20);
    CHECK(summary[0] == 20 && summary[1] == 80 && summary[3] == 0);
    CHECK(history[19 * DESCENT_HISTORY_COLUMNS + 1] > 0.9); /* training accuracy of the last epoch */
    CHECK(history[19 * DESCENT_HISTORY_COLUMNS + 0] < history[0]);
    int64_t epoch = 0;
    CHECK_OK(descent_trainer_epoch(trainer, &epoch));
    CHECK(epoch == 20);

    counts = (struct fit_counts){0, 0, 2, 0};
    CHECK_OK(descent_trainer_fit(trainer, loader, 0, 10, 0, 0, 0, on_step, on_epoch, &counts, NULL, 0, NULL, 0,
                                 summary));
    CHECK(counts.epochs == 2 && summary[0] == 2);

    counts = (struct fit_counts){0, 0, 0, 3};
    CHECK_STATUS(descent_trainer_fit(trainer, loader, 0, 10, 0, 0, 0, on_step, on_epoch, &counts, NULL, 0, NULL, 0,
                                     summary),
                 DESCENT_ERR_CALLBACK);
    CHECK(counts.steps == 3);
    CHECK_STATUS(descent_trainer_fit(trainer, loader, 0, -1, 0, 0, 0, NULL, NULL, NULL, NULL, 0, NULL, 0, NULL),
                 DESCENT_ERR_INVALID_ARGUMENT);

    /* Range test: params and optimizer state come back exactly. */
    double w_before[4], rates[30], losses[30], suggested = 0;
    int64_t points = 0, step_before = 0, step_after = 0;
    memcpy(w_before, w, sizeof w);
    descent_optimizer_step_count(adam, &step_before);
    CHECK_OK(descent_trainer_range_test(trainer, loader, 1e-5, 1.0, 30, 0.9, 4, rates, losses, NULL, &points,
                                        &suggested));
    descent_optimizer_step_count(adam, &step_after);
    CHECK(points >= 3 && points <= 30 && step_after == step_before && memcmp(w, w_before, sizeof w) == 0);
    CHECK(CLOSE(rates[0], 1e-5, 1e-12) && (points < 30 || CLOSE(rates[29], 1.0, 1e-12)));

    /* Restarts need an initializer for every trainable param. */
    double restart_results[3 * 4];
    int64_t best = -9;
    CHECK_STATUS(descent_trainer_restarts(trainer, 3, 1, loader, 0, 2, 0, 0, restart_results, NULL, &best),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_OK(descent_graph_param_init(g, pw, DESCENT_INIT_XAVIER_NORMAL, 1.0));
    CHECK_OK(descent_graph_param_init(g, pb, DESCENT_PARAM_INIT_ZEROS, 0));
    CHECK_OK(descent_trainer_restarts(trainer, 3, 1, loader, 0, 2, 0, 0, restart_results, NULL, &best));
    CHECK(best >= 0 && best < 3);
    for (int k = 0; k < 3; k++) CHECK(restart_results[best * 4 + 1] <= restart_results[k * 4 + 1]);

    descent_loader_free(loader);
    descent_trainer_free(trainer);
    descent_optimizer_free(adam);
    descent_graph_free(g);
    descent_tensor_free(tx);
    descent_tensor_free(tw);
    descent_tensor_free(tb);
}

/* descent_graph_value after a run that failed in its checks (found by the ABI fuzz's live graph
 * fixtures: SIGILL): the failed run marked an unbound input and the nodes after it as needed, and
 * value() answered for them from that mark -- trapping on the unbound input, or returning a stale
 * buffer. Now it answers only for what the last completed run computed. */
static void test_value_after_a_failed_run(void) {
    descent_graph g = 0;
    int64_t x, w, two, three, y, z, count = -1;
    int64_t shape[2] = {-1, 2}, rows[2] = {3, 2};
    double xs[6] = {1, 1, 1, 1, 1, 1}, out[16];
    CHECK_OK(descent_graph_new(DESCENT_DTYPE_FLOAT64, &g));
    CHECK_OK(descent_graph_input(g, 2, shape, &x));
    CHECK_OK(descent_graph_input(g, 2, shape, &w));
    CHECK_OK(descent_graph_scalar(g, 2.0, &two));
    CHECK_OK(descent_graph_scalar(g, 3.0, &three));
    CHECK_OK(descent_graph_binary(g, DESCENT_GRAPH_MUL, x, two, &y));
    CHECK_OK(descent_graph_binary(g, DESCENT_GRAPH_MUL, w, three, &z));
    descent_tensor tx = wrap(2, rows, xs, 6);
    CHECK_OK(descent_graph_set_input(g, x, tx));
    CHECK_OK(descent_graph_forward(g, y, DESCENT_DTYPE_FLOAT64, out, 16, &count));
    CHECK(count == 6 && out[0] == 2.0);
    /* w is unbound: this run fails in its checks and computes nothing. */
    CHECK_STATUS(descent_graph_forward(g, z, DESCENT_DTYPE_FLOAT64, out, 16, &count), DESCENT_ERR_INVALID_ARGUMENT);
    count = -1;
    CHECK_STATUS(descent_graph_value(g, w, DESCENT_DTYPE_FLOAT64, out, 16, &count), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_graph_value(g, z, DESCENT_DTYPE_FLOAT64, out, 16, &count), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(count == -1);
    /* The last completed run's own values still answer. */
    memset(out, 0, sizeof out);
    CHECK_OK(descent_graph_value(g, y, DESCENT_DTYPE_FLOAT64, out, 16, &count));
    CHECK(count == 6 && out[0] == 2.0 && out[5] == 2.0);
    CHECK_OK(descent_graph_free(g));
    CHECK_OK(descent_tensor_free(tx));
}

int main(void) {
    test_textbook_graph();
    test_value_after_a_failed_run();
    test_network_and_trainer();
    test_fit();
    return check_report("test_graph");
}
