"""Data loaders and the training loop against NumPy: batch counts, the documented Fisher-Yates
shuffle, and fit / Trainer steps equal to a NumPy forward + backward + optimizer update
(optim_reference) over mini-batches in the documented order; determinism across runs and
thread counts."""
import os
import subprocess
import textwrap

import numpy as np
import pytest

import descent
from graph_reference import batches, dropout_mask, f64, fisher_yates, mlp_forward_backward
from optim_reference import Reference
from test_optim_checkpoint import PACKAGE_PARENT, python_executable


def data(rng, n=23, features=4, classes=3):
    return rng.standard_normal((n, features)), rng.integers(0, classes, n)


# ---- data loader ------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 4, 5, 23, 30, None])
@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_counts(batch_size, drop_last, rng):
    x, y = data(rng)
    with descent.DataLoader(x, y, batch_size=batch_size, drop_last=drop_last) as loader:
        size = 23 if batch_size is None else batch_size
        assert loader.batch_size == size
        assert len(loader) == (23 // size if drop_last else -(-23 // size))
        sizes = [loader.batch_indices(b).size for b in range(len(loader))]
        assert all(s == size for s in sizes[:-1])
        assert sum(sizes) == (len(loader) * size if drop_last else 23)
        with pytest.raises(descent.InvalidArgumentError):
            loader.batch_indices(len(loader))


@pytest.mark.parametrize("seed", [0, 11, 2 ** 64 - 1])
def test_shuffle_is_the_documented_fisher_yates(seed, rng):
    x, y = data(rng)
    with descent.DataLoader(x, y, batch_size=5, seed=seed) as loader:
        first = np.concatenate([loader.batch_indices(b) for b in range(len(loader))])   # epoch 0 by default
        np.testing.assert_array_equal(first, fisher_yates(23, seed, 0))
        orders = []
        for epoch in (3, 1, 0, 3):
            loader.set_epoch(epoch)
            order = np.concatenate([loader.batch_indices(b) for b in range(len(loader))])
            np.testing.assert_array_equal(order, fisher_yates(23, seed, epoch))
            orders.append(order)
        assert not np.array_equal(orders[0], orders[1])
        np.testing.assert_array_equal(orders[0], orders[3])
    with descent.DataLoader(x, y, batch_size=5, shuffle=False, seed=seed) as loader:
        loader.set_epoch(7)
        np.testing.assert_array_equal(np.concatenate([loader.batch_indices(b) for b in range(5)]), np.arange(23))


def test_fisher_yates_reference_is_a_permutation_and_uses_every_draw():
    # The reference itself: a permutation, different per epoch and seed.
    orders = [fisher_yates(50, seed, epoch) for seed in (0, 1) for epoch in (0, 1)]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(50))
    assert len({tuple(o) for o in orders}) == 4
    np.testing.assert_array_equal(fisher_yates(1, 0, 0), [0])


# ---- fit against NumPy ------------------------------------------------------------------------

def reference_fit(params, x, y, *, epochs, batch_size, seed=0, shuffle=True, drop_last=False, rule="adam",
                  hyper=None, first_epoch=0, **model):
    """Every step's loss and correct count, and the final params, of training in NumPy."""
    optimizers = [Reference(rule, p, **(hyper or {})) for p in params]
    size = len(x) if batch_size is None else batch_size
    losses, correct = [], []
    for epoch in range(first_epoch, first_epoch + epochs):
        for index in batches(len(x), size, seed, epoch, shuffle, drop_last):
            value, grads, logits = mlp_forward_backward(x[index], [o.param for o in optimizers], y[index],
                                                        return_output=True, **model)
            losses.append(value)
            correct.append(int(np.sum(np.argmax(logits, axis=1) == y[index])) if y.dtype.kind == "i" else -1)
            for optimizer, grad in zip(optimizers, grads):
                optimizer.step(grad)
    return np.array(losses), correct, [o.param for o in optimizers]


