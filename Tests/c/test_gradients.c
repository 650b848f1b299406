/* C test of the gradients section of descent.h: activations, costs, delta rule, dense layer,
 * batch normalization, initialization, numerical gradients through a C callback, gradient
 * checks and the step-size sweep; bad input returns the documented status without crashing. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"


#define CLOSE(a, b, tol) (fabs((a) - (b)) <= (tol) * (1.0 + fabs(b)))

static descent_tensor make(int64_t rank, const int64_t *shape, const double *data, int64_t count) {
    descent_tensor t = 0;
    if (descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, rank, shape, data, count, &t) != DESCENT_OK) {
        fprintf(stderr, "cannot make tensor: %s\n", descent_last_error());
    }
    return t;
}

static descent_tensor zeros(int64_t rank, const int64_t *shape) {
    descent_tensor t = 0;
    descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, rank, shape, &t);
    return t;
}

static void read(descent_tensor t, double *out, int64_t count) {
    descent_tensor_copy_to(t, DESCENT_DTYPE_FLOAT64, out, count);
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ---- callbacks -------------------------------------------------------------------------------- */

struct quadratic_context {
    int64_t count;
    int calls;
    int fail_after; /* return an error status on this call (0 = never) */
};

/* f(x) = Σ c_i x_i², with c_i = i + 1. */
static descent_status weighted_squares(void *context, descent_tensor x, double *out) {
    struct quadratic_context *ctx = context;
    double values[16];
    ctx->calls++;
    if (ctx->fail_after && ctx->calls >= ctx->fail_after) return DESCENT_ERR_INVALID_ARGUMENT;
    descent_status status = descent_tensor_copy_to(x, DESCENT_DTYPE_FLOAT64, values, 16);
    if (status != DESCENT_OK) return status;
    double total = 0.0;
    for (int64_t i = 0; i < ctx->count; i++) total += (double)(i + 1) * values[i] * values[i];
    *out = total;
    return DESCENT_OK;
}

static void test_activations(void) {
    int64_t shape[2] = {2, 3};
    double xv[6] = {-2.0, -0.5, 0.0, 0.5, 1.0, 3.0};
    double dyv[6] = {1.0, -1.0, 0.5, 2.0, 0.0, -3.0};
    descent_tensor x = make(2, shape, xv, 6), dy = make(2, shape, dyv, 6), y = zeros(2, shape);
    double out[6];

    CHECK(descent_activation_forward(DESCENT_ACTIVATION_SIGMOID, 0.0, x, y) == DESCENT_OK);
    read(y, out, 6);
    int ok = 1;
    for (int i = 0; i < 6; i++) ok &= CLOSE(out[i], sigmoid(xv[i]), 1e-15);
    CHECK(ok);

    CHECK(descent_activation_backward(DESCENT_ACTIVATION_LEAKY_RELU, 0.1, x, dy, y) == DESCENT_OK);
    read(y, out, 6);
    ok = 1;
    for (int i = 0; i < 6; i++) ok &= CLOSE(out[i], dyv[i] * (xv[i] > 0 ? 1.0 : 0.1), 1e-15);
    CHECK(ok);

    CHECK(descent_activation_forward(DESCENT_ACTIVATION_SOFTMAX, 0.0, x, y) == DESCENT_OK);
    read(y, out, 6);
    CHECK(CLOSE(out[0] + out[1] + out[2], 1.0, 1e-15) && CLOSE(out[3] + out[4] + out[5], 1.0, 1e-15));
    double row_total = exp(0.5) + exp(1.0) + exp(3.0);
    CHECK(CLOSE(out[5], exp(3.0) / row_total, 1e-14));

    CHECK(descent_activation_derivative(DESCENT_ACTIVATION_SOFTMAX, 0.0, x, y) == DESCENT_ERR_UNSUPPORTED);
    CHECK(descent_activation_forward(42, 0.0, x, y) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_activation_forward(DESCENT_ACTIVATION_LEAKY_RELU, NAN, x, y) == DESCENT_ERR_NON_FINITE);
    int64_t other_shape[1] = {6};
    descent_tensor flat = zeros(1, other_shape);
    CHECK(descent_activation_forward(DESCENT_ACTIVATION_TANH, 0.0, x, flat) == DESCENT_ERR_SHAPE);
    CHECK(descent_activation_forward(DESCENT_ACTIVATION_TANH, 0.0, 0, y) == DESCENT_ERR_INVALID_HANDLE);
    descent_tensor_free(flat);
    CHECK(descent_activation_forward(DESCENT_ACTIVATION_TANH, 0.0, x, flat) == DESCENT_ERR_INVALID_HANDLE);
    descent_tensor_free(x);
    descent_tensor_free(dy);
    descent_tensor_free(y);
}

