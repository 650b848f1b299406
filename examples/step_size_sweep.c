/* The step-size experiment of the cs231n "Optimization" notes, from C: the multiclass SVM loss of a linear
 * classifier, its analytic gradient, a gradient check through a C callback, and the loss after
 * W - step * dW for step sizes 1e-10 ... 1e-1.
 * Build and run: make demo (or see the Makefile's examples rule). */
#include <stdio.h>

#include "descent.h"

enum { CLASSES = 10, FEATURES = 50, SAMPLES = 200 };

struct svm_problem {
    descent_tensor x;
    int64_t labels[SAMPLES];
};

/* descent_scalar_fn: the SVM loss at the weights `w` (the library passes the perturbed tensor). */
static descent_status svm_loss(void *context, descent_tensor w, double *out) {
    struct svm_problem *problem = context;
    return descent_loss_multiclass_hinge_linear(w, problem->x, problem->labels, SAMPLES, 1.0,
                                                DESCENT_REDUCTION_MEAN, 0, out);
}

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, descent_last_error());
    return 1;
}

int main(void) {
    struct svm_problem problem;
    int64_t x_shape[2] = {SAMPLES, FEATURES}, w_shape[2] = {CLASSES, FEATURES};
    descent_tensor w = 0, dw = 0;
    if (descent_tensor_random_normal(DESCENT_DTYPE_FLOAT64, 2, x_shape, 1, 0.0, 1.0, &problem.x) != DESCENT_OK)
        return fail("inputs");
    for (int i = 0; i < SAMPLES; i++) problem.labels[i] = (i * 7) % CLASSES;
    if (descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, w_shape, &w) != DESCENT_OK ||
        descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 2, w_shape, &dw) != DESCENT_OK)
        return fail("weights");
    if (descent_init_fill(w, DESCENT_INIT_NORMAL, 3, 1e-3) != DESCENT_OK) return fail("init");

    double loss = 0.0;
    if (descent_loss_multiclass_hinge_linear(w, problem.x, problem.labels, SAMPLES, 1.0, DESCENT_REDUCTION_MEAN, dw,
                                             &loss) != DESCENT_OK)
        return fail("loss");

    double max_error = 0.0;
    int64_t worst = -1;
    if (descent_gradient_check(svm_loss, &problem, w, dw, 1e-6, DESCENT_DIFF_CENTERED, 1e-12, 20, 1, &max_error,
                               &worst, NULL, NULL) != DESCENT_OK)
        return fail("gradient check");
    printf("loss at W: %.6f; sparse gradient check (20 coordinates): max relative error %.2e at flat index %lld\n",
           loss, max_error, (long long)worst);

    double steps[10], losses[10];
    for (int k = 0; k < 10; k++) {
        steps[k] = 1e-10;
        for (int j = 0; j < k; j++) steps[k] *= 10.0;
    }
    if (descent_step_size_sweep(svm_loss, &problem, w, dw, steps, 10, losses) != DESCENT_OK) return fail("sweep");
    printf("multiclass SVM loss after one step W - s*dW, for each step size s:\n");
    printf("%12s %16s\n%12s %16.8f\n", "step size", "new loss", "0 (original)", loss);
    for (int k = 0; k < 10; k++) printf("%12.0e %16.8f\n", steps[k], losses[k]);

    descent_tensor_free(dw);
    descent_tensor_free(w);
    descent_tensor_free(problem.x);
    return max_error < 1e-4 ? 0 : 1;
}
