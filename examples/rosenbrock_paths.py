"""Six optimizers descend the Rosenbrock valley from the same start: where does each one go?

    f(x, y) = (1 - x)^2 + 100 (y - x^2)^2,   minimum f(1, 1) = 0

The function is a descent graph over two scalar params (x and y are NumPy 0-d arrays the graph
reads in place); graph.backward(f) writes df/dx and df/dy into the graph's gradient buffer and
each optimizer from descent.optim updates the same two arrays from those gradients. No gradient
is written by hand. The valley floor y = x^2 is easy to reach and hard to follow: plain
gradient descent crawls along it, momentum overshoots and oscillates, the adaptive rules
rescale each coordinate.

Run: PYTHONPATH=python python3 examples/rosenbrock_paths.py [--out build/demo/rosenbrock_paths.png]
DESCENT_DEMO_QUICK=1 takes 300 steps instead of 3000 (for tests).
"""
import argparse
import os
import time

import numpy as np

from descent import optim
from descent.graph import Graph
from demo_util import QUICK, default_out, pyplot, save_png

STEPS = 300 if QUICK else 3000
START = (-1.5, 2.0)

OPTIMIZERS = [
    ("SGD", optim.SGD, dict(lr=1e-3)),
    ("SGD momentum", optim.SGD, dict(lr=1e-3, momentum=0.9)),
    ("Nesterov", optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True)),
    ("Adagrad", optim.Adagrad, dict(lr=0.5)),
    ("RMSprop", optim.RMSprop, dict(lr=1e-2)),
    ("Adam", optim.Adam, dict(lr=0.05)),
]


def rosenbrock_graph():
    """The graph of f over two scalar params, and the two arrays that hold x and y."""
    graph = Graph()                                   # float64
    x_value, y_value = np.array(START[0]), np.array(START[1])
    x, y = graph.param(x_value), graph.param(y_value)
    f = (1 - x).square() + 100 * (y - x.square()).square()
    return graph, f, x_value, y_value


def descend(graph, f, x_value, y_value, rule, hyper):
    """The path (steps + 1, 2) of `rule` from START, and f at each point."""
    x_value[...], y_value[...] = START
    grads = graph.grads()                             # views of the graph's gradient buffer
    path, values = [START], []
    with rule([x_value, y_value], **hyper) as optimizer:
        for _ in range(STEPS):
            values.append(graph.backward(f))          # f at the current point; df/dx, df/dy
            optimizer.step(grads)                     # updates x_value, y_value in place
            path.append((float(x_value), float(y_value)))
    values.append(float(graph.forward(f)))
    return np.array(path), np.array(values)


def plot(runs, path):
    plt = pyplot("rosenbrock_paths.py")
    from matplotlib.colors import LogNorm
    from matplotlib.lines import Line2D

    xs, ys = np.linspace(-2.0, 2.0, 300), np.linspace(-1.0, 3.0, 300)
    gx, gy = np.meshgrid(xs, ys)
    surface = (1 - gx) ** 2 + 100 * (gy - gx ** 2) ** 2
    levels = np.logspace(-2, 3.5, 17)
    every = max(STEPS // 30, 1)

    figure, axes = plt.subplots(2, 3, figsize=(12, 8), sharex=True, sharey=True)
    for k, (axis, (label, hyper, points, values)) in enumerate(zip(axes.flat, runs)):
        axis.contour(gx, gy, surface, levels=levels, norm=LogNorm(), cmap="viridis", linewidths=0.7, alpha=0.6)
        axis.plot(points[:, 0], points[:, 1], "-", color="C3", linewidth=1.3)
        axis.plot(points[::every, 0], points[::every, 1], "o", color="C3", markersize=3.5)
        axis.plot(*START, "s", color="black", markersize=7)
        axis.plot(1, 1, "*", color="gold", markersize=16, markeredgecolor="black")
        axis.plot(points[-1, 0], points[-1, 1], "X", color="C3", markersize=10, markeredgecolor="black")
        reached = np.flatnonzero(values < 1e-3)
        when = f"f < 1e-3 from step {reached[0]}" if reached.size else "f never < 1e-3"
        axis.set_title(f"{label}, lr {hyper['lr']:g}\nfinal f = {values[-1]:.1e}; {when}", fontsize=10)
        axis.set_xlim(xs[0], xs[-1])
        axis.set_ylim(ys[0], ys[-1])
        axis.set_xticks([-1.5, -0.5, 0.5, 1.5])
    for axis in axes[-1]:
        axis.set_xlabel("x")
    for axis in axes[:, 0]:
        axis.set_ylabel("y")
    handles = [Line2D([], [], color="C3", marker="o", markersize=3.5, label=f"path (a dot every {every} steps)"),
               Line2D([], [], color="black", marker="s", linestyle="", markersize=7, label=f"start {START}"),
               Line2D([], [], color="C3", marker="X", linestyle="", markersize=10, markeredgecolor="black",
                      label=f"after {STEPS} steps"),
               Line2D([], [], color="gold", marker="*", linestyle="", markersize=16, markeredgecolor="black",
                      label="minimum (1, 1)"),
               Line2D([], [], color="0.4", linewidth=0.7, label="contours of f, log-spaced 0.01 ... 3000")]
    figure.legend(handles=handles, loc="lower center", ncol=5, fontsize=9, frameon=False)
    figure.suptitle("Six optimizers on the Rosenbrock valley f(x, y) = (1-x)² + 100(y-x²)², same start, "
                    f"{STEPS} steps each\n(gradients from descent's graph, updates by descent.optim)", fontsize=12)
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    save_png(figure, path)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out("rosenbrock_paths.png"),
                        help="where to write the PNG")
    args = parser.parse_args()
    started = time.perf_counter()
    graph, f, x_value, y_value = rosenbrock_graph()
    runs = []
    print(f"Rosenbrock f(x, y) = (1-x)^2 + 100(y-x^2)^2 from {START}, {STEPS} steps each")
    print(f"{'optimizer':<14} {'lr':>7} {'final x':>9} {'final y':>9} {'final f':>10} {'distance to (1,1)':>18}")
    for label, rule, hyper in OPTIMIZERS:
        points, values = descend(graph, f, x_value, y_value, rule, hyper)
        runs.append((label, hyper, points, values))
        x, y = points[-1]
        print(f"{label:<14} {hyper['lr']:>7g} {x:>9.4f} {y:>9.4f} {values[-1]:>10.2e} "
              f"{np.hypot(x - 1, y - 1):>18.4f}")
    graph.close()
    plot(runs, args.out)
    print(f"wrote {os.path.relpath(args.out)}; total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
