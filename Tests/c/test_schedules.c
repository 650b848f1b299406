/* C tests for learning-rate schedules, reduce-on-plateau and gradient clipping: values against
 * closed forms computed here, and bad input (NULL pointers, stale and wrong-kind handles, bad
 * numbers, mixed dtypes, aliasing) returning the documented status with nothing modified. */
#include <math.h>
#include <pthread.h>
#include "check.h"

static const double PI = 3.14159265358979323846;

static int close_to(double a, double b) {
    return fabs(a - b) <= 1e-12 * fmax(1.0, fmax(fabs(a), fabs(b)));
}

static double value_at(descent_schedule s, int64_t t) {
    double lr = -1.0;
    if (descent_schedule_value(s, t, &lr) != DESCENT_OK) return NAN;
    return lr;
}

static void test_textbook_decays(void) {
    descent_schedule s = 0;
    CHECK_STATUS(descent_schedule_new_inverse_time(0.2, 1.0, &s), DESCENT_OK);
    /* 001 seed: alpha0 = 0.2, decay rate 1 -> epochs 1..4: 0.1, 0.067, 0.05, 0.04 */
    CHECK(value_at(s, 0) == 0.2);
    CHECK(close_to(value_at(s, 1), 0.1));
    CHECK(close_to(value_at(s, 2), 0.2 / 3.0));
    CHECK(close_to(value_at(s, 3), 0.05));
    CHECK(close_to(value_at(s, 4), 0.04));
    CHECK_STATUS(descent_schedule_free(s), DESCENT_OK);

    CHECK_STATUS(descent_schedule_new_exponential(0.2, 0.95, &s), DESCENT_OK);
    int ok = 1;
    for (int t = 0; t < 200; t++) ok &= close_to(value_at(s, t), pow(0.95, t) * 0.2);
    CHECK(ok);
    descent_schedule_free(s);

    CHECK_STATUS(descent_schedule_new_inverse_power(0.2, 0.9, 0.5, 1.0, &s), DESCENT_OK);
    ok = 1;
    for (int epoch = 1; epoch < 200; epoch++) ok &= close_to(value_at(s, epoch - 1), 0.9 / sqrt(epoch) * 0.2);
    CHECK(ok);
    descent_schedule_free(s);

    CHECK_STATUS(descent_schedule_new_step(0.1, 30, 0.1, &s), DESCENT_OK);
    CHECK(value_at(s, 29) == 0.1);
    CHECK(close_to(value_at(s, 30), 0.01));
    CHECK(close_to(value_at(s, 95), 0.1 * pow(0.1, 3)));
    descent_schedule_free(s);

    int64_t boundaries[2] = {10, 20};
    double values[3] = {0.1, 0.03, 0.001};
    CHECK_STATUS(descent_schedule_new_piecewise_constant(boundaries, 2, values, &s), DESCENT_OK);
    CHECK(value_at(s, 9) == 0.1 && value_at(s, 10) == 0.03 && value_at(s, 19) == 0.03 && value_at(s, 20) == 0.001);
    descent_schedule_free(s);

    CHECK_STATUS(descent_schedule_new_constant(0.5, &s), DESCENT_OK);
    CHECK(value_at(s, 0) == 0.5 && value_at(s, 1000000) == 0.5);
    descent_schedule_free(s);
}

