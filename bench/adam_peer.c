/* The practical limit for an Adam step: one pass over float32 arrays in plain C, all cores.
 * Built by `make bench` as build/bench/libadam_peer.so with
 *     gcc -O3 -march=native -fno-math-errno -fopenmp -shared -fPIC
 * and called from bench/run.py through ctypes on the SAME NumPy arrays descent updates.
 * Formula (PyTorch Adam, no weight decay): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= (lr / c1) m / (sqrt(v) / sqrt(c2) + eps). */
#include <math.h>
#include <stdint.h>

void adam_peer_step(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                    int64_t n, double lr, double beta1, double beta2, double eps, int64_t step) {
    const double c1 = 1.0 - pow(beta1, (double)step), c2 = 1.0 - pow(beta2, (double)step);
    const float b1 = (float)beta1, k1 = (float)(1.0 - beta1), b2 = (float)beta2, k2 = (float)(1.0 - beta2);
    const float step_size = (float)(lr / c1), scale = (float)(1.0 / sqrt(c2)), e = (float)eps;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + k1 * gi;
        float vi = b2 * v[i] + k2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) * scale + e);
    }
}

/* SGD with PyTorch momentum (dampening 0, after the first step): b = mu b + g; p -= lr b. */
void momentum_peer_step(float *restrict p, const float *restrict g, float *restrict b, int64_t n, double lr,
                        double momentum) {
    const float mu = (float)momentum, rate = (float)lr;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float bi = mu * b[i] + g[i];
        b[i] = bi;
        p[i] -= rate * bi;
    }
}
