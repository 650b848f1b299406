/* Raw C call costs for `make bench` (bench/run.py prints them beside the Python figures):
 *   step10x100   descent_optimizer_step: Adam over 10 float32 tensors of 100 elements, default policy
 *   adam100      descent_adam_step on one float32 tensor of 100 elements
 *   sgd100       descent_sgd_step (momentum) on one float32 tensor of 100 elements
 * Each figure is the best of 15 rounds of 20000 calls, in microseconds per call. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#include "descent.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define ROUNDS 15
#define CALLS 20000
#define BEST(label, call)                                                        \
    do {                                                                         \
        double best = 1e9;                                                       \
        for (int round = 0; round < ROUNDS; round++) {                           \
            double start = now();                                                \
            for (int i = 0; i < CALLS; i++) { call; }                            \
            double each = (now() - start) / CALLS * 1e6;                         \
            if (each < best) best = each;                                        \
        }                                                                        \
        printf("%s %.4f\n", label, best);                                        \
    } while (0)

int main(void) {
    static float params[10][100], grads[10][100], m[100], v[100], p[100], g[100], b[100];
    descent_tensor tensors[10], gradients[10];
    int64_t shape[1] = {100};
    for (int t = 0; t < 10; t++) {
        for (int i = 0; i < 100; i++) { params[t][i] = 1.0f; grads[t][i] = 1e-3f * (float)(i % 7); }
        if (descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, shape, params[t], 100, &tensors[t]) != DESCENT_OK ||
            descent_tensor_wrap(DESCENT_DTYPE_FLOAT32, 1, shape, grads[t], 100, &gradients[t]) != DESCENT_OK) {
            fprintf(stderr, "overhead: %s\n", descent_last_error());
            return 1;
        }
    }
    for (int i = 0; i < 100; i++) { p[i] = 1.0f; g[i] = 1e-3f; m[i] = v[i] = b[i] = 0; }
    descent_optimizer adam = 0;
    if (descent_optimizer_new(DESCENT_RULE_ADAM, &adam) != DESCENT_OK ||
        descent_optimizer_add_group(adam, tensors, 10, NULL) != DESCENT_OK ||
        descent_optimizer_set_grads(adam, gradients, 10) != DESCENT_OK) {
        fprintf(stderr, "overhead: %s\n", descent_last_error());
        return 1;
    }
    int64_t t = 0;
    BEST("step10x100", descent_optimizer_step(adam, NULL));
    BEST("adam100", (t++, descent_adam_step(DESCENT_DTYPE_FLOAT32, 100, p, g, m, v, NULL, t % 1000 + 1, 1e-3, 0.9,
                                            0.999, 1e-8, 0.0, 0)));
    BEST("sgd100", (t++, descent_sgd_step(DESCENT_DTYPE_FLOAT32, 100, p, g, b, t % 1000 + 2, 1e-3, 0.9, 0.0, 0.0,
                                          0)));
    descent_optimizer_free(adam);
    for (int k = 0; k < 10; k++) { descent_tensor_free(tensors[k]); descent_tensor_free(gradients[k]); }
    return 0;
}