static void test_modern_schedules(void) {
    descent_schedule s = 0;
    int ok = 1;

    int64_t milestones[3] = {80, 30, 80};
    CHECK_STATUS(descent_schedule_new_multi_step(0.05, milestones, 3, 0.1, &s), DESCENT_OK);
    CHECK(value_at(s, 29) == 0.05);
    CHECK(close_to(value_at(s, 30), 0.005));
    CHECK(close_to(value_at(s, 80), 0.05 * pow(0.1, 3)));
    descent_schedule_free(s);

    CHECK_STATUS(descent_schedule_new_cosine(0.1, 100, 0.001, &s), DESCENT_OK);
    for (int t = 0; t < 300; t++) ok &= close_to(value_at(s, t), 0.001 + (0.1 - 0.001) * (1 + cos(PI * t / 100)) / 2);
    CHECK(ok);
    descent_schedule_free(s);

    CHECK_STATUS(descent_schedule_new_cosine_warm_restarts(0.1, 10, 2, 0.0, &s), DESCENT_OK);
    ok = 1;
    int64_t start = 0, length = 10;
    for (int64_t t = 0; t < 400; t++) {
        if (t - start >= length) { start += length; length *= 2; }
        ok &= close_to(value_at(s, t), 0.1 * (1 + cos(PI * (double)(t - start) / (double)length)) / 2);
    }
    CHECK(ok);
    CHECK(value_at(s, 10) == 0.1 && value_at(s, 30) == 0.1 && value_at(s, 70) == 0.1);
    descent_schedule_free(s);

    CHECK_STATUS(descent_schedule_new_linear(0.05, 1.0 / 3.0, 1.0, 5, &s), DESCENT_OK);
    ok = 1;
    for (int t = 0; t < 20; t++) ok &= close_to(value_at(s, t), 0.05 * (1.0 / 3.0 + (2.0 / 3.0) * fmin(t, 5) / 5.0));
    CHECK(ok);
    descent_schedule_free(s);

    CHECK_STATUS(descent_schedule_new_polynomial(0.1, 50, 2.0, 0.001, &s), DESCENT_OK);
    ok = 1;
    for (int t = 0; t < 80; t++) ok &= close_to(value_at(s, t), (0.1 - 0.001) * pow(1 - fmin(t, 50) / 50.0, 2.0) + 0.001);
    CHECK(ok);
    descent_schedule_free(s);

    /* one-cycle, PyTorch defaults: peak max_lr at step pct*T - 1, min at T - 1 */
    CHECK_STATUS(descent_schedule_new_one_cycle(1.0, 100, 0.3, DESCENT_ANNEAL_COS, 25.0, 1e4, 0, &s), DESCENT_OK);
    CHECK(close_to(value_at(s, 0), 1.0 / 25.0));
    CHECK(close_to(value_at(s, 29), 1.0));
    CHECK(close_to(value_at(s, 99), 1.0 / 25.0 / 1e4));
    CHECK(close_to(value_at(s, 64), 1.0 / 25.0 / 1e4 + (1.0 - 1.0 / 25.0 / 1e4) / 2 * (cos(PI * 35.0 / 70.0) + 1)));
    double lr = -7.0;
    CHECK_STATUS(descent_schedule_value(s, 101, &lr), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(lr == -7.0);
    descent_schedule_free(s);

    /* sequential: linear warmup for 10 steps, then cosine from its own step 0 */
    descent_schedule parts[2] = {0, 0}, warm = 0;
    CHECK_STATUS(descent_schedule_new_linear(0.1, 0.0, 1.0, 10, &parts[0]), DESCENT_OK);
    CHECK_STATUS(descent_schedule_new_cosine(0.1, 90, 0.0, &parts[1]), DESCENT_OK);
    int64_t at[1] = {10};
    CHECK_STATUS(descent_schedule_new_sequential(parts, 2, at, &warm), DESCENT_OK);
    descent_schedule_free(parts[0]);   /* the composite keeps its parts alive */
    descent_schedule_free(parts[1]);
    ok = 1;
    for (int t = 0; t < 120; t++) {
        double want = t < 10 ? 0.1 * t / 10.0 : 0.1 * (1 + cos(PI * (t - 10) / 90.0)) / 2;
        ok &= close_to(value_at(warm, t), want);
    }
    CHECK(ok);

    /* values(): the whole curve in one call equals single evaluations */
    double curve[50];
    CHECK_STATUS(descent_schedule_values(warm, 5, 50, curve), DESCENT_OK);
    ok = 1;
    for (int i = 0; i < 50; i++) ok &= curve[i] == value_at(warm, 5 + i);
    CHECK(ok);
    descent_schedule_free(warm);
}

static double momentum_at(descent_schedule s, int64_t t) {
    double m = -1.0;
    if (descent_schedule_momentum(s, t, &m) != DESCENT_OK) return NAN;
    return m;
}

/* PyTorch OneCycleLR's momentum written out here: two phases max -> base (ends at p*T - 1), then
 * base -> max (ends at T - 1); three phases max -> base, base -> max (2*p*T - 2), max -> max. */
static double one_cycle_momentum_ref(int64_t total, double pct, int linear, int three, double base, double top,
                                     int64_t step) {
    double ends[3] = {pct * total - 1, three ? 2 * pct * total - 2 : total - 1, total - 1};
    double from[3] = {top, base, top}, to[3] = {base, top, top};
    int phases = three ? 3 : 2;
    double start = 0.0, t = (double)step;
    for (int i = 0; i < phases; i++) {
        if (t <= ends[i] || i == phases - 1) {
            double fraction = (t - start) / (ends[i] - start);
            return linear ? from[i] + (to[i] - from[i]) * fraction
                          : to[i] + (from[i] - to[i]) / 2 * (cos(PI * fraction) + 1);
        }
        start = ends[i];
    }
    return NAN;
}

static void test_one_cycle_momentum(void) {
    for (int linear = 0; linear <= 1; linear++) {
        for (int three = 0; three <= 1; three++) {
            descent_schedule s = 0, plain = 0;
            CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.5, 90, 0.3, linear, 25.0, 1e4, three, 0.85, 0.95, &s),
                         DESCENT_OK);
            CHECK_STATUS(descent_schedule_new_one_cycle(0.5, 90, 0.3, linear, 25.0, 1e4, three, &plain), DESCENT_OK);
            int ok = 1;
            for (int64_t t = 0; t <= 90; t++) {
                ok &= close_to(momentum_at(s, t), one_cycle_momentum_ref(90, 0.3, linear, three, 0.85, 0.95, t));
                ok &= value_at(s, t) == value_at(plain, t);     /* the rate is the plain one-cycle rate */
            }
            CHECK(ok);
            CHECK(close_to(momentum_at(s, 0), 0.95));
            CHECK(close_to(momentum_at(s, 26), 0.85));          /* p*T - 1 = 26: rate peak, momentum low */
            CHECK(close_to(momentum_at(s, 89), 0.95));
            double m = -7.0;
            CHECK_STATUS(descent_schedule_momentum(s, 91, &m), DESCENT_ERR_INVALID_ARGUMENT);
            CHECK_STATUS(descent_schedule_momentum(s, -1, &m), DESCENT_ERR_INVALID_ARGUMENT);
            CHECK_STATUS(descent_schedule_momentum(s, 0, NULL), DESCENT_ERR_NULL_POINTER);
            CHECK_STATUS(descent_schedule_momentum(plain, 0, &m), DESCENT_ERR_UNSUPPORTED);
            CHECK(m == -7.0);
            descent_schedule_free(plain);
            descent_schedule_free(s);
            CHECK_STATUS(descent_schedule_momentum(s, 0, &m), DESCENT_ERR_INVALID_HANDLE);
            CHECK(m == -7.0);
        }
    }

    /* bad bounds and the usual one-cycle checks: nothing created, *out untouched */
    descent_schedule s = 12345;
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 0, 25.0, 1e4, 0, -0.1, 0.95, &s),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 0, 25.0, 1e4, 0, 0.95, 0.85, &s),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 0, 25.0, 1e4, 0, NAN, 0.95, &s),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 0, 25.0, 1e4, 0, 0.85, INFINITY, &s),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 7, 25.0, 1e4, 0, 0.85, 0.95, &s),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 10, 0.1, 0, 25.0, 1e4, 0, 0.85, 0.95, &s),
                 DESCENT_ERR_INVALID_ARGUMENT);                /* zero-length first phase */
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 0, 25.0, 1e4, 0, 0.85, 0.95, NULL),
                 DESCENT_ERR_NULL_POINTER);
    CHECK(s == 12345);

    /* every other kind has no momentum cycle (a sequential one without a cycling part included);
       a sequential one with a cycling part carries it: the part's own momentum while it runs,
       then the momentum it ended with */
    descent_schedule parts[2] = {0, 0}, seq = 0, plain_seq = 0, plateau = 0;
    CHECK_STATUS(descent_schedule_new_one_cycle_momentum(0.1, 100, 0.3, 0, 25.0, 1e4, 0, 0.85, 0.95, &parts[0]),
                 DESCENT_OK);
    CHECK_STATUS(descent_schedule_new_constant(0.1, &parts[1]), DESCENT_OK);
    int64_t at[1] = {50};
    CHECK_STATUS(descent_schedule_new_sequential(parts, 2, at, &seq), DESCENT_OK);
    descent_schedule constants[2] = {parts[1], parts[1]};
    CHECK_STATUS(descent_schedule_new_sequential(constants, 2, at, &plain_seq), DESCENT_OK);
    double m = -7.0, part = 0.0;
    CHECK_STATUS(descent_schedule_momentum(parts[1], 0, &m), DESCENT_ERR_UNSUPPORTED);
    CHECK_STATUS(descent_schedule_momentum(plain_seq, 0, &m), DESCENT_ERR_UNSUPPORTED);
    CHECK(m == -7.0);
    CHECK_STATUS(descent_schedule_momentum(seq, 20, &m), DESCENT_OK);
    CHECK_STATUS(descent_schedule_momentum(parts[0], 20, &part), DESCENT_OK);
    CHECK(m == part);
    CHECK_STATUS(descent_schedule_momentum(seq, 75, &m), DESCENT_OK);
    CHECK_STATUS(descent_schedule_momentum(parts[0], 49, &part), DESCENT_OK);
    CHECK(m == part);
    descent_schedule_free(plain_seq);
    CHECK_STATUS(descent_plateau_new(0.1, DESCENT_PLATEAU_MIN, 0.1, 10, 1e-4, DESCENT_THRESHOLD_REL, 0, 0.0, 1e-8,
                                     &plateau), DESCENT_OK);
    CHECK_STATUS(descent_schedule_momentum(plateau, 0, &m), DESCENT_ERR_WRONG_HANDLE_TYPE);
    descent_plateau_free(plateau);
    descent_schedule_free(seq);
    descent_schedule_free(parts[0]);
    descent_schedule_free(parts[1]);
}

