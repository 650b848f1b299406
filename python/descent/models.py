"""Models: a graph with named input, target, output and loss nodes, and the common case, a
multilayer perceptron (:class:`MLP`) of any depth.

A model's parameters are NumPy arrays the graph reads in place; build an optimizer over
``model.parameters()`` and train with :func:`descent.fit`. :meth:`Model.predict` and
:meth:`Model.evaluate` run in evaluation mode (batch norm on running statistics, no dropout).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, SupportsFloat, SupportsInt

import numpy as np
import numpy.typing as npt

from . import errors
from . import graph as G
from .tensor import DTypeLike, FloatArray

__all__ = ["Model", "MLP"]

_LABEL_LOSSES = {"softmax_cross_entropy", "multiclass_hinge"}
_TARGET_LOSSES = {"mse", "sse", "quadratic", "bce_with_logits"}


class Model:
    """A trainable graph: ``graph``, its ``input`` node (batch, features...), ``target`` (a labels
    node or a float input; None if the loss needs none), ``loss`` (a scalar node), ``output`` (what
    :meth:`predict` returns) and ``classifier`` (True when ``output`` holds per-class scores whose
    argmax is compared with labels for accuracy)."""

    def __init__(self, graph: G.Graph, input: G.Node, loss: G.Node, target: Optional[G.Node] = None,
                 output: Optional[G.Node] = None, classifier: bool = False) -> None:
        self.graph, self.input, self.loss, self.target = graph, input, loss, target
        self.output: G.Node = output if output is not None else loss
        self.prediction: G.Node = self.output
        self.classifier = bool(classifier)
        self.epochs_trained = 0

    def parameters(self) -> list[FloatArray]:
        """The param arrays in creation order (pass them to an optimizer)."""
        return self.graph.parameters()

    def predict(self, x: npt.ArrayLike, batch_size: int = 1024) -> FloatArray:
        """The prediction node's value for every row of `x`, in evaluation mode (class
        probabilities for a softmax classifier), computed batch_size rows at a time (default 1024)."""
        rows: npt.NDArray[Any] = np.asarray(x)
        if rows.ndim < 1:
            raise errors.ShapeError("x needs a sample axis")
        rows = np.ascontiguousarray(rows, dtype=self.graph.dtype)
        was_training = self.graph.training
        self.graph.training = False
        try:
            parts = [self.graph.forward(self.prediction, feed={self.input: rows[start:start + batch_size]})
                     for start in range(0, rows.shape[0], batch_size)]
        finally:
            self.graph.training = was_training
        if not parts:
            shape = tuple(0 if d is None else d for d in self.graph.shape(self.prediction))
            empty: FloatArray = np.zeros(shape, dtype=self.graph.dtype)
            return empty
        joined: FloatArray = np.concatenate(parts)
        return joined

    def evaluate(self, x: npt.ArrayLike, y: Optional[npt.ArrayLike], batch_size: int = 256) -> dict[str, float]:
        """{"loss": ..., "accuracy": ...} on (x, y) in evaluation mode, batch_size rows at a time
        (default 256; see :func:`descent.evaluate`)."""
        from .training import evaluate
        return evaluate(self, x, y, batch_size)

    def state_dict(self) -> dict[str, FloatArray]:
        """Copies of every parameter (and batch-norm running statistics), for :meth:`load_state_dict`."""
        state = {f"param{i}": p.copy() for i, p in enumerate(self.parameters())}
        for i, node in enumerate(getattr(self, "batch_norms", [])):
            state[f"bn{i}.running_mean"], state[f"bn{i}.running_var"] = self.graph.running_stats(node)
        return state

    def load_state_dict(self, state: Mapping[str, npt.ArrayLike]) -> None:
        """Restores what :meth:`state_dict` returned (parameters are written in place)."""
        params = self.parameters()
        for i, p in enumerate(params):
            value: npt.NDArray[Any] = np.asarray(state[f"param{i}"])
            if value.shape != p.shape:
                raise errors.ShapeError(f"param{i} has shape {value.shape}, the model's is {p.shape}")
        for i, p in enumerate(params):
            p[...] = state[f"param{i}"]
        for i, node in enumerate(getattr(self, "batch_norms", [])):
            self.graph.set_running_stats(node, state[f"bn{i}.running_mean"], state[f"bn{i}.running_var"])


class MLP(Model):
    """A multilayer perceptron: ``sizes = [inputs, hidden..., outputs]``.

    Each hidden layer is dense → (batch norm) → activation → (dropout); the last layer is dense
    with no activation, feeding the cost. Options (defaults in brackets):

    - ``activation`` ["relu"]: relu, leaky_relu, tanh, sigmoid (and ``negative_slope`` [0.01]);
    - ``init`` [He normal for relu/leaky_relu, Xavier normal otherwise]: any scheme of
      :func:`descent.init_weights` for the weights; biases start at 0, batch-norm gamma at 1;
    - ``batch_norm`` [False], ``dropout`` [0.0] (drop probability of hidden layers);
    - ``loss`` ["softmax_cross_entropy"]: also "multiclass_hinge" (labels), "mse", "sse",
      "quadratic", "bce_with_logits" (float targets of shape (batch, outputs));
    - ``l2`` [0.0]: adds λ/2 Σ‖W‖² over the weight matrices to the loss;
    - ``dtype`` [float32], ``seed`` [0] (initialization; param k uses SplitMix64(seed).output(k)).

    ``weights``, ``biases`` and ``batch_norms`` list the layer arrays and nodes; ``logits`` is
    the last layer's output; :meth:`predict` returns class probabilities (softmax) for
    softmax_cross_entropy, sigmoid probabilities for bce_with_logits, the raw outputs otherwise."""

    def __init__(self, sizes: Sequence[int], activation: str = "relu", *, init: Optional[str] = None,
                 batch_norm: bool = False, dropout: SupportsFloat = 0.0, loss: str = "softmax_cross_entropy",
                 l2: SupportsFloat = 0.0, dtype: DTypeLike = np.float32, seed: SupportsInt = 0,
                 negative_slope: SupportsFloat = 0.01) -> None:
        if not isinstance(sizes, (list, tuple)):
            raise TypeError(f"sizes must be a list of layer widths, got {type(sizes).__name__}")
        if len(sizes) > 1000:
            raise errors.InvalidArgumentError(f"{len(sizes)} layers is more than an MLP supports (1000)")
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise errors.InvalidArgumentError(f"sizes must list >= 2 positive layer widths, got {sizes}")
        if not isinstance(loss, str) or loss not in _LABEL_LOSSES | _TARGET_LOSSES:
            raise errors.InvalidArgumentError(f"unknown loss {loss!r}; expected one of {sorted(_LABEL_LOSSES | _TARGET_LOSSES)}")
        if not isinstance(activation, str) or activation not in ("relu", "leaky_relu", "tanh", "sigmoid"):
            raise errors.InvalidArgumentError(f"activation must be relu, leaky_relu, tanh or sigmoid, got {activation!r}")
        if not 0.0 <= float(dropout) < 1.0:
            raise errors.InvalidArgumentError(f"dropout must lie in [0, 1), got {dropout}")
        if init is None:
            init = "he_normal" if activation in ("relu", "leaky_relu") else "xavier_normal"
        graph = G.Graph(dtype)
        # Every param is a view of one flat array, in param order, so the params are one contiguous
        # region (Graph.param_buffer): what a data-parallel broadcast or allgather moves at once.
        arena_sizes: list[int] = []
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            use_bn = batch_norm and layer != len(sizes) - 2
            arena_sizes += [fan_out * fan_in] + ([fan_out, fan_out] if use_bn else [fan_out])
        arena = np.zeros(sum(arena_sizes), dtype=dtype)
        taken = [0]

        def take(shape: tuple[int, ...], fill: float = 0.0) -> FloatArray:
            count = int(np.prod(shape))
            view: FloatArray = arena[taken[0]:taken[0] + count].reshape(shape)
            view[...] = fill
            taken[0] += count
            return view

        x = graph.input((None, sizes[0]))
        self.weights: list[FloatArray] = []
        self.biases: list[FloatArray] = []
        self.batch_norms: list[G.Node] = []
        h = x
        for layer, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            last = layer == len(sizes) - 2
            W = graph.param(take((fan_out, fan_in)), init=init)
            use_bn = batch_norm and not last
            b = None if use_bn else graph.param(take((fan_out,)), init="zeros")
            assert W.array is not None
            self.weights.append(W.array)
            if b is not None and b.array is not None:
                self.biases.append(b.array)
            if last:
                h = G.dense(h, W, b)
            elif use_bn:
                z = G.dense(h, W, None)
                gamma = graph.param(take((fan_out,), 1.0), init="ones")
                beta = graph.param(take((fan_out,)), init="zeros")
                h = G.batch_norm(z, gamma, beta)
                self.batch_norms.append(h)
                h = G.activation(h, activation, negative_slope)
            else:
                h = G.dense(h, W, b, activation, negative_slope)
            if not last and float(dropout) > 0:
                h = G.dropout(h, float(dropout), seed=int(seed) + layer)
        logits = h
        if loss in _LABEL_LOSSES:
            target = graph.labels()
            cost = G.softmax_cross_entropy(logits, target) if loss == "softmax_cross_entropy" \
                else G.multiclass_hinge(logits, target)
        else:
            target = graph.input((None, sizes[-1]))
            costs: dict[str, Callable[[G.Node, G.Node], G.Node]] = {
                "mse": G.mse, "sse": G.sse, "quadratic": G.quadratic_cost, "bce_with_logits": G.bce_with_logits}
            cost = costs[loss](logits, target)
        if float(l2):
            for node in graph.params:
                if node.array is not None and node.array.ndim == 2:
                    cost = cost + G.l2_penalty(node, float(l2))
        graph.init_params(seed)
        super().__init__(graph, x, cost, target=target, output=logits, classifier=loss in _LABEL_LOSSES)
        self.logits = logits
        if loss == "softmax_cross_entropy":
            self.prediction = G.softmax(logits)
        elif loss == "bce_with_logits":
            self.prediction = G.sigmoid(logits)
        self.sizes, self.activation, self.loss_name = sizes, activation, loss

    def __repr__(self) -> str:
        return (f"MLP({self.sizes}, activation={self.activation!r}, loss={self.loss_name!r}, "
                f"batch_norm={bool(self.batch_norms)}, dtype={self.graph.dtype})")