static void test_costs(void) {
    int64_t shape[2] = {2, 3};
    double pv[6] = {0.5, 1.0, -1.0, 2.0, 0.0, 0.25};
    double tv[6] = {0.0, 1.5, -1.0, 1.0, 0.5, 0.25};
    descent_tensor p = make(2, shape, pv, 6), t = make(2, shape, tv, 6), g = zeros(2, shape);
    double loss = -1.0, grad[6];

    double sse = 0.0;
    for (int i = 0; i < 6; i++) sse += 0.5 * (tv[i] - pv[i]) * (tv[i] - pv[i]);
    CHECK(descent_loss_sse(p, t, g, &loss) == DESCENT_OK && CLOSE(loss, sse, 1e-15));
    read(g, grad, 6);
    CHECK(CLOSE(grad[3], pv[3] - tv[3], 1e-15));
    CHECK(descent_loss_quadratic(p, t, 0, &loss) == DESCENT_OK && CLOSE(loss, sse / 2.0, 1e-15));
    CHECK(descent_loss_mse(p, t, 0, &loss) == DESCENT_OK && CLOSE(loss, 2.0 * sse / 6.0, 1e-15));
    CHECK(descent_loss_sse(p, t, g, NULL) == DESCENT_ERR_NULL_POINTER);

    /* softmax cross-entropy: labels out of range, wrong count, NULL labels */
    int64_t labels[2] = {1, 2}, bad_labels[2] = {1, 3};
    double before = loss;
    CHECK(descent_loss_softmax_cross_entropy(p, labels, 2, DESCENT_REDUCTION_MEAN, g, &loss) == DESCENT_OK);
    double lse0 = log(exp(0.5) + exp(1.0) + exp(-1.0)), lse1 = log(exp(2.0) + exp(0.0) + exp(0.25));
    CHECK(CLOSE(loss, 0.5 * ((lse0 - 1.0) + (lse1 - 0.25)), 1e-14));
    before = loss;
    CHECK(descent_loss_softmax_cross_entropy(p, bad_labels, 2, DESCENT_REDUCTION_MEAN, g, &loss) ==
          DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(loss == before);
    CHECK(descent_loss_softmax_cross_entropy(p, labels, 1, DESCENT_REDUCTION_MEAN, g, &loss) == DESCENT_ERR_SHAPE);
    CHECK(descent_loss_softmax_cross_entropy(p, NULL, 2, DESCENT_REDUCTION_MEAN, g, &loss) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_loss_softmax_cross_entropy(p, labels, 2, 7, g, &loss) == DESCENT_ERR_INVALID_ARGUMENT);
    /* a huge count is compared with the batch before anything is read */
    CHECK(descent_loss_softmax_cross_entropy(p, labels, INT64_MAX, DESCENT_REDUCTION_MEAN, g, &loss) == DESCENT_ERR_SHAPE);
    CHECK(descent_loss_multiclass_hinge(p, labels, -1, 1.0, DESCENT_REDUCTION_MEAN, g, &loss) ==
          DESCENT_ERR_INVALID_ARGUMENT);

    /* hinge, cs231n's numbers: scores [3.2, 5.1, -1.7], true class 0 -> 2.9 */
    int64_t one[2] = {1, 3};
    double sv[3] = {3.2, 5.1, -1.7};
    descent_tensor s = make(2, one, sv, 3), sg = zeros(2, one);
    int64_t label0[1] = {0};
    CHECK(descent_loss_multiclass_hinge(s, label0, 1, 1.0, DESCENT_REDUCTION_SUM, sg, &loss) == DESCENT_OK);
    CHECK(CLOSE(loss, 2.9, 1e-14));
    read(sg, grad, 3);
    CHECK(grad[0] == -1.0 && grad[1] == 1.0 && grad[2] == 0.0);

    /* probabilities outside [0, 1] */
    CHECK(descent_loss_bce(p, t, 1e-12, DESCENT_REDUCTION_MEAN, g, &loss) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_l2_penalty(p, 0.5, 1, g, &loss) == DESCENT_OK);
    double squares = 0.0;
    for (int i = 0; i < 6; i++) squares += pv[i] * pv[i];
    CHECK(CLOSE(loss, 0.25 * squares, 1e-15));
    CHECK(descent_l2_penalty(p, 0.5, 0, g, &loss) == DESCENT_ERR_INVALID_ARGUMENT);

    descent_tensor_free(s);
    descent_tensor_free(sg);
    descent_tensor_free(p);
    descent_tensor_free(t);
    descent_tensor_free(g);
}

static void test_delta_rule(void) {
    int64_t shape[1] = {2};
    double wv[2] = {-0.8, 0.5}, xv[2] = {0.1, 0.3};
    descent_tensor w = make(1, shape, wv, 2), x = make(1, shape, xv, 2), dw = zeros(1, shape);
    double h = 0, y_hat = 0, delta = 0, step[2];
    CHECK(descent_delta_rule(w, x, 0.2, 0.5, dw, &h, &y_hat, &delta) == DESCENT_OK);
    double eh = -0.8 * 0.1 + 0.5 * 0.3, ey = sigmoid(eh), ed = (0.2 - ey) * ey * (1 - ey);
    read(dw, step, 2);
    CHECK(CLOSE(h, eh, 1e-15) && CLOSE(y_hat, ey, 1e-15) && CLOSE(delta, ed, 1e-14));
    CHECK(CLOSE(step[0], 0.5 * ed * 0.1, 1e-14) && CLOSE(step[1], 0.5 * ed * 0.3, 1e-14));
    CHECK(descent_delta_rule(w, x, 0.2, 0.5, dw, NULL, NULL, NULL) == DESCENT_OK);
    CHECK(descent_delta_rule(w, x, NAN, 0.5, dw, NULL, NULL, NULL) == DESCENT_ERR_NON_FINITE);
    descent_tensor_free(w);
    descent_tensor_free(x);
    descent_tensor_free(dw);
}

static void test_dense(void) {
    int64_t as[2] = {2, 3}, ws[2] = {2, 3}, bs[1] = {2}, zs[2] = {2, 2};
    double av[6] = {1, 2, 3, -1, 0, 1}, wv[6] = {0.1, 0.2, 0.3, -0.5, 0.4, 0.0}, bv[2] = {0.05, -0.1};
    descent_tensor a = make(2, as, av, 6), w = make(2, ws, wv, 6), b = make(1, bs, bv, 2);
    descent_tensor z = zeros(2, zs), out = zeros(2, zs);
    CHECK(descent_dense_forward(a, w, b, DESCENT_ACTIVATION_TANH, 0.0, z, out) == DESCENT_OK);
    double zv[4], ov[4], expected_z[4];
    read(z, zv, 4);
    read(out, ov, 4);
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            double sum = bv[k];
            for (int j = 0; j < 3; j++) sum += av[i * 3 + j] * wv[k * 3 + j];
            expected_z[i * 2 + k] = sum;
            ok &= CLOSE(zv[i * 2 + k], sum, 1e-15) && CLOSE(ov[i * 2 + k], tanh(sum), 1e-15);
        }
    }
    CHECK(ok);

    double doutv[4] = {1.0, -2.0, 0.5, 0.25};
    descent_tensor dout = make(2, zs, doutv, 4), dw = zeros(2, ws), db = zeros(1, bs), da = zeros(2, as);
    CHECK(descent_dense_backward(a, w, z, dout, DESCENT_ACTIVATION_TANH, 0.0, dw, db, da) == DESCENT_OK);
    double dwv[6], dbv[2], dav[6], dz[4];
    for (int i = 0; i < 4; i++) dz[i] = doutv[i] * (1 - tanh(expected_z[i]) * tanh(expected_z[i]));
    read(dw, dwv, 6);
    read(db, dbv, 2);
    read(da, dav, 6);
    ok = 1;
    for (int k = 0; k < 2; k++) {
        ok &= CLOSE(dbv[k], dz[k] + dz[2 + k], 1e-14);
        for (int j = 0; j < 3; j++) ok &= CLOSE(dwv[k * 3 + j], dz[k] * av[j] + dz[2 + k] * av[3 + j], 1e-14);
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            ok &= CLOSE(dav[i * 3 + j], dz[i * 2] * wv[j] + dz[i * 2 + 1] * wv[3 + j], 1e-14);
    CHECK(ok);
    /* aliasing outputs and shape errors are rejected without writing */
    CHECK(descent_dense_backward(a, w, z, dout, 0, 0.0, dw, db, dw) != DESCENT_OK);
    CHECK(descent_dense_forward(a, w, b, 0, 0.0, z, a) == DESCENT_ERR_SHAPE);
    CHECK(descent_dense_forward(a, w, z, 0, 0.0, z, out) == DESCENT_ERR_SHAPE); /* bias (2,2) */
    double after[4];
    read(z, after, 4);
    CHECK(memcmp(after, zv, sizeof after) == 0);
    descent_tensor handles[] = {a, w, b, z, out, dout, dw, db, da};
    for (unsigned i = 0; i < sizeof handles / sizeof handles[0]; i++) descent_tensor_free(handles[i]);
}

