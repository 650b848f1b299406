"""History, evaluation and prediction against NumPy, random restarts and the learning-rate range
test."""
import json
import math

import numpy as np
import pytest

import descent
from conftest import skip_or_fail
from graph_reference import activation, batches, cost, mlp_forward_backward, sigmoid, sm_output


def trained_classifier(rng, batch_norm=True):
    x, y = rng.standard_normal((30, 4)), rng.integers(0, 3, 30)
    model = descent.MLP([4, 6, 3], activation="tanh", batch_norm=batch_norm, dtype=np.float64, seed=2)
    optimizer = descent.optim.Adam(model.parameters(), lr=0.05)
    history = descent.fit(model, optimizer, x, y, epochs=3, batch_size=8, validation_data=(x[:10], y[:10]),
                          progress=False)
    return model, optimizer, x, y, history


# ---- History ----------------------------------------------------------------------------------

def test_history_to_dict_and_as_arrays(rng):
    model, _, _, _, history = trained_classifier(rng)
    plain = history.to_dict()
    assert json.loads(json.dumps(plain)) == plain                          # plain Python data
    assert plain["epoch"] == [0, 1, 2] and set(plain["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(plain["step_losses"]) == 12 and plain["step_losses"] == history.step_losses.tolist()
    assert plain["best_epoch"] == history.best_epoch == int(np.argmin(history.history["val_loss"]))
    assert plain["stopped_early"] is False
    arrays = history.as_arrays()
    assert arrays["epoch"].dtype == np.int64 and arrays["epoch"].tolist() == [0, 1, 2]
    for key, values in history.history.items():
        assert arrays[key].dtype == np.float64
        np.testing.assert_array_equal(arrays[key], values)
    assert "History(3 epochs" in repr(history)


def require_matplotlib():
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        skip_or_fail("History.plot needs matplotlib (scripts/ensure-deps.sh --demo installs it)")


def test_history_plot(tmp_path, rng):
    require_matplotlib()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    _, _, _, _, history = trained_classifier(rng)
    path = tmp_path / "history.png"
    figure = history.plot(path, title="training")
    try:
        assert len(figure.axes) == 2                                       # loss and accuracy
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        plt.close(figure)


# ---- evaluate and predict ---------------------------------------------------------------------

def eval_forward(model, x):
    """Evaluation-mode logits of a batch-norm MLP [in, hidden, out] in NumPy (running statistics)."""
    W0, gamma, beta, W1, b1 = model.parameters()
    mean, var = model.graph.running_stats(model.batch_norms[0])
    z = x @ W0.T
    h = activation(gamma * (z - mean) / np.sqrt(var + 1e-5) + beta, "tanh")
    return h @ W1.T + b1


@pytest.mark.parametrize("batch_size", [7, 30, 256])
def test_evaluate_and_predict_equal_numpy_in_evaluation_mode(batch_size, rng):
    model, _, x, y, _ = trained_classifier(rng)
    before = model.state_dict()
    logits = eval_forward(model, x)
    result = descent.evaluate(model, x, y, batch_size=batch_size)
    assert set(result) == {"loss", "accuracy"}
    np.testing.assert_allclose(result["loss"], cost("softmax_cross_entropy", logits, y)[0], rtol=1e-12, atol=1e-12)
    assert result["accuracy"] == np.mean(np.argmax(logits, axis=1) == y)
    assert model.evaluate(x, y, batch_size=batch_size) == result
    np.testing.assert_allclose(model.predict(x, batch_size=batch_size), activation(logits, "softmax"),
                               rtol=1e-12, atol=1e-12)
    assert model.graph.training                                            # back in training mode
    after = model.state_dict()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)   # nothing updated


def test_evaluate_and_predict_for_float_targets(rng):
    x, y = rng.standard_normal((11, 3)), rng.uniform(0, 1, (11, 2))
    model = descent.MLP([3, 5, 2], activation="relu", loss="bce_with_logits", dtype=np.float64, seed=4)
    descent.fit(model, descent.optim.SGD(model.parameters(), lr=0.1), x, y, epochs=2, batch_size=4, progress=False)
    W0, b0, W1, b1 = model.parameters()
    logits = np.maximum(x @ W0.T + b0, 0) @ W1.T + b1
    result = descent.evaluate(model, x, y, batch_size=4)
    assert set(result) == {"loss"}
    np.testing.assert_allclose(result["loss"], cost("bce_logits", logits, y)[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.predict(x), sigmoid(logits), rtol=1e-12, atol=1e-12)
    assert model.predict(x[:0]).shape == (0, 2)


# ---- random restarts --------------------------------------------------------------------------

def restart_data(rng):
    x = rng.standard_normal((40, 3))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    x_val = rng.standard_normal((20, 3))
    return x, y, (x_val, (x_val[:, 0] + 0.5 * x_val[:, 1] > 0).astype(np.int64))


def test_random_restarts_keep_the_best_run(rng):
    x, y, validation = restart_data(rng)
    model = descent.MLP([3, 8, 2], dtype=np.float64, seed=1)
    optimizer = descent.optim.SGD(model.parameters(), lr=0.5, momentum=0.5)
    result = descent.random_restarts(model, optimizer, x, y, restarts=4, seed=5, epochs=3, batch_size=8,
                                     data_seed=2, validation_data=validation)
    assert len(result.runs) == 4
    assert [run.seed for run in result.runs] == [sm_output(5, k) for k in range(4)]
    best_losses = [run.best_loss for run in result.runs]
    assert len(set(best_losses)) == 4
    assert result.best == int(np.argmin(best_losses)) and result.best_run is result.runs[result.best]
    assert all(run.epochs == 3 for run in result.runs)
    evaluated = descent.evaluate(model, *validation)                       # the model holds the best run
    np.testing.assert_allclose(evaluated["loss"], result.best_run.best_loss, rtol=1e-12, atol=1e-12)
    assert evaluated["accuracy"] == result.best_run.val_accuracy

    # The best run on its own: init from its seed, fresh optimizer, same shuffles, best epoch restored.
    alone = descent.MLP([3, 8, 2], dtype=np.float64, seed=1)
    alone.graph.init_params(result.best_run.seed)
    history = descent.fit(alone, descent.optim.SGD(alone.parameters(), lr=0.5, momentum=0.5), x, y, epochs=3,
                          batch_size=8, seed=2, validation_data=validation, restore_best_weights=True,
                          progress=False)
    assert history.history["loss"][-1] == result.best_run.final_loss
    assert min(history.history["val_loss"]) == result.best_run.best_loss
    for got, want in zip(model.parameters(), alone.parameters()):
        np.testing.assert_array_equal(got, want)


def test_random_restarts_without_validation_monitor_the_training_loss(rng):
    x, y, _ = restart_data(rng)
    model = descent.MLP([3, 4, 2], dtype=np.float64, seed=1)
    result = descent.random_restarts(model, descent.optim.Adam(model.parameters(), lr=0.05), x, y, restarts=3,
                                     seed=9, epochs=2, batch_size=10)
    assert result.best == int(np.argmin([run.best_loss for run in result.runs]))
    assert all(math.isnan(run.val_accuracy) for run in result.runs)
    assert all(run.best_loss <= run.final_loss for run in result.runs)


# ---- learning-rate range test -----------------------------------------------------------------

def test_lr_range_test_rates_losses_and_restored_state(rng):
    x, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = descent.MLP([3, 8, 2], activation="tanh", batch_norm=True, dtype=np.float64, seed=1)
    optimizer = descent.optim.Adam(model.parameters(), lr=1e-3)
    descent.fit(model, optimizer, x, y, epochs=1, batch_size=8, progress=False)     # non-trivial state
    params, state = model.state_dict(), optimizer.state_dict()
    steps, start, end = 12, 1e-4, 1.0
    result = descent.lr_range_test(model, optimizer, x, y, start=start, end=end, steps=steps, batch_size=8,
                                   smoothing=0.9, seed=3)
    assert not result.diverged and len(result.lrs) == steps
    np.testing.assert_allclose(result.lrs, start * (end / start) ** (np.arange(steps) / (steps - 1)),
                               rtol=1e-14, atol=0)
    assert result.suggested in result.lrs
    # Losses: the first is the loss before any range-test step (epoch 1's first batch, as fit would).
    first = batches(40, 8, 3, 1)[0]
    np.testing.assert_allclose(result.losses[0], mlp_forward_backward(
        x[first], list(params.values())[:5], y[first], activation_kind="tanh", batch_norm=True)[0],
        rtol=1e-12, atol=1e-12)
    average, smoothed = 0.0, []
    for i, loss in enumerate(result.losses):                                # debiased EMA
        average = 0.9 * average + 0.1 * loss
        smoothed.append(average / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(result.smoothed, smoothed, rtol=1e-12, atol=1e-12)
    after, state_after = model.state_dict(), optimizer.state_dict()
    for key in params:
        np.testing.assert_array_equal(after[key], params[key], err_msg=key)
    assert state_after["param_groups"] == state["param_groups"] and optimizer.step_count == 5
    for index, entry in state["state"].items():
        for name, value in entry.items():
            np.testing.assert_array_equal(state_after["state"][index][name], value, err_msg=f"{index}.{name}")


def test_lr_range_test_stops_when_the_loss_diverges(rng):
    x, y = rng.standard_normal((40, 3)), rng.integers(0, 2, 40)
    model = descent.MLP([3, 8, 2], dtype=np.float64, seed=1)
    optimizer = descent.optim.SGD(model.parameters(), lr=0.1)
    result = descent.lr_range_test(model, optimizer, x, y, start=1e-3, end=1e4, steps=60, batch_size=8,
                                   smoothing=0.5, divergence=2.0)
    assert result.diverged and 3 <= len(result.lrs) < 60
    last = result.smoothed[-1]
    assert not math.isfinite(last) or last > 2.0 * np.min(result.smoothed[:-1])


@pytest.mark.parametrize("interlude", ["lr_range_test", "evaluate", "predict", "nothing"])
def test_training_after_an_experiment_is_as_if_it_never_ran(interlude, rng):
    # Everything a later fit depends on (params, batch-norm statistics, optimizer state and step
    # count, the epoch counter that numbers shuffles, dropout's step counter) is left as it was.
    x, y = rng.standard_normal((24, 3)), rng.integers(0, 2, 24)

    def run(with_interlude):
        model = descent.MLP([3, 8, 2], batch_norm=True, dropout=0.3, dtype=np.float64, seed=1)
        optimizer = descent.optim.Adam(model.parameters(), lr=1e-2)
        first = descent.fit(model, optimizer, x, y, epochs=1, batch_size=8, progress=False).step_losses
        if with_interlude and interlude == "lr_range_test":
            descent.lr_range_test(model, optimizer, x, y, start=1e-3, end=1.0, steps=7, batch_size=8)
        elif with_interlude and interlude == "evaluate":
            descent.evaluate(model, x, y, batch_size=5)
        elif with_interlude and interlude == "predict":
            model.predict(x, batch_size=5)
        second = descent.fit(model, optimizer, x, y, epochs=2, batch_size=8, progress=False).step_losses
        return np.concatenate([first, second]), model.state_dict()
    plain_losses, plain_state = run(False)
    losses, state = run(True)
    np.testing.assert_array_equal(losses, plain_losses)
    for key in plain_state:
        np.testing.assert_array_equal(state[key], plain_state[key], err_msg=key)


def test_an_optimizer_over_some_params_leaves_the_others(rng):
    x, y = rng.standard_normal((12, 3)), rng.integers(0, 2, 12)
    model = descent.MLP([3, 4, 2], activation="tanh", dtype=np.float64, seed=5)
    W0, b0, W1, b1 = model.parameters()
    start = [p.copy() for p in model.parameters()]
    descent.fit(model, descent.optim.SGD([W1, b1], lr=0.3), x, y, epochs=1, batch_size=None, progress=False)
    np.testing.assert_array_equal(W0, start[0])
    np.testing.assert_array_equal(b0, start[1])
    _, grads = mlp_forward_backward(x, start, y, activation_kind="tanh")
    np.testing.assert_allclose(W1, start[2] - 0.3 * grads[2], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(b1, start[3] - 0.3 * grads[3], rtol=1e-12, atol=1e-14)
