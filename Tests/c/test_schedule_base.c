/* C test of how a schedule meets the optimizer's own learning rate: descent_schedule_base_rate,
 * descent_schedule_rebase (formulas checked here), and a trainer driven by a schedule under
 * each DESCENT_SCHEDULE_BASE_* choice. The graph's loss is sum(w), so dJ/dw = 1 and an SGD step
 * moves w by exactly that step's learning rate. */
#include <math.h>
#include <stdint.h>

#include "check.h"

#define CLOSE(a, b) (fabs((a) - (b)) <= 1e-14 * (1.0 + fabs(b)))

static double cosine(double t, double lr0, double t_max, double eta_min) {
    return eta_min + (lr0 - eta_min) * (1 + cos(3.14159265358979323846 * t / t_max)) / 2;
}

static void test_base_rate_and_rebase(void) {
    descent_schedule cos_s = 0, moved = 0, piece = 0, piece_moved = 0, one = 0;
    double lr = 0, value = 0;
    CHECK_OK(descent_schedule_new_cosine(0.1, 10, 0.01, &cos_s));
    CHECK_OK(descent_schedule_base_rate(cos_s, &lr));
    CHECK(lr == 0.1);
    CHECK_OK(descent_schedule_rebase(cos_s, 0.5, &moved));
    CHECK_OK(descent_schedule_base_rate(moved, &lr));
    CHECK(lr == 0.5);
    int ok = 1;
    for (int t = 0; t < 25; t++) {
        descent_schedule_value(moved, t, &value);
        ok &= CLOSE(value, cosine(t, 0.5, 10, 0.01));     /* eta_min stays absolute */
    }
    CHECK(ok);
    int64_t boundaries[1] = {4};
    double values[2] = {0.2, 0.05};
    CHECK_OK(descent_schedule_new_piecewise_constant(boundaries, 1, values, &piece));
    CHECK_OK(descent_schedule_rebase(piece, 0.4, &piece_moved));
    descent_schedule_value(piece_moved, 5, &value);
    CHECK(CLOSE(value, 0.1));                               /* 0.05 scaled by 0.4 / 0.2 */
    CHECK_OK(descent_schedule_new_one_cycle(0.3, 20, 0.3, 0, 25.0, 1e4, 0, &one));
    CHECK_OK(descent_schedule_base_rate(one, &lr));
    CHECK(lr == 0.3);                                       /* one-cycle's base is max_lr */
    descent_schedule untouched = 12345;
    CHECK_STATUS(descent_schedule_rebase(cos_s, -1.0, &untouched), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_rebase(cos_s, NAN, &untouched), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(descent_schedule_rebase(cos_s, 0.1, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_schedule_base_rate(cos_s, NULL), DESCENT_ERR_NULL_POINTER);
    CHECK_STATUS(descent_schedule_base_rate(0, &lr), DESCENT_ERR_INVALID_HANDLE);
    CHECK(untouched == 12345);
    descent_schedule_free(cos_s);
    descent_schedule_free(moved);
    descent_schedule_free(piece);
    descent_schedule_free(piece_moved);
    descent_schedule_free(one);
}

/* A trainer over loss = sum(w) with SGD at `lr`; returns 1 on success. */
typedef struct {
    double w[1];
    descent_tensor tw;
    descent_graph graph;
    descent_optimizer sgd;
    descent_trainer trainer;
} rig;

static int rig_new(rig *r, double lr) {
    int64_t shape[1] = {1};
    int64_t param = 0, loss = 0;
    r->w[0] = 0.0;
    r->tw = r->graph = r->sgd = r->trainer = 0;
    return descent_tensor_wrap(DESCENT_DTYPE_FLOAT64, 1, shape, r->w, 1, &r->tw) == DESCENT_OK &&
           descent_graph_new(DESCENT_DTYPE_FLOAT64, &r->graph) == DESCENT_OK &&
           descent_graph_param(r->graph, r->tw, 1, &param) == DESCENT_OK &&
           descent_graph_reduce(r->graph, DESCENT_GRAPH_SUM, param, -1, &loss) == DESCENT_OK &&
           descent_optimizer_new(DESCENT_RULE_SGD, &r->sgd) == DESCENT_OK &&
           descent_optimizer_add_group(r->sgd, &r->tw, 1, NULL) == DESCENT_OK &&
           descent_optimizer_set_hyper(r->sgd, 0, DESCENT_HYPER_LR, lr) == DESCENT_OK &&
           descent_trainer_new(r->graph, r->sgd, loss, &r->trainer) == DESCENT_OK;
}

static void rig_free(rig *r) {
    descent_trainer_free(r->trainer);
    descent_optimizer_free(r->sgd);
    descent_graph_free(r->graph);
    descent_tensor_free(r->tw);
}

/* The learning rate of each of `steps` trainer steps (w moves by -lr). */
static int rates(rig *r, int steps, double *out) {
    double loss = 0;
    int32_t skipped = 0;
    for (int i = 0; i < steps; i++) {
        double before = r->w[0];
        if (descent_trainer_step(r->trainer, &loss, &skipped) != DESCENT_OK) return 0;
        out[i] = before - r->w[0];
    }
    return 1;
}

static void test_trainer_schedule_base(void) {
    descent_schedule cos_s = 0;
    CHECK_OK(descent_schedule_new_cosine(0.1, 6, 0.0, &cos_s));
    double seen[8], lr = 0;
    rig r;

    /* AGREE (the default): a conflict is an error and changes nothing; equal rates work. */
    CHECK(rig_new(&r, 5.0));
    CHECK_STATUS(descent_trainer_set_schedule(r.trainer, cos_s, 0), DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(strstr(descent_last_error(), "0.1") != NULL && strstr(descent_last_error(), "5.0") != NULL);
    CHECK_STATUS(descent_trainer_set_schedule_ex(r.trainer, cos_s, 0, DESCENT_SCHEDULE_BASE_AGREE),
                 DESCENT_ERR_INVALID_ARGUMENT);
    CHECK(rates(&r, 1, seen) && seen[0] == 5.0);            /* no schedule was set */
    CHECK_STATUS(descent_trainer_set_schedule_ex(r.trainer, cos_s, 0, 3), DESCENT_ERR_INVALID_ARGUMENT);
    /* OVERRIDE: the schedule's rates replace the optimizer's. */
    CHECK_OK(descent_trainer_set_schedule_ex(r.trainer, cos_s, 0, DESCENT_SCHEDULE_BASE_SCHEDULE));
    CHECK(rates(&r, 3, seen));
    CHECK(CLOSE(seen[0], cosine(1, 0.1, 6, 0)) && CLOSE(seen[2], cosine(3, 0.1, 6, 0)));  /* t = steps done */
    rig_free(&r);

    /* OPTIMIZER: the schedule is rebased to the optimizer's lr 0.4. */
    CHECK(rig_new(&r, 0.4));
    CHECK_OK(descent_trainer_set_schedule_ex(r.trainer, cos_s, 0, DESCENT_SCHEDULE_BASE_OPTIMIZER));
    CHECK(rates(&r, 8, seen));
    int ok = 1;
    for (int t = 0; t < 8; t++) ok &= CLOSE(seen[t], cosine(t, 0.4, 6, 0));
    CHECK(ok);
    /* Setting a schedule again compares with the rate the group had when a schedule first drove
     * it (0.4, PyTorch's initial_lr), not the rate the last step left. */
    descent_optimizer_get_hyper(r.sgd, 0, DESCENT_HYPER_LR, &lr);
    CHECK(!CLOSE(lr, 0.4));
    descent_schedule again = 0;
    CHECK_OK(descent_schedule_new_exponential(0.4, 0.5, &again));
    CHECK_OK(descent_trainer_set_schedule(r.trainer, again, 0));
    CHECK(rates(&r, 1, seen) && CLOSE(seen[0], 0.4 * pow(0.5, 8)));
    descent_schedule_free(again);
    CHECK_OK(descent_trainer_set_schedule(r.trainer, 0, 0));   /* removed: the rate stays */
    rig_free(&r);

    /* AGREE with equal rates. */
    CHECK(rig_new(&r, 0.1));
    CHECK_OK(descent_trainer_set_schedule(r.trainer, cos_s, 0));
    CHECK(rates(&r, 2, seen) && CLOSE(seen[0], 0.1) && CLOSE(seen[1], cosine(1, 0.1, 6, 0)));
    rig_free(&r);
    descent_schedule_free(cos_s);
}

int main(void) {
    test_base_rate_and_rebase();
    test_trainer_schedule_base();
    return check_report("test_schedule_base");
}