FIT_CASES = [
    dict(rule="adam", hyper=dict(lr=1e-2), batch_size=5),
    dict(rule="adam", hyper=dict(lr=1e-2, weight_decay=0.01, amsgrad=True), batch_size=4, drop_last=True),
    dict(rule="sgd", hyper=dict(lr=0.1, momentum=0.9, nesterov=True), batch_size=None),        # batch GD
    dict(rule="sgd", hyper=dict(lr=0.05), batch_size=1),                                      # stochastic
    dict(rule="sgd", hyper=dict(lr=0.1), batch_size=6, shuffle=False),
    dict(rule="rmsprop", hyper=dict(lr=1e-2, centered=True), batch_size=8),
]
OPTIMIZERS = {"adam": descent.optim.Adam, "sgd": descent.optim.SGD, "rmsprop": descent.optim.RMSprop}


@pytest.mark.parametrize("case", FIT_CASES, ids=lambda c: f"{c['rule']}-batch{c['batch_size']}")
@pytest.mark.parametrize("model", [dict(activation="tanh"), dict(activation="relu", batch_norm=True),
                                   dict(activation="sigmoid", loss="mse")], ids=["tanh", "relu-bn", "mse"])
def test_fit_equals_numpy_forward_backward_and_update(case, model, rng):
    x, y = data(rng)
    if model.get("loss") == "mse":
        y = rng.standard_normal((23, 3))
    mlp = descent.MLP([4, 6, 5, 3], dtype=np.float64, seed=3, **model)
    start = [p.copy() for p in mlp.parameters()]
    optimizer = OPTIMIZERS[case["rule"]](mlp.parameters(), **case["hyper"])
    options = {k: case[k] for k in ("batch_size", "shuffle", "drop_last") if k in case}
    if model.get("batch_norm") and case["batch_size"] == 1:
        # Training batch norm needs two samples: the first step fails and changes nothing.
        with pytest.raises(descent.InvalidArgumentError):
            descent.fit(mlp, optimizer, x, y, epochs=3, seed=7, progress=False, **options)
        for got, want in zip(mlp.parameters(), start):
            np.testing.assert_array_equal(got, want)
        assert optimizer.step_count == 0
        return
    history = descent.fit(mlp, optimizer, x, y, epochs=3, seed=7, progress=False, **options)
    reference = {"activation_kind": model["activation"], "batch_norm": model.get("batch_norm", False),
                 "loss": model.get("loss", "softmax_cross_entropy")}
    losses, correct, params = reference_fit(start, x, y, epochs=3, seed=7, rule=case["rule"], hyper=case["hyper"],
                                            **options, **reference)
    np.testing.assert_allclose(history.step_losses, losses, rtol=1e-11, atol=1e-12)
    for got, want in zip(mlp.parameters(), params):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    steps = len(losses) // 3
    assert history.epoch == [0, 1, 2] and mlp.epochs_trained == 3 and optimizer.step_count == len(losses)
    sizes = np.array([len(i) for e in range(3) for i in batches(23, options.get("batch_size") or 23, 7, e,
                                                               options.get("shuffle", True),
                                                               options.get("drop_last", False))])
    for epoch in range(3):
        part = slice(epoch * steps, (epoch + 1) * steps)
        if "accuracy" in history.history:   # float targets: test_epoch_loss_of_float_targets_is_batch_weighted
            weighted = np.sum(losses[part] * sizes[part]) / np.sum(sizes[part])   # batch-size weighted
            np.testing.assert_allclose(history.history["loss"][epoch], weighted, rtol=1e-11, atol=1e-12)
            assert history.history["accuracy"][epoch] == np.sum(correct[part]) / np.sum(sizes[part])


