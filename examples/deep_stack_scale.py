"""Vanishing and exploding activations in a deep linear stack (Nielsen, NNDL chapter 5; Glorot &
Bengio 2010), and how a proper initialization (Xavier; He et al. 2015 for ReLU) avoids them.

With every layer W = 1.5·I the activation norm grows as 1.5^L; with W = 0.5·I it shrinks as
0.5^L. Xavier (linear layers) and He (ReLU layers) initializations keep the per-layer gain near
1, so the activation scale stays in range at any depth. Run: PYTHONPATH=python python3
examples/deep_stack_scale.py
"""
import numpy as np

import descent

width, batch = 128, 16
x = np.random.default_rng(0).standard_normal((batch, width))


def scale_after(depth, weight_for_layer, activation="identity"):
    a = x
    for layer in range(depth):
        _, a = descent.dense_forward(a, weight_for_layer(layer), None, activation)
    return np.linalg.norm(a) / np.linalg.norm(x)


print(f"activation norm after L dense layers / input norm (width {width}, batch {batch}): W = 1.5*I and\n"
      f"0.5*I (linear) next to 1.5^L and 0.5^L; Xavier (linear), He (ReLU) and N(0, 0.01^2) (ReLU) weights")
print(f"{'depth L':>7} {'1.5*I':>12} {'1.5^L':>12} {'0.5*I':>12} {'0.5^L':>12} "
      f"{'Xavier':>9} {'He+ReLU':>9} {'N(0,.01)+ReLU':>14}")
for depth in (1, 5, 10, 20, 30, 50):
    grow = scale_after(depth, lambda _: 1.5 * np.eye(width))
    shrink = scale_after(depth, lambda _: 0.5 * np.eye(width))
    xavier = scale_after(depth, lambda k: descent.init_weights((width, width), "xavier_normal", 100 + k))
    he = scale_after(depth, lambda k: descent.init_weights((width, width), "he_normal", 200 + k), "relu")
    naive = scale_after(depth, lambda k: descent.init_weights((width, width), "normal", 300 + k, 0.01), "relu")
    assert np.isclose(grow, 1.5 ** depth, rtol=1e-12) and np.isclose(shrink, 0.5 ** depth, rtol=1e-12)
    print(f"{depth:7d} {grow:12.4e} {1.5 ** depth:12.4e} {shrink:12.4e} {0.5 ** depth:12.4e} "
          f"{xavier:9.3f} {he:9.3f} {naive:14.3e}")
