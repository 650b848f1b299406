"""What steers fit: learning-rate schedules (read back from SGD update sizes), gradient clipping,
the non-finite policy, early stopping with restored weights, and callbacks."""
import math

import numpy as np
import pytest

import descent
from descent import graph as G, schedules as S
from graph_reference import mlp_forward_backward


def constant_gradient_model(samples=12):
    """loss = w · c with c = 1: the gradient is always 1, so SGD's update of w IS the learning
    rate of that step. Returns (model, x, w)."""
    g = G.Graph()
    x = g.input((None, 1))
    w = np.zeros(1)
    loss = G.sum(g.param(w) * 1.0) + 0.0 * G.mean(x)
    return descent.Model(g, x, loss), np.zeros((samples, 1)), w


def rates_seen(model, optimizer, x, w, **fit_options):
    """The learning rate of every step of fit, from the updates of w (lr_t = w_t - w_{t+1})."""
    values = [w[0]]
    callback = type("Recorder", (), {"on_step_end": lambda self, step, logs: values.append(w[0])})()
    history = descent.fit(model, optimizer, x, callbacks=[callback], progress=False, **fit_options)
    return -np.diff(values), history


# ---- schedules --------------------------------------------------------------------------------

def cosine(t, lr0=0.1, t_max=7, eta_min=0.01):
    return eta_min + (lr0 - eta_min) * (1 + math.cos(math.pi * t / t_max)) / 2


