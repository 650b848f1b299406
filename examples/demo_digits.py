"""Eight optimizers train the same network on handwritten digits: which gets there, and how fast?

The data is scikit-learn's bundled copy of the UCI handwritten digits (1,797 images of 8x8
pixels, no download), scaled to [0, 1] and split once (360 test images, random_state=0). Every
optimizer trains an identical MLP 64-128-10 (ReLU, He initialization, seed 0) for the same
epochs on the same shuffled mini-batches of 32; only the update rule and its learning rate
differ. Everything runs inside descent: descent.MLP builds the graph, descent.fit runs the loop
in the library, model.evaluate scores the test set.

Run: PYTHONPATH=python python3 examples/demo_digits.py [--out build/demo/digits_loss.png]
DESCENT_DEMO_QUICK=1 trains 3 epochs instead of 40 (for tests).
"""
import argparse
import os
import sys
import time

import numpy as np

import descent
from descent import optim
from demo_util import QUICK, default_out, pyplot, require, save_png

EPOCHS = 3 if QUICK else 40
BATCH = 32
SIZES = [64, 128, 10]

# (label, optimizer class, hyper-parameters): learning rates picked per rule from a small sweep.
OPTIMIZERS = [
    ("SGD", optim.SGD, dict(lr=0.1)),
    ("SGD momentum", optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("Nesterov", optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("Adagrad", optim.Adagrad, dict(lr=0.05)),
    ("Adadelta", optim.Adadelta, dict(lr=1.0)),
    ("RMSprop", optim.RMSprop, dict(lr=1e-3)),
    ("Adam", optim.Adam, dict(lr=2e-3)),
    ("AdamW", optim.AdamW, dict(lr=2e-3, weight_decay=1e-2)),
]


def load_data():
    require("sklearn", "scikit-learn", "demo_digits.py")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)        # pixel intensities 0..16 -> [0, 1]
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=360, random_state=0)


def progress_bar(total):
    """One bar over all epochs of all optimizers, on a terminal only (tqdm when installed)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="training", unit="epoch", leave=False, disable=None, file=sys.stderr)


def train_all(x_train, y_train, x_test, y_test):
    results = []
    bar = progress_bar(EPOCHS * len(OPTIMIZERS))

    def tick(epoch, logs):
        bar.update(1)  # returns True when it redraws; a callback returning True would stop fit
        return None

    callbacks = [] if bar is None else [tick]
    for label, rule, hyper in OPTIMIZERS:
        start = time.perf_counter()
        model = descent.MLP(SIZES, activation="relu", init="he_normal", seed=0)
        optimizer = rule(model.parameters(), **hyper)
        history = descent.fit(model, optimizer, x_train, y_train, epochs=EPOCHS, batch_size=BATCH, seed=0,
                              callbacks=callbacks, progress=False)
        assert len(history.epoch) == EPOCHS, f"{label} stopped after {len(history.epoch)} epochs"
        test = model.evaluate(x_test, y_test)
        seconds = time.perf_counter() - start
        results.append(dict(label=label, lr=hyper["lr"], losses=history.history["loss"],
                            test_loss=test["loss"], accuracy=test["accuracy"], seconds=seconds))
        optimizer.close()
        model.graph.close()
    if bar is not None:
        bar.close()
    return results


def plot(results, path):
    plt = pyplot("demo_digits.py")

    figure, axis = plt.subplots(figsize=(10, 5))
    epochs = np.arange(1, EPOCHS + 1)
    styles = ["-", "--", ":", "-", "-", "-", "-", "--"]
    for k, (r, style) in enumerate(zip(results, styles)):
        axis.plot(epochs, r["losses"], style, color=f"C{k}", linewidth=1.8,
                  label=f"{r['label']} (lr {r['lr']:g})\n    {100 * r['accuracy']:.1f}% test accuracy")
    axis.set_yscale("log")
    axis.set_xlim(1, EPOCHS)
    axis.set_xlabel("epoch")
    axis.set_ylabel("training loss (cross-entropy, mean over the epoch)")
    axis.set_title(f"Eight optimizers training the same MLP {'-'.join(map(str, SIZES))} on handwritten digits\n"
                   f"(same initialization and mini-batches of {BATCH} for all; {len(results[0]['losses'])} epochs)",
                   fontsize=11)
    axis.grid(True, which="major", alpha=0.3)
    axis.grid(True, which="minor", alpha=0.1)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False, labelspacing=0.9)
    figure.tight_layout()
    save_png(figure, path)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out("digits_loss.png"),
                        help="where to write the loss-curve PNG")
    args = parser.parse_args()
    started = time.perf_counter()
    x_train, x_test, y_train, y_test = load_data()
    print(f"MLP {'-'.join(map(str, SIZES))} (ReLU, He init) on handwritten digits: {len(x_train)} training / "
          f"{len(x_test)} test images, {EPOCHS} epochs, mini-batches of {BATCH}")
    results = train_all(x_train, y_train, x_test, y_test)
    print(f"{'optimizer':<14} {'lr':>6} {'final train loss':>17} {'test accuracy':>14} {'seconds':>8}  (training time)")
    for r in results:
        print(f"{r['label']:<14} {r['lr']:>6g} {r['losses'][-1]:>17.5f} {100 * r['accuracy']:>13.2f}% "
              f"{r['seconds']:>8.2f}")
    best = max(results, key=lambda r: (r["accuracy"], -r["test_loss"]))
    print(f"best: {best['label']}, {100 * best['accuracy']:.2f}% test accuracy "
          f"({round(best['accuracy'] * len(x_test))}/{len(x_test)} test digits right)")
    plot(results, args.out)
    print(f"wrote {os.path.relpath(args.out)}; total {time.perf_counter() - started:.1f} s")
    if not QUICK:
        assert best["accuracy"] >= 0.97, f"the best optimizer reached only {best['accuracy']:.3f}"


if __name__ == "__main__":
    main()
