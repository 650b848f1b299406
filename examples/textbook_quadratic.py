"""A first gradient-descent example (Nielsen, NNDL chapter 1) through the Python package:
minimize J(W) = 0.1 (W - 5)^2 from W = 10 (dJ/dW = 0.2 (W - 5) = 1 there) with
W := W - learning_rate * dJ/dW."""
import descent

learning_rate = 1.0
weight = descent.tensor([10.0])
gradient = descent.zeros(1)
print(f"minimizing J(W) = 0.1 (W - 5)^2 from W = 10, learning rate {learning_rate}")
print(f"{'step':>4} {'W':>12} {'dJ/dW':>12} {'J(W)':>12}")
for step in range(61):
    w = weight.numpy()[0]
    if step < 5 or step % 10 == 0:
        print(f"{step:4d} {w:12.6f} {0.2 * (w - 5):12.6f} {0.1 * (w - 5) ** 2:12.3e}")
    gradient.copy_from([0.2 * (w - 5.0)])
    descent.gd_step(weight, gradient, learning_rate)
w = weight.numpy()[0]
assert abs(w - 5.0) < 1e-4, w
print(f"converged: W = {w:.9f} (minimum at W = 5, J = 0)")
