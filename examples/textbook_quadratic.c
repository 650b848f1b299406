/* A first gradient-descent example (Nielsen, NNDL chapter 1: w -> w - eta dC/dw), through the C ABI:
 * minimize J(W) = 0.1 (W - 5)^2 from W = 10, where dJ/dW = 0.2 (W - 5) = 1 at the start, by
 * W := W - learning_rate * dJ/dW with learning_rate = 1. Each step multiplies W - 5 by 0.8. */
#include <math.h>
#include <stdio.h>
#include "descent.h"

static int fail(const char *what) {
    fprintf(stderr, "%s failed: %s\n", what, descent_last_error());
    return 1;
}

int main(void) {
    if (descent_abi_version() != DESCENT_ABI_VERSION) {
        fprintf(stderr, "libdescent ABI %u, header %d\n", descent_abi_version(), DESCENT_ABI_VERSION);
        return 1;
    }
    const double learning_rate = 1.0;
    int64_t shape[1] = {1};
    double w = 10.0;
    descent_tensor weight = 0, gradient = 0;
    if (descent_tensor_from_buffer(DESCENT_DTYPE_FLOAT64, 1, shape, &w, 1, &weight) != DESCENT_OK)
        return fail("descent_tensor_from_buffer");
    if (descent_tensor_zeros(DESCENT_DTYPE_FLOAT64, 1, shape, &gradient) != DESCENT_OK)
        return fail("descent_tensor_zeros");

    printf("minimizing J(W) = 0.1 (W - 5)^2 from W = 10, learning rate %.1f\n", learning_rate);
    printf("%4s %12s %12s %12s\n", "step", "W", "dJ/dW", "J(W)");
    for (int step = 0; step <= 60; step++) {
        if (descent_tensor_copy_to(weight, DESCENT_DTYPE_FLOAT64, &w, 1) != DESCENT_OK)
            return fail("descent_tensor_copy_to");
        double g = 0.2 * (w - 5.0);
        double cost = 0.1 * (w - 5.0) * (w - 5.0);
        if (step < 5 || step % 10 == 0) printf("%4d %12.6f %12.6f %12.3e\n", step, w, g, cost);
        if (descent_tensor_copy_from(gradient, DESCENT_DTYPE_FLOAT64, &g, 1) != DESCENT_OK)
            return fail("descent_tensor_copy_from");
        if (descent_gd_step(weight, gradient, learning_rate) != DESCENT_OK)
            return fail("descent_gd_step");
    }
    if (descent_tensor_copy_to(weight, DESCENT_DTYPE_FLOAT64, &w, 1) != DESCENT_OK)
        return fail("descent_tensor_copy_to");
    descent_tensor_free(gradient);
    descent_tensor_free(weight);
    if (fabs(w - 5.0) > 1e-4) {
        fprintf(stderr, "did not converge: W = %.9f\n", w);
        return 1;
    }
    printf("converged: W = %.9f (minimum at W = 5, J = 0)\n", w);
    return 0;
}