def test_schedule_per_step_follows_its_closed_form_across_fit_calls():
    model, x, w = constant_gradient_model()
    optimizer = descent.optim.SGD(model.parameters(), lr=0.1)        # the schedule's lr0
    schedule = S.cosine_annealing(0.1, t_max=7, eta_min=0.01)
    first, _ = rates_seen(model, optimizer, x, w, epochs=2, batch_size=4, schedule=schedule)
    second, _ = rates_seen(model, optimizer, x, w, epochs=1, batch_size=4, schedule=schedule)
    want = [cosine(t) for t in range(9)]                              # t = completed optimizer steps
    np.testing.assert_allclose(np.concatenate([first, second]), want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(optimizer.param_groups[0]["lr"], cosine(8), rtol=1e-12, atol=0)


def test_schedule_per_epoch_uses_completed_epochs():
    model, x, w = constant_gradient_model()
    optimizer = descent.optim.SGD(model.parameters(), lr=0.2)
    schedule = S.step_decay(0.2, step_size=2, gamma=0.5)
    rates, _ = rates_seen(model, optimizer, x, w, epochs=5, batch_size=4, schedule=schedule, schedule_unit="epoch")
    want = np.repeat([0.2 * 0.5 ** (e // 2) for e in range(5)], 3)
    np.testing.assert_allclose(rates, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("interval", ["step", "epoch"])
def test_lr_scheduler_object_as_schedule(interval):
    model, x, w = constant_gradient_model()
    optimizer = descent.optim.SGD(model.parameters(), lr=0.1)
    scheduler = descent.LRScheduler(optimizer, S.exponential(0.1, 0.8), interval=interval)
    rates, _ = rates_seen(model, optimizer, x, w, epochs=3, batch_size=4, schedule=scheduler)
    t = np.arange(9) if interval == "step" else np.repeat(np.arange(3), 3)
    np.testing.assert_allclose(rates, 0.1 * 0.8 ** t, rtol=1e-12, atol=1e-15)
    assert scheduler.last_step == (9 if interval == "step" else 3)
    np.testing.assert_allclose(optimizer.param_groups[0]["lr"], 0.1 * 0.8 ** scheduler.last_step, rtol=1e-12, atol=0)


def plateau_reference(metrics, lr, factor, patience, threshold=1e-4, mode="max", eps=1e-8, min_lr=0.0):
    """PyTorch ReduceLROnPlateau (threshold_mode "rel"): the rate after each metric."""
    best, bad, rates = (-math.inf if mode == "max" else math.inf), 0, []
    for m in metrics:
        better = m > best * (1 + threshold) if mode == "max" else m < best * (1 - threshold)
        if better:
            best, bad = m, 0
        else:
            bad += 1
        if bad > patience:
            new = max(lr * factor, min_lr)
            if lr - new > eps:
                lr = new
            bad = 0
        rates.append(lr)
    return rates


def test_reduce_lr_on_plateau_object_as_schedule():
    # The loss w·c falls every epoch: in mode "max" every epoch after the first is a bad one.
    model, x, w = constant_gradient_model()
    optimizer = descent.optim.SGD(model.parameters(), lr=0.1)
    plateau = descent.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1, min_lr=0.02)
    rates, history = rates_seen(model, optimizer, x, w, epochs=8, batch_size=4, schedule=plateau)
    after_epoch = plateau_reference(history.history["loss"], 0.1, 0.5, 1, min_lr=0.02)
    want = np.repeat([0.1] + after_epoch[:-1], 3)                     # epoch e runs at the rate set after e-1
    np.testing.assert_allclose(rates, want, rtol=1e-12, atol=1e-15)
    assert after_epoch[-1] == 0.02 and optimizer.param_groups[0]["lr"] == 0.02
    plateau.close()


# ---- clipping ---------------------------------------------------------------------------------

@pytest.mark.parametrize("clip", [0.05, 1e6])
def test_clip_norm_scales_the_update_like_numpy(clip, rng):
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    model = descent.MLP([4, 6, 3], activation="tanh", dtype=np.float64, seed=2)
    start = [p.copy() for p in model.parameters()]
    optimizer = descent.optim.SGD(model.parameters(), lr=0.5)
    descent.fit(model, optimizer, x, y, epochs=1, batch_size=None, clip_norm=clip, progress=False)
    _, grads = mlp_forward_backward(x, start, y, activation_kind="tanh")
    norm = math.sqrt(sum(np.sum(g * g) for g in grads))
    scale = clip / (norm + 1e-6) if norm > clip else 1.0                # PyTorch's clip_grad_norm_
    assert (norm > clip) == (clip < 1)
    for got, p, g in zip(model.parameters(), start, grads):
        np.testing.assert_allclose(got, p - 0.5 * scale * g, rtol=1e-12, atol=1e-14)


def test_clip_norm_covers_only_the_params_the_optimizer_updates(rng):
    # PyTorch clips the params it is given: with an optimizer over the first layer only, the
    # frozen-by-omission second layer's gradient does not count in the norm.
    x, y = rng.standard_normal((16, 4)), rng.integers(0, 3, 16)
    model = descent.MLP([4, 6, 3], activation="tanh", dtype=np.float64, seed=2)
    start = [p.copy() for p in model.parameters()]
    optimizer = descent.optim.SGD(model.parameters()[:2], lr=0.5)
    descent.fit(model, optimizer, x, y, epochs=1, batch_size=None, clip_norm=0.05, progress=False)
    _, grads = mlp_forward_backward(x, start, y, activation_kind="tanh")
    held = math.sqrt(sum(np.sum(g * g) for g in grads[:2]))
    everything = math.sqrt(sum(np.sum(g * g) for g in grads))
    assert held > 0.05 and everything > held * 1.01
    scale = 0.05 / (held + 1e-6)
    for got, p, g in zip(model.parameters()[:2], start[:2], grads[:2]):
        np.testing.assert_allclose(got, p - 0.5 * scale * g, rtol=1e-12, atol=1e-14)
    for got, p in zip(model.parameters()[2:], start[2:]):
        np.testing.assert_array_equal(got, p)


# ---- non-finite gradients ---------------------------------------------------------------------

def nan_setup(rng):
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    model = descent.MLP([3, 5, 2], activation="tanh", batch_norm=True, dtype=np.float64, seed=6)
    optimizer = descent.optim.Adam(model.parameters(), lr=0.05)
    descent.fit(model, optimizer, x, y, epochs=2, batch_size=4, progress=False)    # some state first
    bad = x.copy()
    bad[2, 1] = np.nan
    return model, optimizer, x, y, bad


def full_state(model, optimizer):
    state = {k: v.copy() for k, v in model.state_dict().items()}
    for index, entry in optimizer.state_dict()["state"].items():
        for name, value in entry.items():
            state[f"opt{index}.{name}"] = np.copy(value)
    state["step_count"] = optimizer.step_count
    return state


def assert_same_state(before, after):
    assert before.keys() == after.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key], err_msg=key)


def test_nonfinite_gradient_raises_and_changes_nothing(rng):
    model, optimizer, x, y, bad = nan_setup(rng)
    before = full_state(model, optimizer)
    with pytest.raises(descent.NonFiniteError) as info:
        descent.fit(model, optimizer, bad, y, epochs=1, batch_size=8, progress=False)
    assert type(info.value) is descent.NonFiniteError
    assert_same_state(before, full_state(model, optimizer))
    trainer = descent.Trainer(model, optimizer)
    with pytest.raises(descent.NonFiniteError):
        trainer.step({model.input: bad, model.target: y})
    trainer.close()
    assert_same_state(before, full_state(model, optimizer))


def test_nonfinite_gradient_under_skip_skips_only_that_step(rng):
    model, optimizer, x, y, bad = nan_setup(rng)
    optimizer.nonfinite = "skip"
    before = full_state(model, optimizer)
    history = descent.fit(model, optimizer, bad, y, epochs=1, batch_size=8, progress=False)
    assert history.skipped_steps == [1] and np.isnan(history.step_losses[0])
    assert_same_state(before, full_state(model, optimizer))
    # Batch 0 (rows 0-3, with the NaN) is skipped; batch 1 is an ordinary step.
    twin, twin_optimizer, _, _, _ = nan_setup(np.random.default_rng(20261121))
    history = descent.fit(model, optimizer, bad, y, epochs=1, batch_size=4, shuffle=False, progress=False)
    descent.fit(twin, twin_optimizer, x[4:], y[4:], epochs=1, batch_size=4, shuffle=False, progress=False)
    assert history.skipped_steps == [1]
    assert_same_state(full_state(twin, twin_optimizer), full_state(model, optimizer))


# ---- early stopping ---------------------------------------------------------------------------

def overfitting_setup(rng):
    x, y = rng.standard_normal((40, 3)), None
    y = (x[:, 0] > 0).astype(np.int64)
    x_val, y_val = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)   # unrelated: val loss rises
    model = descent.MLP([3, 16, 2], batch_norm=True, dtype=np.float64, seed=1)
    optimizer = descent.optim.Adam(model.parameters(), lr=0.05)
    return model, optimizer, x, y, (x_val, y_val)


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_with_patience_and_restored_best_weights(restore, rng):
    model, optimizer, x, y, validation = overfitting_setup(rng)
    snapshots = {}

    def snapshot(epoch, logs):
        snapshots[epoch] = model.state_dict()
    history = descent.fit(model, optimizer, x, y, epochs=30, batch_size=8, validation_data=validation, patience=3,
                          restore_best_weights=restore, callbacks=[snapshot], progress=False)
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert history.stopped_early and history.best_epoch == best
    assert len(val) == best + 4                                   # 3 epochs without improvement after the best
    assert all(v >= val[best] for v in val[best + 1:])
    kept = snapshots[history.epoch[best] if restore else history.epoch[-1]]
    now = model.state_dict()
    assert kept.keys() == now.keys()
    for key in kept:
        np.testing.assert_array_equal(now[key], kept[key], err_msg=key)    # params and batch-norm statistics
    np.testing.assert_allclose(descent.evaluate(model, *validation)["loss"], val[best if restore else -1],
                               rtol=1e-12, atol=1e-12)


def test_patience_without_validation_monitors_the_training_loss_with_min_delta(rng):
    x, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    model = descent.MLP([3, 4, 2], dtype=np.float64, seed=2)
    optimizer = descent.optim.SGD(model.parameters(), lr=0.01)
    history = descent.fit(model, optimizer, x, y, epochs=10, batch_size=5, patience=2, min_delta=1e9,
                          progress=False)
    assert len(history.epoch) == 3 and history.stopped_early and history.best_epoch == 0   # nothing improves by 1e9
    history = descent.fit(model, optimizer, x, y, epochs=4, batch_size=5, patience=2, progress=False)
    assert history.epoch == [3, 4, 5, 6] and not history.stopped_early                  # the loss keeps falling


# ---- callbacks --------------------------------------------------------------------------------

class Recorder:
    def __init__(self, stop_step=None, stop_epoch=None, raise_at=None):
        self.steps, self.epochs = [], []
        self.stop_step, self.stop_epoch, self.raise_at = stop_step, stop_epoch, raise_at

    def on_step_end(self, step, logs):
        self.steps.append((step, dict(logs)))
        if self.raise_at == ("step", step):
            raise LookupError("from on_step_end")
        if step == self.stop_step:
            raise descent.StopTraining()
        return True  # return values are ignored (tqdm's update() returns True when it redraws)

    def on_epoch_end(self, epoch, logs):
        self.epochs.append((epoch, dict(logs)))
        if self.raise_at == ("epoch", epoch):
            raise KeyError("from on_epoch_end")
        if epoch == self.stop_epoch:
            raise descent.StopTraining()
        return True


def classification(rng, n=20):
    x, y = rng.standard_normal((n, 3)), rng.integers(0, 2, n)
    model = descent.MLP([3, 4, 2], dtype=np.float64, seed=3)
    return model, descent.optim.SGD(model.parameters(), lr=0.1), x, y


def test_callbacks_are_called_once_per_step_and_epoch(rng):
    model, optimizer, x, y = classification(rng)
    recorder, plain = Recorder(), []
    history = descent.fit(model, optimizer, x, y, epochs=3, batch_size=6, validation_data=(x[:5], y[:5]),
                          callbacks=[recorder, lambda epoch, logs: plain.append(epoch)], progress=False)
    assert [s for s, _ in recorder.steps] == list(range(12))                        # 4 batches x 3 epochs
    positions = [(logs["epoch"], logs["batch"]) for _, logs in recorder.steps]
    assert positions == [(e, b) for e in range(3) for b in range(4)]
    np.testing.assert_array_equal([logs["loss"] for _, logs in recorder.steps], history.step_losses)
    assert [e for e, _ in recorder.epochs] == [0, 1, 2] and plain == [0, 1, 2]
    for epoch, logs in recorder.epochs:
        assert set(logs) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert logs[key] == history.history[key][epoch]


@pytest.mark.parametrize("where", ["step", "epoch"])
def test_a_callback_raising_stop_training_ends_training(where, rng):
    model, optimizer, x, y = classification(rng)
    recorder = Recorder(stop_step=5) if where == "step" else Recorder(stop_epoch=1)
    history = descent.fit(model, optimizer, x, y, epochs=5, batch_size=6, callbacks=[recorder], progress=False)
    steps = 6 if where == "step" else 8                        # after step 5, or after epoch 1's 4 steps
    assert len(history.step_losses) == steps and optimizer.step_count == steps
    assert history.epoch == [0, 1] and len(recorder.epochs) == 2 and not history.stopped_early
    assert history.stop_reason == "callback" and model.epochs_trained == 2


def test_callback_return_values_never_stop_training(rng):
    model, optimizer, x, y = classification(rng)
    history = descent.fit(model, optimizer, x, y, epochs=3, batch_size=6, callbacks=[Recorder()], progress=False)
    assert history.epoch == [0, 1, 2] and history.stop_reason is None and len(history.step_losses) == 12


@pytest.mark.parametrize("where,error", [("step", LookupError), ("epoch", KeyError)])
def test_a_callback_exception_propagates_with_its_type_and_stops_training(where, error, rng):
    model, optimizer, x, y = classification(rng)
    recorder = Recorder(raise_at=(where, 5 if where == "step" else 1))
    with pytest.raises(error) as info:
        descent.fit(model, optimizer, x, y, epochs=5, batch_size=6, callbacks=[recorder], progress=False)
    assert type(info.value) is error and "from on_" in str(info.value)
    steps = 6 if where == "step" else 8
    assert len(recorder.steps) == steps and optimizer.step_count == steps
    after = [p.copy() for p in model.parameters()]
    descent.fit(model, optimizer, x, y, epochs=1, batch_size=6, progress=False)     # still usable
    assert any(not np.array_equal(a, p) for a, p in zip(after, model.parameters()))


def test_callbacks_must_be_callable_or_have_hooks(rng):
    model, optimizer, x, y = classification(rng)
    before = [p.copy() for p in model.parameters()]
    with pytest.raises(TypeError):
        descent.fit(model, optimizer, x, y, epochs=1, callbacks=[42], progress=False)
    for got, want in zip(model.parameters(), before):
        np.testing.assert_array_equal(got, want)