static void test_schedule_bad_input(void) {
    descent_schedule s = 12345;
    CHECK_STATUS(descent_schedule_new_constant(-0.1, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(s == 12345);
    CHECK_STATUS(descent_schedule_new_constant(NAN, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_exponential(0.1, 0.9, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_schedule_new_step(0.1, 0, 0.1, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_cosine(0.1, 0, 0.0, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_cosine_warm_restarts(0.1, 10, 0, 0.0, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_inverse_power(0.1, 1.0, 0.5, 0.0, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_multi_step(0.1, NULL, 2, 0.1, &s), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_schedule_new_multi_step(0.1, NULL, -1, 0.1, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_piecewise_constant(NULL, 0, NULL, &s), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_schedule_new_one_cycle(0.1, 100, 0.3, 7, 25.0, 1e4, 0, &s), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_one_cycle(0.1, 100, 1.5, DESCENT_ANNEAL_COS, 25.0, 1e4, 0, &s),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_new_sequential(NULL, 1, NULL, &s), DESCENT_ERR_NULL_POINTER);
    CHECK(s == 12345);

    CHECK_STATUS(descent_schedule_new_exponential(0.1, 0.9, &s), DESCENT_OK);
    double lr = -7.0;
    CHECK_STATUS(descent_schedule_value(s, -1, &lr), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_value(s, 0, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_schedule_values(s, 0, 4, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_schedule_values(s, 0, -4, &lr), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(lr == -7.0);

    /* a sequential schedule naming a freed part, and wrong-kind handles */
    descent_schedule dead = 0;
    CHECK_STATUS(descent_schedule_new_constant(0.1, &dead), DESCENT_OK);
    CHECK_STATUS(descent_schedule_free(dead), DESCENT_OK);
    descent_schedule parts[2] = {s, dead};
    int64_t at[1] = {5};
    descent_schedule seq = 999;
    CHECK_STATUS(descent_schedule_new_sequential(parts, 2, at, &seq), DESCENT_ERR_INVALID_HANDLE);
    CHECK(seq == 999);
    parts[1] = s;
    int64_t bad_at[1] = {0};
    CHECK_STATUS(descent_schedule_new_sequential(parts, 2, bad_at, &seq), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_value(dead, 0, &lr), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_schedule_value(0, 0, &lr), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_schedule_free(dead), DESCENT_OK);   /* double free is harmless */
    CHECK_STATUS(descent_schedule_free(0), DESCENT_OK);

    descent_tensor t = 0;
    int64_t shape[1] = {3};
    CHECK_STATUS(descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, shape, &t), DESCENT_OK);
    CHECK_STATUS(descent_schedule_value(t, 0, &lr), DESCENT_ERR_WRONG_HANDLE_TYPE);
    CHECK_STATUS(descent_schedule_free(t), DESCENT_ERR_WRONG_HANDLE_TYPE);
    CHECK_STATUS(descent_plateau_update(s, 1.0, &lr), DESCENT_ERR_WRONG_HANDLE_TYPE);
    CHECK_STATUS(descent_tensor_free(t), DESCENT_OK);
    CHECK(lr == -7.0);
    descent_schedule_free(s);
}

static void test_plateau(void) {
    descent_plateau p = 0;
    CHECK_STATUS(descent_plateau_new(1.0, DESCENT_PLATEAU_MIN, 0.5, 1, 0.0, DESCENT_THRESHOLD_ABS, 1, 0.2, 1e-8, &p),
                 DESCENT_OK);
    /* metrics:   1.0(best) 1.0(bad1) 1.0(bad2>1: reduce, cooldown 1) 1.0(cooldown) 1.0 1.0(reduce) ... */
    double metrics[9] = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.6, 0.7};
    double expected[9] = {1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2};
    int ok = 1;
    for (int i = 0; i < 9; i++) {
        double lr = -1;
        ok &= descent_plateau_update(p, metrics[i], &lr) == DESCENT_OK && lr == expected[i];
    }
    CHECK(ok);
    double best = 0, lr = 0;
    int64_t bad = -1, cooldown = -1, updates = -1;
    CHECK_STATUS(descent_plateau_state(p, &best, &bad, &cooldown, &updates), DESCENT_OK);
    CHECK(best == 0.5 && updates == 9);
    CHECK_STATUS(descent_plateau_state(p, NULL, NULL, NULL, &updates), DESCENT_OK);
    CHECK_STATUS(descent_plateau_lr(p, &lr), DESCENT_OK);
    CHECK(lr == 0.2);
    CHECK_STATUS(descent_plateau_update(p, 0.1, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_plateau_state(p, NULL, NULL, NULL, &updates), DESCENT_OK);
    CHECK(updates == 9);   /* the failed update changed nothing */
    /* set_lr and restore: checked before anything changes */
    CHECK_STATUS(descent_plateau_set_lr(p, -1.0), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_restore(p, 0.5, NAN, 0, 0, 1), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_restore(p, 0.5, 1.0, -1, 0, 1), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_lr(p, &lr), DESCENT_OK);
    CHECK(lr == 0.2);
    CHECK_OK(descent_plateau_set_lr(p, 0.8));
    CHECK_OK(descent_plateau_update(p, 0.9, &lr));        /* worse than best 0.5: bad epoch 1 */
    CHECK(lr == 0.8);
    CHECK_OK(descent_plateau_restore(p, 0.6, INFINITY, 0, 0, 0));
    CHECK_OK(descent_plateau_update(p, 3.0, &lr));        /* anything beats +inf */
    CHECK_STATUS(descent_plateau_state(p, &best, &bad, &cooldown, &updates), DESCENT_OK);
    CHECK(lr == 0.6 && best == 3.0 && bad == 0 && cooldown == 0 && updates == 1);
    /* Counters at INT64_MAX (only via restore): the update counter cannot grow, a typed error
     * with nothing changed; num_bad_epochs saturates. Both were process-killing traps. */
    CHECK_OK(descent_plateau_restore(p, 0.6, 3.0, 0, 0, INT64_MAX));
    CHECK_STATUS(descent_plateau_update(p, 1.0, &lr), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_state(p, &best, &bad, &cooldown, &updates), DESCENT_OK);
    CHECK(best == 3.0 && bad == 0 && updates == INT64_MAX);
    CHECK_OK(descent_plateau_restore(p, 0.6, 3.0, INT64_MAX, 0, 1));
    CHECK_OK(descent_plateau_update(p, 5.0, &lr));         /* a bad epoch past any patience: reduce */
    CHECK_STATUS(descent_plateau_state(p, &best, &bad, &cooldown, &updates), DESCENT_OK);
    CHECK(bad == 0 && updates == 2);
    CHECK_STATUS(descent_plateau_free(p), DESCENT_OK);
    CHECK_STATUS(descent_plateau_lr(p, &lr), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_plateau_set_lr(p, 0.1), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_plateau_free(p), DESCENT_OK);

    descent_plateau q = 77;
    CHECK_STATUS(descent_plateau_new(0.1, 2, 0.1, 10, 1e-4, DESCENT_THRESHOLD_REL, 0, 0.0, 1e-8, &q),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_new(0.1, DESCENT_PLATEAU_MAX, 0.1, 10, 1e-4, 5, 0, 0.0, 1e-8, &q),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_new(0.1, DESCENT_PLATEAU_MAX, 1.0, 10, 1e-4, DESCENT_THRESHOLD_REL, 0, 0.0, 1e-8, &q),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_new(-0.1, DESCENT_PLATEAU_MAX, 0.1, 10, 1e-4, DESCENT_THRESHOLD_REL, 0, 0.0, 1e-8, &q),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_new(0.1, DESCENT_PLATEAU_MAX, 0.1, -1, 1e-4, DESCENT_THRESHOLD_REL, 0, 0.0, 1e-8, &q),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_plateau_new(0.1, DESCENT_PLATEAU_MAX, 0.1, 1, 1e-4, DESCENT_THRESHOLD_REL, 0, 0.0, 1e-8, NULL),
                 DESCENT_ERR_NULL_POINTER);
    CHECK(q == 77);
}

static descent_tensor tensor_f64(const double *data, int64_t count) {
    descent_tensor t = 0;
    int64_t shape[1] = {count};
    if (descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 1, shape, data, count, &t) != DESCENT_OK) return 0;
    return t;
}

static void test_clipping(void) {
    double a[3] = {3.0, 0.0, 4.0}, b[2] = {12.0, 0.0}, out_a[3], out_b[2];
    descent_tensor grads[2] = {tensor_f64(a, 3), tensor_f64(b, 2)};
    CHECK(grads[0] != 0 && grads[1] != 0);
    double norm = -1;
    /* total = sqrt(9 + 16 + 144) = 13 */
    CHECK_STATUS(descent_clip_grad_norm(grads, 2, 100.0, &norm), DESCENT_OK);
    CHECK(norm == 13.0);
    descent_tensor_copy_to(grads[0], DESCENT_DTYPE_FLOAT64, out_a, 3);
    CHECK(memcmp(out_a, a, sizeof a) == 0);            /* below max_norm: untouched */
    CHECK_STATUS(descent_clip_grad_norm(grads, 2, 1.0, &norm), DESCENT_OK);
    CHECK(norm == 13.0);
    double coefficient = 1.0 / (13.0 + 1e-6);
    descent_tensor_copy_to(grads[0], DESCENT_DTYPE_FLOAT64, out_a, 3);
    descent_tensor_copy_to(grads[1], DESCENT_DTYPE_FLOAT64, out_b, 2);
    CHECK(close_to(out_a[0], 3.0 * coefficient) && close_to(out_a[2], 4.0 * coefficient) && out_a[1] == 0.0);
    CHECK(close_to(out_b[0], 12.0 * coefficient));
    CHECK_STATUS(descent_clip_grad_norm(grads, 2, 1.0, NULL), DESCENT_OK);   /* pre_clip_norm optional */

    /* other norms: L1 and max */
    double c[4] = {1.0, -2.0, 3.0, -4.0};
    descent_tensor one[1] = {tensor_f64(c, 4)};
    CHECK_STATUS(descent_clip_grad_norm_ex(one, 1, INFINITY, 1.0, 0, &norm), DESCENT_OK);
    CHECK(norm == 10.0);
    CHECK_STATUS(descent_clip_grad_norm_ex(one, 1, INFINITY, INFINITY, 0, &norm), DESCENT_OK);
    CHECK(norm == 4.0);
    CHECK_STATUS(descent_clip_grad_norm_ex(one, 1, 1.0, 0.0, 0, &norm), DESCENT_ERR_INVALID_ARGUMENT);

    /* clip by value */
    CHECK_STATUS(descent_clip_grad_value(one, 1, 2.5), DESCENT_OK);
    double clipped[4];
    descent_tensor_copy_to(one[0], DESCENT_DTYPE_FLOAT64, clipped, 4);
    CHECK(clipped[0] == 1.0 && clipped[1] == -2.0 && clipped[2] == 2.5 && clipped[3] == -2.5);
    CHECK_STATUS(descent_clip_grad_value(one, 1, -1.0), DESCENT_ERR_INVALID_ARGUMENT);

    /* non-finite: default leaves grads alone and reports the norm; the flag makes it an error */
    double poisoned[2] = {NAN, 1.0};
    descent_tensor bad[1] = {tensor_f64(poisoned, 2)};
    norm = 0;
    CHECK_STATUS(descent_clip_grad_norm(bad, 1, 1.0, &norm), DESCENT_OK);
    CHECK(isnan(norm));
    norm = 5.0;
    CHECK_STATUS(descent_clip_grad_norm_ex(bad, 1, 1.0, 2.0, 1, &norm), DESCENT_ERR_NON_FINITE);
    CHECK(norm == 5.0);
    double after[2];
    descent_tensor_copy_to(bad[0], DESCENT_DTYPE_FLOAT64, after, 2);
    CHECK(isnan(after[0]) && after[1] == 1.0);

    /* bad input leaves every gradient unchanged */
    double big[2] = {30.0, 40.0};
    descent_tensor mixed[2] = {tensor_f64(big, 2), 0};
    float small[2] = {30.0f, 40.0f};
    int64_t shape[1] = {2};
    CHECK_STATUS(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT32, 1, shape, small, 2, &mixed[1]), DESCENT_OK);
    CHECK_STATUS(descent_clip_grad_norm(mixed, 2, 1.0, &norm), DESCENT_ERR_DTYPE);
    CHECK_STATUS(descent_clip_grad_value(mixed, 2, 1.0), DESCENT_ERR_DTYPE);
    descent_tensor twice[2] = {mixed[0], mixed[0]};
    CHECK_STATUS(descent_clip_grad_norm(twice, 2, 1.0, &norm), DESCENT_ERR_INVALID_ARGUMENT);
    descent_tensor stale = tensor_f64(big, 2);
    descent_tensor_free(stale);
    descent_tensor with_stale[2] = {mixed[0], stale};
    CHECK_STATUS(descent_clip_grad_norm(with_stale, 2, 1.0, &norm), DESCENT_ERR_INVALID_HANDLE);
    CHECK_STATUS(descent_clip_grad_value(with_stale, 2, 1.0), DESCENT_ERR_INVALID_HANDLE);
    descent_schedule not_tensor = 0;
    descent_schedule_new_constant(0.1, &not_tensor);
    descent_tensor wrong_kind[2] = {mixed[0], not_tensor};
    CHECK_STATUS(descent_clip_grad_norm(wrong_kind, 2, 1.0, &norm), DESCENT_ERR_WRONG_HANDLE_TYPE);
    descent_schedule_free(not_tensor);
    CHECK_STATUS(descent_clip_grad_norm(NULL, 2, 1.0, &norm), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_clip_grad_norm(mixed, -1, 1.0, &norm), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_clip_grad_norm(mixed, 1, -1.0, &norm), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_clip_grad_norm(mixed, 1, NAN, &norm), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(norm == 5.0);
    double kept[2];
    descent_tensor_copy_to(mixed[0], DESCENT_DTYPE_FLOAT64, kept, 2);
    CHECK(kept[0] == 30.0 && kept[1] == 40.0);
    norm = -1;
    CHECK_STATUS(descent_clip_grad_norm(NULL, 0, 1.0, &norm), DESCENT_OK);   /* empty list */
    CHECK(norm == 0.0);

    /* float32: the norm is accumulated in double, the scale factor rounded to float */
    CHECK_STATUS(descent_clip_grad_norm(&mixed[1], 1, 5.0, &norm), DESCENT_OK);
    CHECK(norm == 50.0);
    float scaled[2];
    descent_tensor_copy_to(mixed[1], DESCENT_DTYPE_FLOAT32, scaled, 2);
    float factor = (float)(5.0 / (50.0 + 1e-6));
    CHECK(scaled[0] == 30.0f * factor && scaled[1] == 40.0f * factor);

    descent_tensor_free(grads[0]);
    descent_tensor_free(grads[1]);
    descent_tensor_free(one[0]);
    descent_tensor_free(bad[0]);
    descent_tensor_free(mixed[0]);
    descent_tensor_free(mixed[1]);
}

/* The documented driving pattern: evaluate the schedule each step, pass the rate to the step. */
static void test_driving_gradient_descent(void) {
    descent_schedule s = 0;
    descent_tensor w = 0, g = 0;
    int64_t shape[1] = {1};
    double start = 10.0, one = 1.0, final_w = 0.0;
    CHECK_STATUS(descent_schedule_new_step(0.5, 2, 0.5, &s), DESCENT_OK);
    CHECK_STATUS(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 1, shape, &start, 1, &w), DESCENT_OK);
    CHECK_STATUS(descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 1, shape, &one, 1, &g), DESCENT_OK);
    double expected = 10.0;
    for (int64_t t = 0; t < 6; t++) {
        double lr = 0;
        descent_schedule_value(s, t, &lr);
        descent_gd_step(w, g, lr);          /* W -= lr_t * 1 */
        expected -= 0.5 * pow(0.5, (double)(t / 2));
    }
    descent_tensor_copy_to(w, DESCENT_DTYPE_FLOAT64, &final_w, 1);
    CHECK(close_to(final_w, expected));
    descent_tensor_free(w);
    descent_tensor_free(g);
    descent_schedule_free(s);
}

/* Threads share one schedule (read-only) and one plateau (serialized updates). */
enum { THREADS = 4, EVALUATIONS = 2000, UPDATES = 500 };

struct shared {
    descent_schedule schedule;
    descent_plateau plateau;
    const double *expected;
    int mismatches;
};

static void *hammer(void *raw) {
    struct shared *shared = raw;
    int mismatches = 0;
    for (int i = 0; i < EVALUATIONS; i++) {
        double lr = -1;
        int64_t t = (i * 7) % 500;
        if (descent_schedule_value(shared->schedule, t, &lr) != DESCENT_OK || lr != shared->expected[t]) mismatches++;
    }
    for (int i = 0; i < UPDATES; i++) {
        double lr = -1;
        if (descent_plateau_update(shared->plateau, 1.0, &lr) != DESCENT_OK || !(lr > 0)) mismatches++;
    }
    __atomic_add_fetch(&shared->mismatches, mismatches, __ATOMIC_SEQ_CST);
    return NULL;
}

static void test_threads(void) {
    static double expected[500];
    struct shared shared = {0, 0, expected, 0};
    CHECK_OK(descent_schedule_new_cosine_warm_restarts(0.1, 7, 2, 0.001, &shared.schedule));
    CHECK_OK(descent_schedule_values(shared.schedule, 0, 500, expected));
    CHECK_OK(descent_plateau_new(1.0, DESCENT_PLATEAU_MIN, 0.5, 3, 1e-4, DESCENT_THRESHOLD_REL, 0, 1e-3, 1e-8,
                                 &shared.plateau));
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&threads[i], NULL, hammer, &shared) == 0);
    for (int i = 0; i < THREADS; i++) pthread_join(threads[i], NULL);
    CHECK(shared.mismatches == 0);
    int64_t updates = 0, bad = -1;
    CHECK_OK(descent_plateau_state(shared.plateau, NULL, &bad, NULL, &updates));
    CHECK(updates == THREADS * UPDATES);
    /* the same metric every epoch: one reduction per patience + 1 updates, floored at min_lr */
    double lr = 0;
    CHECK_OK(descent_plateau_lr(shared.plateau, &lr));
    CHECK(lr == 1e-3);
    descent_schedule_free(shared.schedule);
    descent_plateau_free(shared.plateau);
}

int main(void) {
    test_textbook_decays();
    test_modern_schedules();
    test_one_cycle_momentum();
    test_schedule_bad_input();
    test_plateau();
    test_clipping();
    test_driving_gradient_descent();
    test_threads();
    return check_report("schedules");
}
