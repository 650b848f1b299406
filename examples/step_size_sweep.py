"""The step-size experiment of the cs231n "Optimization" notes: compute the multiclass SVM loss and its analytic
gradient at W, check the gradient numerically, then evaluate the loss after W - step·dW for step
sizes 1e-10 ... 1e-1. Run: PYTHONPATH=python python3 examples/step_size_sweep.py
"""
import numpy as np

import descent

rng = np.random.default_rng(3)
classes, features, samples = 10, 50, 200
X = rng.standard_normal((samples, features))
y = rng.integers(0, classes, samples)
W = descent.init_weights((classes, features), "normal", seed=3, gain=1e-3)

loss, dW = descent.multiclass_hinge_linear(W, X, y)
check = descent.gradient_check(lambda w: descent.multiclass_hinge_linear(w, X, y, with_grad=False),
                               W, dW, samples=20, seed=1)
print(f"loss at W: {loss:.6f}; sparse gradient check (20 coordinates): max relative error "
      f"{check.max_error:.2e} at {check.worst_index}")
print("multiclass SVM loss after one step W - s*dW, for each step size s:")
rows = descent.step_size_sweep(lambda w: descent.multiclass_hinge_linear(w, X, y, with_grad=False), W, dW)
print(descent.format_sweep(rows, baseline=loss))
