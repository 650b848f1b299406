"""A user script type-checked by `mypy --strict` in `make test` (scripts/check-typing.sh): it uses
the public API the way a user would and must pass with no error and no `Any` leaking into what it
declares. It also runs (python3 python/tests/typing_sample.py) and checks its own results."""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

import descent
from descent import clip, functional, optim, schedules

FloatArray = npt.NDArray[np.floating]


def quadratic_by_gradient_descent() -> float:
    w: FloatArray = np.array([10.0])
    for _ in range(50):
        descent.gd_step(w, 0.2 * (w - 5.0), learning_rate=1.0)   # NumPy arrays in, updated in place
    t: descent.Tensor = descent.tensor([10.0])
    descent.gd_step(t, np.array([1.0]), 0.5)
    first: float = float(t.numpy()[0])
    assert first == 9.5
    return float(w[0])


def layers_and_losses(rng: np.random.Generator) -> float:
    x = rng.standard_normal((8, 3))
    weights = descent.init_weights((4, 3), "he_normal", seed=1)
    z, hidden = descent.dense_forward(x, weights, np.zeros(4), activation="relu")
    probabilities: FloatArray = descent.softmax(hidden)
    loss, grad = descent.softmax_cross_entropy(z, rng.integers(0, 4, 8))
    value_only: float = descent.mse_loss(probabilities, np.zeros_like(probabilities), with_grad=False)
    dw, db, dx = descent.dense_backward(x, weights, z, grad, activation="relu")
    assert dw.shape == (4, 3) and db.shape == (4,) and dx.shape == (8, 3)
    check: descent.GradientCheckResult = descent.gradient_check(
        lambda point: float(np.sum(point ** 2)), np.array([1.0, -2.0]), np.array([2.0, -4.0]))
    assert check.max_error < 1e-7
    as_tensor: descent.Tensor = descent.sigmoid(descent.tensor([0.0]))
    assert as_tensor.numpy()[0] == 0.5
    return loss + value_only


def optimizers_and_schedules() -> list[float]:
    w, b = np.zeros(3), np.zeros(1)
    opt = optim.Adam([w, b], lr=1e-2)
    sched = schedules.LRScheduler(opt, schedules.cosine_annealing(t_max=10))   # follows lr 1e-2
    rates: list[float] = []
    for _ in range(10):
        grads = [w - 1.0, b + 1.0]
        total: float = clip.clip_grad_norm(grads, max_norm=1.0)
        assert total > 0
        stepped: bool = opt.step(grads)
        assert stepped
        rates.extend(sched.step())
    exp_avg, exp_avg_sq = np.zeros(3), np.zeros(3)
    functional.adam(w, np.ones(3), exp_avg, exp_avg_sq, step=1, lr=1e-3)
    state = opt.state_dict()
    opt.load_state_dict(state)
    opt.close()
    return rates


def training(rng: np.random.Generator) -> float:
    x = rng.standard_normal((64, 4))
    y = (x[:, 0] > 0).astype(np.int64)
    model = descent.MLP([4, 8, 2], activation="relu", seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history: descent.History = descent.fit(model, optimizer, x, y, epochs=5, batch_size=16, progress=False,
                                           schedule=schedules.exponential(gamma=0.9))
    losses: list[float] = history.history["loss"]
    metrics: dict[str, float] = model.evaluate(x, y)
    predictions: FloatArray = model.predict(x)
    assert predictions.shape == (64, 2) and len(losses) == 5
    return metrics["accuracy"]


def graph_by_hand() -> float:
    g = descent.Graph()
    a = g.param(np.array([5.0]))
    b = g.param(np.array([3.0]))
    c = g.param(np.array([2.0]))
    j = descent.graph.sum(3.0 * (a + b * c))
    value: float = g.backward(j)
    gradient: FloatArray = g.grad(a)
    assert gradient[0] == 3.0
    return value


if __name__ == "__main__":
    generator = np.random.default_rng(0)
    assert abs(quadratic_by_gradient_descent() - 5.0) < 1e-3
    print("loss", layers_and_losses(generator))
    print("rates", optimizers_and_schedules()[:3])
    print("accuracy", training(generator))
    assert graph_by_hand() == 33.0
    print("typing_sample: ran")