def test_epoch_loss_of_float_targets_is_batch_weighted(rng):
    # "Training loss and accuracy are running averages over the epoch's steps (batch-size
    # weighted)": batches of 10, 10 and 3 rows weigh 10, 10 and 3, as for labels.
    x, y = rng.standard_normal((23, 4)), rng.standard_normal((23, 3))
    mlp = descent.MLP([4, 3], loss="mse", dtype=np.float64)
    history = descent.fit(mlp, descent.optim.SGD(mlp.parameters(), lr=0.0), x, y, epochs=1, batch_size=10,
                          shuffle=False, progress=False)
    weighted = np.sum(history.step_losses * [10, 10, 3]) / 23
    np.testing.assert_allclose(weighted, descent.evaluate(mlp, x, y)["loss"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(history.history["loss"][0], weighted, rtol=1e-12, atol=1e-12)


def test_fit_float32_sgd_equals_numpy(rng):
    x, y = data(rng)
    x = x.astype(np.float32)
    mlp = descent.MLP([4, 6, 3], activation="tanh", dtype=np.float32, seed=3)
    start = [p.copy() for p in mlp.parameters()]
    optimizer = descent.optim.SGD(mlp.parameters(), lr=0.1)
    history = descent.fit(mlp, optimizer, x, y, epochs=2, batch_size=8, progress=False)
    losses, _, params = reference_fit(start, f64(x), y, epochs=2, batch_size=8, rule="sgd", hyper=dict(lr=0.1),
                                      activation_kind="tanh")
    np.testing.assert_allclose(history.step_losses, losses, rtol=1e-6, atol=1e-6)
    for got, want in zip(mlp.parameters(), params):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_fit_with_dropout_follows_the_per_step_masks(rng):
    # Layer l's mask at training step s: SplitMix64(SplitMix64(seed + l).output(s)), p = 0.3.
    x, y = data(rng, n=10)
    p, lr = 0.3, 0.1
    mlp = descent.MLP([4, 6, 5, 3], dropout=p, dtype=np.float64, seed=4)
    params = [p_.copy() for p_ in mlp.parameters()]
    descent.fit(mlp, descent.optim.SGD(mlp.parameters(), lr=lr), x, y, epochs=2, batch_size=4, seed=2,
                progress=False)
    step = 0
    for epoch in range(2):
        for index in batches(10, 4, 2, epoch):
            W0, b0, W1, b1, W2, b2 = params
            n = len(index)
            z0 = x[index] @ W0.T + b0
            m0 = dropout_mask(4, step, n * 6, p).reshape(n, 6)
            d0 = np.maximum(z0, 0) * m0
            z1 = d0 @ W1.T + b1
            m1 = dropout_mask(5, step, n * 5, p).reshape(n, 5)
            d1 = np.maximum(z1, 0) * m1
            z2 = d1 @ W2.T + b2
            e = np.exp(z2 - z2.max(axis=1, keepdims=True))
            dz2 = e / e.sum(axis=1, keepdims=True)
            dz2[np.arange(n), y[index]] -= 1
            dz2 /= n
            dz1 = (dz2 @ W2) * m1 * (z1 > 0)
            dz0 = (dz1 @ W1) * m0 * (z0 > 0)
            grads = [dz0.T @ x[index], dz0.sum(0), dz1.T @ d0, dz1.sum(0), dz2.T @ d1, dz2.sum(0)]
            params = [q - lr * gq for q, gq in zip(params, grads)]
            step += 1
    for got, want in zip(mlp.parameters(), params):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_trainer_step_and_step_batch_equal_numpy(rng):
    x, y = data(rng, n=12)
    mlp = descent.MLP([4, 5, 3], activation="tanh", dtype=np.float64, seed=1)
    optimizer = descent.optim.Adam(mlp.parameters(), lr=0.05)
    refs = [Reference("adam", p, lr=0.05) for p in mlp.parameters()]
    trainer = descent.Trainer(mlp, optimizer)
    loss = trainer.step({mlp.input: x, mlp.target: y})                  # one step on bound inputs
    want, grads = mlp_forward_backward(x, [r.param for r in refs], y, activation_kind="tanh")
    for r, grad in zip(refs, grads):
        r.step(grad)
    np.testing.assert_allclose(loss, want, rtol=1e-12, atol=1e-12)
    with descent.DataLoader(x, y, batch_size=5, seed=3) as loader:
        loader.set_epoch(2)
        for b in range(len(loader)):
            index = loader.batch_indices(b)
            loss, correct = trainer.step_batch(loader, b)
            want, grads, logits = mlp_forward_backward(x[index], [r.param for r in refs], y[index],
                                                       activation_kind="tanh", return_output=True)
            for r, grad in zip(refs, grads):
                r.step(grad)
            np.testing.assert_allclose(loss, want, rtol=1e-12, atol=1e-12)
            assert correct == np.sum(np.argmax(logits, axis=1) == y[index])
    trainer.close()
    for got, r in zip(mlp.parameters(), refs):
        np.testing.assert_allclose(got, r.param, rtol=1e-11, atol=1e-12)
    assert optimizer.step_count == 4


def test_fit_continues_epochs_across_calls(rng):
    x, y = data(rng)

    def run(splits):
        mlp = descent.MLP([4, 6, 3], dtype=np.float64, seed=9)
        optimizer = descent.optim.Adam(mlp.parameters(), lr=1e-2)
        losses = [descent.fit(mlp, optimizer, x, y, epochs=e, batch_size=5, seed=1, progress=False).step_losses
                  for e in splits]
        return np.concatenate(losses), mlp.parameters(), mlp.epochs_trained
    once, params_once, epochs_once = run([3])
    split, params_split, epochs_split = run([1, 2])
    assert epochs_once == epochs_split == 3
    np.testing.assert_array_equal(once, split)
    for a, b in zip(params_once, params_split):
        np.testing.assert_array_equal(a, b)


# ---- determinism ------------------------------------------------------------------------------

def test_same_seed_gives_bit_identical_step_losses(rng):
    x, y = data(rng, n=40)

    def run(seed):
        mlp = descent.MLP([4, 8, 3], batch_norm=True, dropout=0.2, dtype=np.float32, seed=5)
        optimizer = descent.optim.Adam(mlp.parameters(), lr=1e-2)
        return descent.fit(mlp, optimizer, x, y, epochs=3, batch_size=8, seed=seed, progress=False).step_losses
    first, second, other = run(2), run(2), run(3)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


THREADS_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {package!r})
    import numpy as np
    import descent
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 64)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    model = descent.MLP([64, 512, 384, 10], batch_norm=True, dropout=0.1, dtype=np.float32, seed=1)
    optimizer = descent.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    history = descent.fit(model, optimizer, x, y, epochs=2, batch_size=64, seed=3, progress=False)
    np.savez(sys.argv[1], losses=history.step_losses, *model.parameters())