static void test_batchnorm(void) {
    int64_t xs[2] = {4, 2}, fs[1] = {2};
    double xv[8] = {1, 10, 2, 20, 3, 30, 4, 40}, ones[2] = {1, 1};
    descent_tensor x = make(2, xs, xv, 8), gamma = make(1, fs, ones, 2), beta = zeros(1, fs);
    descent_tensor rm = zeros(1, fs), rv = make(1, fs, ones, 2), y = zeros(2, xs);
    descent_tensor sm = zeros(1, fs), si = zeros(1, fs);
    CHECK(descent_batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1, 1e-5, y, sm, si) == DESCENT_OK);
    double rmv[2], rvv[2], yv[8];
    read(rm, rmv, 2);
    read(rv, rvv, 2);
    read(y, yv, 8);
    /* feature 0: mean 2.5, biased var 1.25, unbiased 5/3 */
    CHECK(CLOSE(rmv[0], 0.25, 1e-15) && CLOSE(rmv[1], 2.5, 1e-15));
    CHECK(CLOSE(rvv[0], 0.9 + 0.1 * 5.0 / 3.0, 1e-15));
    CHECK(CLOSE(yv[0], (1 - 2.5) / sqrt(1.25 + 1e-5), 1e-14));

    descent_tensor dx = zeros(2, xs), dg = zeros(1, fs), dbeta = zeros(1, fs);
    CHECK(descent_batchnorm_backward(x, gamma, sm, si, y, dx, dg, dbeta) == DESCENT_OK);
    double dgv[2];
    read(dg, dgv, 2);
    CHECK(CLOSE(dgv[0], 4 * 1.25 / (1.25 + 1e-5), 1e-12)); /* Σ x̂² with dy = x̂ */

    /* N = 1 is rejected and running stats stay put */
    int64_t one[2] = {1, 2};
    descent_tensor x1 = make(2, one, xv, 2), y1 = zeros(2, one);
    CHECK(descent_batchnorm_forward_train(x1, gamma, beta, rm, rv, 0.1, 1e-5, y1, sm, si) == DESCENT_ERR_INVALID_ARGUMENT);
    double again[2];
    read(rm, again, 2);
    CHECK(memcmp(again, rmv, sizeof again) == 0);
    CHECK(descent_batchnorm_forward_infer(x, gamma, beta, rm, rv, 1e-5, y) == DESCENT_OK);
    CHECK(descent_batchnorm_forward_infer(x, gamma, beta, rm, rv, -1.0, y) == DESCENT_ERR_INVALID_ARGUMENT);
    descent_tensor handles[] = {x, gamma, beta, rm, rv, y, sm, si, dx, dg, dbeta, x1, y1};
    for (unsigned i = 0; i < sizeof handles / sizeof handles[0]; i++) descent_tensor_free(handles[i]);
}

