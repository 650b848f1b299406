"""Random restarts: one gradient descent run stops in whichever valley it starts above; the best
of K runs from random starting points is far more likely to find the deepest one.

The surface is a shallow bowl with eight Gaussian wells of different depths,

    f(x, y) = 0.05 (x^2 + y^2) - sum_i a_i exp(-((x - cx_i)^2 + (y - cy_i)^2) / (2 s_i^2)),

built from descent graph operations over two scalar params. Each run is plain gradient descent
(descent.optim.SGD without momentum: W := W - lr * df/dW) from the graph's gradients, starting at
a point drawn uniformly from [-4, 4]^2 (seeded). The single start is the first of the K.

Run: PYTHONPATH=python python3 examples/restarts.py [--out build/demo/restarts.png] [--restarts 10]
DESCENT_DEMO_QUICK=1 takes 40 steps per run instead of 150 (for tests).
"""
import argparse
import os
import time

import numpy as np

from descent import optim
from descent.graph import Graph
from demo_util import QUICK, default_out, pyplot, save_png

STEPS = 40 if QUICK else 150
LR = 0.1
SEED = 7
BOX = 4.0
# (cx, cy, depth a, width s): the deepest well, at (1.2, -2.6), is the global minimum.
WELLS = [(-2.5, 2.2, 1.0, 0.8), (0.0, 2.8, 0.8, 0.7), (2.4, 2.0, 1.2, 0.9), (-2.8, -0.3, 1.1, 0.8),
         (0.2, 0.3, 0.9, 0.9), (2.8, -0.8, 1.3, 0.8), (-1.5, -2.6, 1.0, 0.8), (1.2, -2.6, 2.2, 0.7)]


def surface_graph():
    """The graph of f over two scalar params, and the arrays holding x and y."""
    graph = Graph()
    x_value, y_value = np.array(0.0), np.array(0.0)
    x, y = graph.param(x_value), graph.param(y_value)
    f = 0.05 * (x.square() + y.square())
    for cx, cy, depth, width in WELLS:
        f = f - depth * (-((x - cx).square() + (y - cy).square()) / (2 * width * width)).exp()
    return graph, f, x_value, y_value


def surface_numpy(x, y):
    """The same f in NumPy, for the contour plot only."""
    value = 0.05 * (x ** 2 + y ** 2)
    for cx, cy, depth, width in WELLS:
        value = value - depth * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width * width))
    return value


def descend(graph, f, x_value, y_value, start):
    """Plain gradient descent from `start`: the path (STEPS + 1, 2) and f along it."""
    x_value[...], y_value[...] = start
    grads = graph.grads()
    path, values = [tuple(start)], []
    with optim.SGD([x_value, y_value], lr=LR) as optimizer:
        for _ in range(STEPS):
            values.append(graph.backward(f))
            optimizer.step(grads)
            path.append((float(x_value), float(y_value)))
    values.append(float(graph.forward(f)))
    return np.array(path), np.array(values)