""")


def test_fit_is_bit_identical_for_1_and_2_threads(tmp_path):
    results = []
    for threads in ("1", "2"):
        out = tmp_path / f"threads{threads}.npz"
        env = dict(os.environ, DESCENT_NUM_THREADS=threads)
        done = subprocess.run([python_executable(), "-c", THREADS_SCRIPT.format(package=PACKAGE_PARENT), str(out)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        results.append(np.load(out))
    assert results[0].files == results[1].files and len(results[0].files) > 5
    for key in results[0].files:
        np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)


@pytest.mark.parametrize("recorded", [True, False], ids=["initial_lr recorded", "no initial_lr yet"])
def test_a_refused_trainer_with_a_schedule_leaves_the_optimizer_rates_as_they_were(recorded):
    # The constructor sets each group's lr to its initial_lr (what the schedule rebases on) before
    # the library can refuse the optimizer (here: its param is not one of the graph's); the
    # refusal must put lr, initial_lr and the rate C steps with back.
    model = descent.MLP([4, 3, 2])
    opt = descent.optim.SGD([np.zeros(5)], lr=0.1)
    if recorded:
        opt.param_groups[0]["initial_lr"] = 0.1
    opt.param_groups[0]["lr"] = 0.05
    before = {key: value for key, value in opt.param_groups[0].items() if key != "params"}
    with pytest.raises(descent.InvalidArgumentError, match="not a param of the graph"):
        descent.Trainer(model, opt, schedule=descent.schedules.cosine_annealing(t_max=10))
    assert {key: value for key, value in opt.param_groups[0].items() if key != "params"} == before
    opt.grads[0][...] = 1.0
    opt.step()
    assert opt.param_groups[0]["params"][0][0] == -0.05  # the step used lr 0.05: W - lr g
    opt.close()