static void test_init(void) {
    int64_t shape[2] = {30, 20};
    descent_tensor a = zeros(2, shape), b = zeros(2, shape);
    CHECK(descent_init_fill(a, DESCENT_INIT_XAVIER_UNIFORM, 99, 1.0) == DESCENT_OK);
    CHECK(descent_init_fill(b, DESCENT_INIT_XAVIER_UNIFORM, 99, 1.0) == DESCENT_OK);
    static double av[600], bv[600];
    read(a, av, 600);
    read(b, bv, 600);
    CHECK(memcmp(av, bv, sizeof av) == 0);
    double bound = sqrt(6.0 / 50.0), largest = 0;
    for (int i = 0; i < 600; i++) largest = fmax(largest, fabs(av[i]));
    CHECK(largest <= bound && largest > 0.9 * bound);
    int64_t fan_in = 0, fan_out = 0, conv[4] = {16, 3, 5, 5};
    CHECK(descent_init_fans(4, conv, &fan_in, &fan_out) == DESCENT_OK && fan_in == 75 && fan_out == 400);
    CHECK(descent_init_fans(0, NULL, &fan_in, &fan_out) == DESCENT_ERR_SHAPE);
    int64_t huge[4] = {0, (int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40};
    CHECK(descent_init_fans(4, huge, &fan_in, &fan_out) == DESCENT_ERR_SHAPE); /* overflow, no trap */
    CHECK(fan_in == 75 && fan_out == 400);                                      /* untouched on failure */
    CHECK(descent_init_fill(a, 0, 1, 1.0) == DESCENT_ERR_INVALID_ARGUMENT);
    descent_tensor_free(a);
    descent_tensor_free(b);
}

static void test_numerical(void) {
    int64_t shape[1] = {4};
    double xv[4] = {1.0, -2.0, 0.5, 3.0}, analytic[4];
    for (int i = 0; i < 4; i++) analytic[i] = 2.0 * (i + 1) * xv[i];
    descent_tensor x = make(1, shape, xv, 4), g = zeros(1, shape), a = make(1, shape, analytic, 4);
    struct quadratic_context ctx = {4, 0, 0};

    CHECK(descent_numerical_gradient(weighted_squares, &ctx, x, 1e-6, DESCENT_DIFF_CENTERED, g) == DESCENT_OK);
    CHECK(ctx.calls == 8);
    double gv[4], after[4];
    read(g, gv, 4);
    int ok = 1;
    for (int i = 0; i < 4; i++) ok &= CLOSE(gv[i], analytic[i], 1e-8);
    CHECK(ok);
    read(x, after, 4);
    CHECK(memcmp(after, xv, sizeof after) == 0);

    ctx.calls = 0;
    CHECK(descent_numerical_gradient(weighted_squares, &ctx, x, 1e-7, DESCENT_DIFF_FORWARD, g) == DESCENT_OK);
    CHECK(ctx.calls == 5);

    double max_error = -1, a_worst = 0, n_worst = 0;
    int64_t worst = -2;
    CHECK(descent_gradient_check(weighted_squares, &ctx, x, a, 1e-6, DESCENT_DIFF_CENTERED, 1e-12, 0, 0, &max_error,
                                 &worst, &a_worst, &n_worst) == DESCENT_OK);
    CHECK(max_error < 1e-8 && worst >= 0 && worst < 4);
    CHECK(descent_gradient_check(weighted_squares, &ctx, x, a, 1e-6, DESCENT_DIFF_CENTERED, 1e-12, 2, 7, &max_error,
                                 &worst, NULL, NULL) == DESCENT_OK);
    CHECK(max_error < 1e-8);

    /* a failing callback stops the computation with DESCENT_ERR_CALLBACK; x is restored, g untouched */
    double sentinel[4] = {9, 9, 9, 9};
    descent_tensor_copy_from(g, DESCENT_DTYPE_FLOAT64, sentinel, 4);
    struct quadratic_context failing = {4, 0, 3};
    CHECK(descent_numerical_gradient(weighted_squares, &failing, x, 1e-6, DESCENT_DIFF_CENTERED, g) ==
          DESCENT_ERR_CALLBACK);
    CHECK(failing.calls == 3);
    read(x, after, 4);
    CHECK(memcmp(after, xv, sizeof after) == 0);
    read(g, gv, 4);
    CHECK(memcmp(gv, sentinel, sizeof gv) == 0);

    CHECK(descent_numerical_gradient(NULL, NULL, x, 1e-6, DESCENT_DIFF_CENTERED, g) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_numerical_gradient(weighted_squares, &ctx, x, 0.0, DESCENT_DIFF_CENTERED, g) ==
          DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_numerical_gradient(weighted_squares, &ctx, x, 1e-6, 5, g) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_numerical_gradient(weighted_squares, &ctx, x, 1e-6, DESCENT_DIFF_CENTERED, x) ==
          DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_gradient_check(weighted_squares, &ctx, x, a, 1e-6, 1, 1e-12, 0, 0, NULL, &worst, NULL, NULL) ==
          DESCENT_ERR_NULL_POINTER);

    /* compare */
    CHECK(descent_gradient_compare(a, a, 1e-12, &max_error, &worst) == DESCENT_OK && max_error == 0.0);

    /* step-size sweep on f(x) = Σ (i+1) x_i², stepping along its gradient */
    double steps[3] = {1e-3, 1e-2, 1e-1}, losses[3];
    ctx.calls = 0;
    CHECK(descent_step_size_sweep(weighted_squares, &ctx, x, a, steps, 3, losses) == DESCENT_OK);
    ok = 1;
    for (int k = 0; k < 3; k++) {
        double expected = 0;
        for (int i = 0; i < 4; i++) {
            double v = xv[i] - steps[k] * analytic[i];
            expected += (i + 1) * v * v;
        }
        ok &= CLOSE(losses[k], expected, 1e-13);
    }
    CHECK(ok);
    read(x, after, 4);
    CHECK(memcmp(after, xv, sizeof after) == 0);
    CHECK(descent_step_size_sweep(weighted_squares, &ctx, x, a, NULL, 3, losses) == DESCENT_ERR_NULL_POINTER);
    CHECK(descent_step_size_sweep(weighted_squares, &ctx, x, a, steps, -1, losses) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_step_size_sweep(weighted_squares, &ctx, x, a, steps, INT64_MAX, losses) == DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(descent_step_size_sweep(weighted_squares, &ctx, x, a, NULL, 0, NULL) == DESCENT_OK);

    descent_tensor_free(x);
    descent_tensor_free(g);
    descent_tensor_free(a);
}

int main(void) {
    if (descent_abi_version() != DESCENT_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch\n");
        return 1;
    }
    test_activations();
    test_costs();
    test_delta_rule();
    test_dense();
    test_batchnorm();
    test_init();
    test_numerical();
    return check_report("gradients");
}