def plot(runs, best, path):
    plt = pyplot("restarts.py")
    grid = np.linspace(-BOX, BOX, 300)
    gx, gy = np.meshgrid(grid, grid)
    surface = surface_numpy(gx, gy)
    k = len(runs)
    single_path, single_values = runs[0]
    best_path, best_values = runs[best]

    figure, (left, right) = plt.subplots(1, 2, figsize=(12.5, 5.6), gridspec_kw={"width_ratios": [1.05, 1]})
    filled = left.contourf(gx, gy, surface, levels=18, cmap="viridis")
    left.contour(gx, gy, surface, levels=18, colors="white", linewidths=0.3, alpha=0.5)
    figure.colorbar(filled, ax=left, label="f(x, y)", fraction=0.046, pad=0.03)
    for points, _ in runs:
        left.plot(points[:, 0], points[:, 1], color="white", linewidth=1.0, alpha=0.55)
        left.plot(points[0, 0], points[0, 1], "o", color="white", markersize=4, alpha=0.8)
    left.plot(single_path[:, 0], single_path[:, 1], "--", color="orange", linewidth=2.2,
              label=f"single start: f = {single_values[-1]:.3f}")
    left.plot(best_path[:, 0], best_path[:, 1], color="red", linewidth=2.8,
              label=f"best of {k}: f = {best_values[-1]:.3f}")
    for points, color in ((single_path, "orange"), (best_path, "red")):
        left.plot(points[0, 0], points[0, 1], "o", color=color, markersize=7, markeredgecolor="black")
        left.plot(points[-1, 0], points[-1, 1], "X", color=color, markersize=11, markeredgecolor="black")
    index = np.unravel_index(np.argmin(surface), surface.shape)
    left.plot(gx[index], gy[index], "*", color="gold", markersize=17, markeredgecolor="black",
              label="global minimum", linestyle="")
    left.plot([], [], color="white", linewidth=1.0, marker="o", markersize=4,
              label=f"the other runs (o = start)")
    left.set_xlim(-BOX, BOX)
    left.set_ylim(-BOX, BOX)
    left.set_aspect("equal")
    left.set_xlabel("x")
    left.set_ylabel("y")
    left.set_title(f"{k} gradient descent runs from random starts", fontsize=11)
    legend = left.legend(loc="upper left", fontsize=8.5, facecolor="0.25", edgecolor="none", labelcolor="white",
                         framealpha=0.85)
    legend.get_frame().set_linewidth(0)

    steps = np.arange(STEPS + 1)
    for _, values in runs:
        right.plot(steps, values, color="0.6", linewidth=1.0, alpha=0.8)
    right.plot(steps, single_values, "--", color="orange", linewidth=2.2, label="single start (run 1)")
    right.plot(steps, best_values, color="red", linewidth=2.8, label=f"best of {k} (run {best + 1})")
    right.plot([], [], color="0.6", label="the other runs")
    right.axhline(surface.min(), color="black", linewidth=0.8, linestyle=":",
                  label=f"global minimum ≈ {surface.min():.3f}")
    right.set_xlabel("gradient descent step")
    right.set_ylabel("f at the current point")
    right.set_xlim(0, STEPS)
    right.set_title(f"f along each run (lr {LR}, {STEPS} steps)", fontsize=11)
    right.grid(True, alpha=0.3)
    right.legend(loc="upper right", fontsize=9)
    figure.suptitle(f"Random restarts: a single start stops at f = {single_values[-1]:.3f}, "
                    f"the best of {k} starts reaches f = {best_values[-1]:.3f}", fontsize=12)
    figure.tight_layout()
    save_png(figure, path)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out("restarts.png"), help="where to write the PNG")
    parser.add_argument("--restarts", type=int, default=10, help="K, the number of random starts")
    args = parser.parse_args()
    started = time.perf_counter()
    graph, f, x_value, y_value = surface_graph()
    starts = np.random.default_rng(SEED).uniform(-BOX, BOX, size=(args.restarts, 2))
    runs = [descend(graph, f, x_value, y_value, start) for start in starts]
    graph.close()
    finals = np.array([values[-1] for _, values in runs])
    best = int(np.argmin(finals))
    print(f"{args.restarts} runs of plain gradient descent (lr {LR}, {STEPS} steps) from random starts in "
          f"[-{BOX:g}, {BOX:g}]^2, seed {SEED}")
    print("final f of each run: " + " ".join(f"{value:.3f}" for value in finals))
    print(f"single start minimum: f = {finals[0]:.4f}; best of {args.restarts}: f = {finals[best]:.4f} "
          f"(run {best + 1}); runs reaching the best valley: {int(np.sum(finals < finals[best] + 1e-3))}")
    plot(runs, best, args.out)
    print(f"wrote {os.path.relpath(args.out)}; total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
