"""Analytic forward and backward passes: activations, costs, the delta rule, dense layers, batch
normalization and seeded weight initialization (C section ``@@gradients@@`` of descent.h).

Every function takes NumPy arrays or descent Tensors. When the main input is a Tensor the
results are Tensors, otherwise NumPy arrays. Computation happens in double precision inside the
library and is rounded once to the input dtype (float32 or float64). Bad input raises the typed
exceptions of :mod:`descent.errors` and leaves every argument unchanged. Formulas are repeated in
docs/gradients.md.
"""

from __future__ import annotations

import ctypes
from typing import Any, Callable, Literal, NamedTuple, Optional, SupportsFloat, SupportsInt, TypeVar, Union, overload

import numpy as np
import numpy.typing as npt

from . import _check, errors
from ._ffi import lib
from ._gradargs import ArrayInput, Labels, as_state, as_tensor, labels_argument, output, reduction_code, result
from .tensor import DTYPES, DTypeLike, FloatArray, ShapeLike, Tensor, TensorLike, dtype_code, shape_argument

#: A result: a Tensor when the main input was one, else a NumPy array.
Result = Union[Tensor, FloatArray]
_State = TypeVar("_State", Tensor, npt.NDArray[Any])

ACTIVATIONS = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "leaky_relu": 4, "softmax": 5}
INIT_SCHEMES = {"normal": 1, "uniform": 2, "xavier_normal": 3, "xavier_uniform": 4,
                "he_normal": 5, "he_uniform": 6}


def _activation_code(kind: str) -> int:
    try:
        return ACTIVATIONS[kind]
    except (KeyError, TypeError):
        raise errors.InvalidArgumentError(
            f"unknown activation {kind!r}; expected one of {sorted(ACTIVATIONS)}") from None


# ---- activations ------------------------------------------------------------------------------

@overload
def activation(x: Tensor, kind: str, negative_slope: SupportsFloat = ...) -> Tensor: ...
@overload
def activation(x: npt.ArrayLike, kind: str, negative_slope: SupportsFloat = ...) -> FloatArray: ...


def activation(x: ArrayInput, kind: str, negative_slope: SupportsFloat = 0.01) -> Result:
    """``f(x)`` for ``kind`` in identity, sigmoid (1/(1+e^-x)), tanh, relu (max(0, x)),
    leaky_relu (x if x > 0 else negative_slope*x) and softmax (stable, along the last axis)."""
    xt, numpy_mode = as_tensor(x, role="x")
    out = output(xt.shape, xt.dtype)
    lib.descent_activation_forward(_activation_code(kind), _check.real(negative_slope, "negative_slope"), xt.handle, out.handle)
    return result(out, numpy_mode)


@overload
def activation_derivative(x: Tensor, kind: str, negative_slope: SupportsFloat = ...) -> Tensor: ...
@overload
def activation_derivative(x: npt.ArrayLike, kind: str, negative_slope: SupportsFloat = ...) -> FloatArray: ...


def activation_derivative(x: ArrayInput, kind: str, negative_slope: SupportsFloat = 0.01) -> Result:
    """``f'(x)`` elementwise: σ(1-σ), 1 - tanh², [x > 0] (0 at x = 0), leaky: 1 or slope (slope
    at 0). Softmax raises UnsupportedError (use :func:`activation_backward`). `kind` as in
    :func:`activation`; negative_slope defaults to 0.01 (leaky_relu only)."""
    xt, numpy_mode = as_tensor(x, role="x")
    out = output(xt.shape, xt.dtype)
    lib.descent_activation_derivative(_activation_code(kind), _check.real(negative_slope, "negative_slope"), xt.handle, out.handle)
    return result(out, numpy_mode)


@overload
def activation_backward(x: Tensor, dy: ArrayInput, kind: str, negative_slope: SupportsFloat = ...) -> Tensor: ...
@overload
def activation_backward(x: npt.ArrayLike, dy: ArrayInput, kind: str, negative_slope: SupportsFloat = ...) -> FloatArray: ...


def activation_backward(x: ArrayInput, dy: ArrayInput, kind: str, negative_slope: SupportsFloat = 0.01) -> Result:
    """Vector-Jacobian product ``dx = J_f(x)^T dy``: ``dy * f'(x)``, or for softmax, per row,
    ``y * (dy - sum(dy * y))`` with ``y = softmax(x)``. `kind` as in :func:`activation`; negative_slope
    (default 0.01) is used by leaky_relu only."""
    xt, numpy_mode = as_tensor(x, role="x")
    dyt, _ = as_tensor(dy, dtype=xt.dtype, role="dy")
    out = output(xt.shape, xt.dtype)
    lib.descent_activation_backward(_activation_code(kind), _check.real(negative_slope, "negative_slope"), xt.handle, dyt.handle,
                                    out.handle)
    return result(out, numpy_mode)


@overload
def sigmoid(x: Tensor) -> Tensor: ...
@overload
def sigmoid(x: npt.ArrayLike) -> FloatArray: ...


def sigmoid(x: ArrayInput) -> Result:
    """σ(x) = 1 / (1 + e^-x) (computed without overflow)."""
    return activation(x, "sigmoid")


@overload
def tanh(x: Tensor) -> Tensor: ...
@overload
def tanh(x: npt.ArrayLike) -> FloatArray: ...


def tanh(x: ArrayInput) -> Result:
    """tanh(x)."""
    return activation(x, "tanh")


@overload
def relu(x: Tensor) -> Tensor: ...
@overload
def relu(x: npt.ArrayLike) -> FloatArray: ...


def relu(x: ArrayInput) -> Result:
    """max(0, x)."""
    return activation(x, "relu")


@overload
def leaky_relu(x: Tensor, negative_slope: SupportsFloat = ...) -> Tensor: ...
@overload
def leaky_relu(x: npt.ArrayLike, negative_slope: SupportsFloat = ...) -> FloatArray: ...


def leaky_relu(x: ArrayInput, negative_slope: SupportsFloat = 0.01) -> Result:
    """x if x > 0 else negative_slope * x."""
    return activation(x, "leaky_relu", negative_slope)


@overload
def softmax(x: Tensor) -> Tensor: ...
@overload
def softmax(x: npt.ArrayLike) -> FloatArray: ...


def softmax(x: ArrayInput) -> Result:
    """Stable softmax along the last axis: e^(x - max) / sum(e^(x - max))."""
    return activation(x, "softmax")


# ---- costs ------------------------------------------------------------------------------------

def _elementwise_loss(function: Callable[..., Any], prediction: ArrayInput, target: ArrayInput, with_grad: bool,
                      *middle: Any) -> Union[float, tuple[float, Result]]:
    pt, numpy_mode = as_tensor(prediction, role="prediction")
    tt, _ = as_tensor(target, dtype=pt.dtype, role="target")
    with_grad = _check.flag(with_grad, "with_grad")
    grad = output(pt.shape, pt.dtype) if with_grad else None
    value = ctypes.c_double()
    function(pt.handle, tt.handle, *middle, grad.handle if grad is not None else 0, ctypes.byref(value))
    if grad is None:
        return float(value.value)
    return float(value.value), result(grad, numpy_mode)


@overload
def sse_loss(prediction: Tensor, target: ArrayInput, with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def sse_loss(prediction: npt.ArrayLike, target: ArrayInput, with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def sse_loss(prediction: ArrayInput, target: ArrayInput, with_grad: Literal[False]) -> float: ...


def sse_loss(prediction: ArrayInput, target: ArrayInput, with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """Sum of squared errors ``E = ½ Σ (y - ŷ)²`` over every element; gradient ``ŷ - y``.

    Returns ``(E, dE/dŷ)``, or just E with ``with_grad=False``."""
    return _elementwise_loss(lib.descent_loss_sse, prediction, target, with_grad)


@overload
def quadratic_cost(prediction: Tensor, target: ArrayInput, with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def quadratic_cost(prediction: npt.ArrayLike, target: ArrayInput, with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def quadratic_cost(prediction: ArrayInput, target: ArrayInput, with_grad: Literal[False]) -> float: ...


def quadratic_cost(prediction: ArrayInput, target: ArrayInput, with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """``C = 1/(2n) Σ_x ‖y(x) - a(x)‖²`` with n = the batch (first) extent, one sample per row;
    gradient ``(a - y)/n``. Returns ``(C, dC/da)`` or C. ``with_grad=False`` returns C alone."""
    return _elementwise_loss(lib.descent_loss_quadratic, prediction, target, with_grad)


@overload
def mse_loss(prediction: Tensor, target: ArrayInput, with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def mse_loss(prediction: npt.ArrayLike, target: ArrayInput, with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def mse_loss(prediction: ArrayInput, target: ArrayInput, with_grad: Literal[False]) -> float: ...


def mse_loss(prediction: ArrayInput, target: ArrayInput, with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """Mean squared error ``(1/N) Σ (ŷ - y)²`` over all N elements; gradient ``2(ŷ - y)/N``. Returns
    ``(loss, dL/dŷ)``, or just the loss with ``with_grad=False``."""
    return _elementwise_loss(lib.descent_loss_mse, prediction, target, with_grad)


@overload
def bce_loss(probabilities: Tensor, target: ArrayInput, eps: SupportsFloat = ..., reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def bce_loss(probabilities: npt.ArrayLike, target: ArrayInput, eps: SupportsFloat = ..., reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def bce_loss(probabilities: ArrayInput, target: ArrayInput, eps: SupportsFloat = ..., reduction: str = ..., *, with_grad: Literal[False]) -> float: ...


def bce_loss(probabilities: ArrayInput, target: ArrayInput, eps: SupportsFloat = 1e-12, reduction: str = "mean", with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """Binary cross-entropy from probabilities:
    ``-[y log p̃ + (1-y) log(1-p̃)]`` with ``p̃ = clip(p, eps, 1-eps)``, gradient
    ``(p̃ - y)/(p̃(1-p̃))``; mean (default) or sum over all elements. p and y must lie in [0, 1].
    reduction is "mean" (default) or "sum"; eps defaults to 1e-12. Returns ``(loss, dL/dp)``, or just
    the loss with ``with_grad=False``."""
    return _elementwise_loss(lambda p, t, *rest: lib.descent_loss_bce(p, t, _check.real(eps, "eps"), reduction_code(reduction), *rest),
                             probabilities, target, with_grad)


@overload
def bce_with_logits_loss(logits: Tensor, target: ArrayInput, reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def bce_with_logits_loss(logits: npt.ArrayLike, target: ArrayInput, reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def bce_with_logits_loss(logits: ArrayInput, target: ArrayInput, reduction: str = ..., *, with_grad: Literal[False]) -> float: ...


def bce_with_logits_loss(logits: ArrayInput, target: ArrayInput, reduction: str = "mean", with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """Binary cross-entropy from logits, stable: ``max(z,0) - z y + log(1 + e^-|z|)``, gradient
    ``σ(z) - y``; mean (default) or sum over all elements. reduction is "mean" (default) or "sum".
    Returns ``(loss, dL/dz)``, or just the loss with ``with_grad=False``."""
    return _elementwise_loss(lambda z, t, *rest: lib.descent_loss_bce_logits(z, t, reduction_code(reduction), *rest),
                             logits, target, with_grad)


def _label_loss(function: Callable[..., Any], scores: ArrayInput, labels: Labels, with_grad: bool,
                *middle: Any, role: str = "scores", inputs: Optional[ArrayInput] = None) -> Union[float, tuple[float, Result]]:
    """A loss over integer labels: function(scores, [inputs,] labels, count, *middle, grad, &value),
    with the gradient shaped like `scores` (named `role` in errors)."""
    st, numpy_mode = as_tensor(scores, role=role)
    xt = as_tensor(inputs, dtype=st.dtype, role="inputs")[0] if inputs is not None else None
    keep, pointer, count = labels_argument(labels)
    with_grad = _check.flag(with_grad, "with_grad")
    grad = output(st.shape, st.dtype) if with_grad else None
    value = ctypes.c_double()
    function(st.handle, *([xt.handle] if xt is not None else []), pointer, count, *middle,
             grad.handle if grad is not None else 0, ctypes.byref(value))
    del keep
    if grad is None:
        return float(value.value)
    return float(value.value), result(grad, numpy_mode)


@overload
def softmax_cross_entropy(logits: Tensor, labels: Labels, reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def softmax_cross_entropy(logits: npt.ArrayLike, labels: Labels, reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def softmax_cross_entropy(logits: ArrayInput, labels: Labels, reduction: str = ..., *, with_grad: Literal[False]) -> float: ...


def softmax_cross_entropy(logits: ArrayInput, labels: Labels, reduction: str = "mean", with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """Softmax cross-entropy from logits (batch, classes) and integer labels:
    ``L_i = logsumexp(z_i) - z_{i,y_i}`` (stable for large logits), gradient
    ``softmax(z_i) - onehot(y_i)``; mean over the batch (default) or sum. reduction is "mean" or "sum".
    Returns ``(loss, dL/dz)``, or just the loss with ``with_grad=False``."""
    return _label_loss(lib.descent_loss_softmax_cross_entropy, logits, labels, with_grad,
                       reduction_code(reduction))


@overload
def multiclass_hinge_loss(scores: Tensor, labels: Labels, margin: SupportsFloat = ..., reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def multiclass_hinge_loss(scores: npt.ArrayLike, labels: Labels, margin: SupportsFloat = ..., reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def multiclass_hinge_loss(scores: ArrayInput, labels: Labels, margin: SupportsFloat = ..., reduction: str = ..., *, with_grad: Literal[False]) -> float: ...


def multiclass_hinge_loss(scores: ArrayInput, labels: Labels, margin: SupportsFloat = 1.0, reduction: str = "mean", with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """Multiclass SVM loss ``L_i = Σ_{j≠y_i} max(0, s_j - s_{y_i} + Δ)`` with Δ = margin; gradient
    1 for each violating class, minus their count at the true class (0 at a margin of exactly 0);
    mean over the batch (default) or sum. Returns ``(loss, dL/ds)``, or just the loss with
    ``with_grad=False``; reduction is "mean" or "sum"."""
    return _label_loss(lib.descent_loss_multiclass_hinge, scores, labels, with_grad, _check.real(margin, "margin"),
                       reduction_code(reduction))


@overload
def multiclass_hinge_linear(weights: Tensor, inputs: ArrayInput, labels: Labels, margin: SupportsFloat = ..., reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def multiclass_hinge_linear(weights: npt.ArrayLike, inputs: ArrayInput, labels: Labels, margin: SupportsFloat = ..., reduction: str = ..., with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def multiclass_hinge_linear(weights: ArrayInput, inputs: ArrayInput, labels: Labels, margin: SupportsFloat = ..., reduction: str = ..., *, with_grad: Literal[False]) -> float: ...


def multiclass_hinge_linear(weights: ArrayInput, inputs: ArrayInput, labels: Labels, margin: SupportsFloat = 1.0, reduction: str = "mean", with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """Hinge loss of the linear classifier ``s = X Wᵀ`` (W: (classes, features), X: (batch,
    features)); returns ``(loss, dL/dW)`` with ``dL/dW = (dL/ds)ᵀ X``. margin Δ defaults to 1.0;
    reduction "mean" (default, over the batch) or "sum"; with ``with_grad=False`` only the loss is
    returned."""
    return _label_loss(lib.descent_loss_multiclass_hinge_linear, weights, labels, with_grad,
                       _check.real(margin, "margin"), reduction_code(reduction), role="weights", inputs=inputs)


@overload
def l2_penalty(weights: Tensor, lam: SupportsFloat, m: SupportsInt = ..., with_grad: Literal[True] = ...) -> tuple[float, Tensor]: ...
@overload
def l2_penalty(weights: npt.ArrayLike, lam: SupportsFloat, m: SupportsInt = ..., with_grad: Literal[True] = ...) -> tuple[float, FloatArray]: ...
@overload
def l2_penalty(weights: ArrayInput, lam: SupportsFloat, m: SupportsInt = ..., *, with_grad: Literal[False]) -> float: ...


def l2_penalty(weights: ArrayInput, lam: SupportsFloat, m: SupportsInt = 1, with_grad: bool = True) -> Union[float, tuple[float, Result]]:
    """L2 regularization ``R = λ/(2m) ‖W‖²`` and its gradient ``(λ/m) W``. With m = 1 (default)
    this is ``½λ‖W‖²``; with m the batch size it is the (λ/m)W decay form of Nielsen's NNDL (ch. 3) and the deeplearning.ai notes. Returns ``(R,
    dR/dW)``, or just R with ``with_grad=False``."""
    wt, numpy_mode = as_tensor(weights, role="weights")
    with_grad = _check.flag(with_grad, "with_grad")
    grad = output(wt.shape, wt.dtype) if with_grad else None
    value = ctypes.c_double()
    lib.descent_l2_penalty(wt.handle, _check.real(lam, "lam"), _check.integer(m, "m"), grad.handle if grad is not None else 0,
                           ctypes.byref(value))
    if grad is None:
        return float(value.value)
    return float(value.value), result(grad, numpy_mode)


# ---- delta rule -------------------------------------------------------------------------------

class DeltaRuleResult(NamedTuple):
    """One delta-rule step: the activation h, the prediction ŷ = σ(h), δ and the update Δw."""

    h: float
    y_hat: float
    delta: float
    dw: Result


def delta_rule(w: ArrayInput, x: ArrayInput, y: SupportsFloat, eta: SupportsFloat) -> DeltaRuleResult:
    """One delta-rule step for a sigmoid unit: ``h = Σ w_i x_i``, ``ŷ = σ(h)``,
    ``δ = (y - ŷ) σ'(h)``, ``Δw = η δ x``. Returns DeltaRuleResult(h, y_hat, delta, dw); apply
    ``w += dw`` yourself."""
    wt, numpy_mode = as_tensor(w, role="w")
    xt, _ = as_tensor(x, dtype=wt.dtype, role="x")
    dw = output(wt.shape, wt.dtype)
    h, y_hat, delta = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
    lib.descent_delta_rule(wt.handle, xt.handle, _check.real(y, "y"), _check.real(eta, "eta"), dw.handle, ctypes.byref(h),
                           ctypes.byref(y_hat), ctypes.byref(delta))
    return DeltaRuleResult(float(h.value), float(y_hat.value), float(delta.value), result(dw, numpy_mode))


# ---- dense layer ------------------------------------------------------------------------------

@overload
def dense_forward(a: Tensor, weights: ArrayInput, bias: Optional[ArrayInput] = ..., activation: str = ...,
                  negative_slope: SupportsFloat = ...) -> tuple[Tensor, Tensor]: ...
@overload
def dense_forward(a: npt.ArrayLike, weights: ArrayInput, bias: Optional[ArrayInput] = ..., activation: str = ...,
                  negative_slope: SupportsFloat = ...) -> tuple[FloatArray, FloatArray]: ...


def dense_forward(a: ArrayInput, weights: ArrayInput, bias: Optional[ArrayInput] = None, activation: str = "identity",
                  negative_slope: SupportsFloat = 0.01) -> tuple[Result, Result]:
    """Fully connected layer over a batch: ``z = a Wᵀ + b`` with a (batch, in), W (out, in),
    b (out,) or None; returns ``(z, f(z))``. Keep z for :func:`dense_backward`. activation is a
    :func:`activation` kind (default "identity"; negative_slope 0.01 for leaky_relu)."""
    at, numpy_mode = as_tensor(a, role="a")
    wt, _ = as_tensor(weights, dtype=at.dtype, role="weights")
    bt = as_tensor(bias, dtype=at.dtype, role="bias")[0] if bias is not None else None
    if len(at.shape) != 2 or len(wt.shape) != 2:
        raise errors.ShapeError(f"a and W must be rank 2, got shapes {at.shape} and {wt.shape}")
    z = output((at.shape[0], wt.shape[0]), at.dtype)
    out = output(z.shape, at.dtype)
    lib.descent_dense_forward(at.handle, wt.handle, bt.handle if bt is not None else 0,
                              _activation_code(activation), _check.real(negative_slope, "negative_slope"), z.handle, out.handle)
    return result(z, numpy_mode), result(out, numpy_mode)


@overload
def dense_backward(a: Tensor, weights: ArrayInput, z: ArrayInput, dout: ArrayInput, activation: str = ...,
                   negative_slope: SupportsFloat = ...) -> tuple[Tensor, Tensor, Tensor]: ...
@overload
def dense_backward(a: npt.ArrayLike, weights: ArrayInput, z: ArrayInput, dout: ArrayInput, activation: str = ...,
                   negative_slope: SupportsFloat = ...) -> tuple[FloatArray, FloatArray, FloatArray]: ...


def dense_backward(a: ArrayInput, weights: ArrayInput, z: ArrayInput, dout: ArrayInput, activation: str = "identity",
                   negative_slope: SupportsFloat = 0.01) -> tuple[Result, Result, Result]:
    """Backward pass of :func:`dense_forward`: ``dz = f'(z) ⊙ dout``, ``dW = dzᵀ a``,
    ``db = Σ_batch dz``, ``da = dz W``. Returns ``(dW, db, da)``. activation (default "identity") and
    negative_slope (default 0.01) must be those of the forward."""
    at, numpy_mode = as_tensor(a, role="a")
    wt, _ = as_tensor(weights, dtype=at.dtype, role="weights")
    zt, _ = as_tensor(z, dtype=at.dtype, role="z")
    dt, _ = as_tensor(dout, dtype=at.dtype, role="dout")
    if len(wt.shape) != 2:
        raise errors.ShapeError(f"W must be rank 2, got shape {wt.shape}")
    dw = output(wt.shape, at.dtype)
    db = output((wt.shape[0],), at.dtype)
    da = output(at.shape, at.dtype)
    lib.descent_dense_backward(at.handle, wt.handle, zt.handle, dt.handle, _activation_code(activation),
                               _check.real(negative_slope, "negative_slope"), dw.handle, db.handle, da.handle)
    return result(dw, numpy_mode), result(db, numpy_mode), result(da, numpy_mode)


# ---- batch normalization ----------------------------------------------------------------------

@overload
def batchnorm_forward_train(x: Tensor, gamma: ArrayInput, beta: ArrayInput, running_mean: TensorLike,
                            running_var: TensorLike, momentum: SupportsFloat = ...,
                            eps: SupportsFloat = ...) -> tuple[Tensor, Tensor, Tensor]: ...
@overload
def batchnorm_forward_train(x: npt.ArrayLike, gamma: ArrayInput, beta: ArrayInput, running_mean: TensorLike,
                            running_var: TensorLike, momentum: SupportsFloat = ...,
                            eps: SupportsFloat = ...) -> tuple[FloatArray, FloatArray, FloatArray]: ...


def batchnorm_forward_train(x: ArrayInput, gamma: ArrayInput, beta: ArrayInput, running_mean: TensorLike,
                            running_var: TensorLike, momentum: SupportsFloat = 0.1,
                            eps: SupportsFloat = 1e-5) -> tuple[Result, Result, Result]:
    """Training forward over x (batch, features), PyTorch's convention:
    ``x̂ = (x - μ)/sqrt(σ² + eps)`` with the batch mean μ and BIASED variance σ²,
    ``y = γ x̂ + β``; running_mean and running_var (NumPy arrays or Tensors) are updated IN PLACE:
    ``running = (1 - momentum) running + momentum · batch`` using the UNBIASED variance
    σ² N/(N-1) for running_var. Returns ``(y, save_mean, save_invstd)`` for the backward."""
    xt, numpy_mode = as_tensor(x, role="x")
    dtype = xt.dtype
    gt, _ = as_tensor(gamma, dtype=dtype, role="gamma")
    bt, _ = as_tensor(beta, dtype=dtype, role="beta")
    rm = as_state(running_mean, dtype, "running_mean")
    rv = as_state(running_var, dtype, "running_var")
    features = gt.shape
    y = output(xt.shape, dtype)
    save_mean, save_invstd = output(features, dtype), output(features, dtype)
    lib.descent_batchnorm_forward_train(xt.handle, gt.handle, bt.handle, rm.handle, rv.handle, _check.real(momentum, "momentum"),
                                        _check.real(eps, "eps"), y.handle, save_mean.handle, save_invstd.handle)
    return result(y, numpy_mode), result(save_mean, numpy_mode), result(save_invstd, numpy_mode)


@overload
def batchnorm_backward(x: Tensor, gamma: ArrayInput, save_mean: ArrayInput, save_invstd: ArrayInput,
                       dy: ArrayInput) -> tuple[Tensor, Tensor, Tensor]: ...
@overload
def batchnorm_backward(x: npt.ArrayLike, gamma: ArrayInput, save_mean: ArrayInput, save_invstd: ArrayInput,
                       dy: ArrayInput) -> tuple[FloatArray, FloatArray, FloatArray]: ...


def batchnorm_backward(x: ArrayInput, gamma: ArrayInput, save_mean: ArrayInput, save_invstd: ArrayInput,
                       dy: ArrayInput) -> tuple[Result, Result, Result]:
    """Backward of the training forward: ``dβ = Σ dy``, ``dγ = Σ dy x̂``,
    ``dx = γ invstd / N · (N dy - dβ - x̂ dγ)``. Returns ``(dx, dgamma, dbeta)``."""
    xt, numpy_mode = as_tensor(x, role="x")
    dtype = xt.dtype
    gt, _ = as_tensor(gamma, dtype=dtype, role="gamma")
    mt, _ = as_tensor(save_mean, dtype=dtype, role="save_mean")
    it, _ = as_tensor(save_invstd, dtype=dtype, role="save_invstd")
    dyt, _ = as_tensor(dy, dtype=dtype, role="dy")
    dx = output(xt.shape, dtype)
    dgamma, dbeta = output(gt.shape, dtype), output(gt.shape, dtype)
    lib.descent_batchnorm_backward(xt.handle, gt.handle, mt.handle, it.handle, dyt.handle, dx.handle,
                                   dgamma.handle, dbeta.handle)
    return result(dx, numpy_mode), result(dgamma, numpy_mode), result(dbeta, numpy_mode)


@overload
def batchnorm_forward_infer(x: Tensor, gamma: ArrayInput, beta: ArrayInput, running_mean: ArrayInput,
                            running_var: ArrayInput, eps: SupportsFloat = ...) -> Tensor: ...
@overload
def batchnorm_forward_infer(x: npt.ArrayLike, gamma: ArrayInput, beta: ArrayInput, running_mean: ArrayInput,
                            running_var: ArrayInput, eps: SupportsFloat = ...) -> FloatArray: ...


def batchnorm_forward_infer(x: ArrayInput, gamma: ArrayInput, beta: ArrayInput, running_mean: ArrayInput,
                            running_var: ArrayInput, eps: SupportsFloat = 1e-5) -> Result:
    """Inference forward: ``y = γ (x - running_mean)/sqrt(running_var + eps) + β``."""
    xt, numpy_mode = as_tensor(x, role="x")
    dtype = xt.dtype
    tensors = [as_tensor(v, dtype=dtype, role=r)[0] for v, r in
               ((gamma, "gamma"), (beta, "beta"), (running_mean, "running_mean"), (running_var, "running_var"))]
    y = output(xt.shape, dtype)
    lib.descent_batchnorm_forward_infer(xt.handle, *[t.handle for t in tensors], _check.real(eps, "eps"), y.handle)
    return result(y, numpy_mode)


class BatchNorm:
    """Batch normalization over (batch, features) with its own γ (ones), β (zeros) and running
    statistics (mean 0, variance 1), as NumPy arrays of `dtype`. ``forward(x, training=True)``
    normalizes with batch statistics and updates the running ones; ``training=False`` uses the
    running ones. ``backward(dy)`` follows the last training forward and returns dx, setting
    ``self.dgamma`` and ``self.dbeta``. Defaults: momentum 0.1, eps 1e-5, dtype float64 (PyTorch's
    BatchNorm1d); the formulas are those of :func:`batchnorm_forward_train`,
    :func:`batchnorm_forward_infer` and :func:`batchnorm_backward`."""

    def __init__(self, features: int, momentum: SupportsFloat = 0.1, eps: SupportsFloat = 1e-5,
                 dtype: DTypeLike = np.float64) -> None:
        kind = _check.dtype(dtype)
        if kind not in (np.float32, np.float64):
            raise errors.DTypeError(f"BatchNorm's dtype must be float32 or float64, got {kind}")
        features = _check.integer(features, "features")
        if not 0 <= features < 2**31:
            raise errors.InvalidArgumentError(f"features must be in [0, 2**31), got {features}")
        self.momentum, self.eps = _check.real(momentum, "momentum"), _check.real(eps, "eps")
        self.gamma: FloatArray = np.ones(features, dtype=kind)
        self.beta: FloatArray = np.zeros(features, dtype=kind)
        self.running_mean: FloatArray = np.zeros(features, dtype=kind)
        self.running_var: FloatArray = np.ones(features, dtype=kind)
        self.dgamma: Optional[FloatArray] = None
        self.dbeta: Optional[FloatArray] = None
        self._saved: Optional[tuple[FloatArray, FloatArray, FloatArray]] = None

    def forward(self, x: npt.ArrayLike, training: bool = True) -> FloatArray:
        """y = γ (x - μ) / sqrt(σ² + eps) + β for x of shape (batch, features). training=True
        (default): μ, σ² are the batch mean and biased variance, and running_mean/running_var are
        updated in place (``running = (1 - momentum) running + momentum · batch``, unbiased
        variance); training=False: μ, σ² are the running statistics and nothing is updated."""
        if not _check.flag(training, "training"):
            return batchnorm_forward_infer(x, self.gamma, self.beta, self.running_mean, self.running_var, self.eps)
        y, mean, invstd = batchnorm_forward_train(x, self.gamma, self.beta, self.running_mean, self.running_var,
                                                  self.momentum, self.eps)
        self._saved = (np.array(x, dtype=self.gamma.dtype), mean, invstd)
        return y

    def backward(self, dy: npt.ArrayLike) -> FloatArray:
        """dx for the upstream gradient dy of the last training :meth:`forward`
        (``dx = γ invstd / N · (N dy - dβ - x̂ dγ)``); sets ``self.dgamma = Σ dy x̂`` and
        ``self.dbeta = Σ dy`` (sums over the batch). Raises InvalidArgumentError before any
        training forward."""
        if self._saved is None:
            raise errors.InvalidArgumentError("backward() needs a training forward() first")
        x, mean, invstd = self._saved
        dx, self.dgamma, self.dbeta = batchnorm_backward(x, self.gamma, mean, invstd, dy)
        return dx


# ---- initialization ---------------------------------------------------------------------------

def _scheme_code(scheme: str) -> int:
    try:
        return INIT_SCHEMES[scheme]
    except (KeyError, TypeError):
        raise errors.InvalidArgumentError(
            f"unknown initialization {scheme!r}; expected one of {sorted(INIT_SCHEMES)}") from None


def fans(shape: ShapeLike) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape (PyTorch's rule; a dense (out, in) weight has
    fan_in = in, fan_out = out)."""
    rank, dims = shape_argument(shape)
    fan_in, fan_out = ctypes.c_int64(), ctypes.c_int64()
    lib.descent_init_fans(rank, dims, ctypes.byref(fan_in), ctypes.byref(fan_out))
    return int(fan_in.value), int(fan_out.value)


def init_fill(target: _State, scheme: str, seed: SupportsInt, gain: SupportsFloat = 1.0) -> _State:
    """Fills `target` (a NumPy array or Tensor) IN PLACE with a seeded initialization:

    ========================  ==========================================
    normal                    N(0, std²), std = gain
    uniform                   U(-a, a), a = gain
    xavier_normal             std = gain · sqrt(2 / (fan_in + fan_out))
    xavier_uniform            a = gain · sqrt(6 / (fan_in + fan_out))
    he_normal                 std = gain · sqrt(2 / fan_in)
    he_uniform                a = gain · sqrt(6 / fan_in)
    ========================  ==========================================

    Values come from SplitMix64(seed) exactly as descent.random_normal / random_uniform, so the
    same seed gives the same weights everywhere. Returns `target`."""
    code = _scheme_code(scheme)
    number = _check.integer(seed, "seed")
    if not 0 <= number < 2**64:
        raise errors.InvalidArgumentError(f"seed must be in [0, 2**64), got {number}")
    dtype = target.dtype if isinstance(target, (Tensor, np.ndarray)) else None
    state = as_state(target, dtype, "target")
    lib.descent_init_fill(state.handle, code, number, _check.real(gain, "gain"))
    return target


def init_weights(shape: ShapeLike, scheme: str, seed: SupportsInt, gain: SupportsFloat = 1.0,
                 dtype: DTypeLike = np.float64) -> FloatArray:
    """A new NumPy array of `shape` filled by :func:`init_fill`. gain defaults to 1.0 and dtype to float64;
    `scheme` and `seed` as in :func:`init_fill`."""
    rank, dims = shape_argument(shape)
    extents = tuple(int(d) for d in dims[:rank])
    if any(d < 0 for d in extents):
        raise errors.ShapeError(f"shape extents must be >= 0, got {extents}")
    array: FloatArray = np.zeros(extents, dtype=DTYPES[dtype_code(dtype)])
    return init_fill(array, scheme, seed, gain)


__all__ = [
    "ACTIVATIONS", "INIT_SCHEMES", "BatchNorm", "DeltaRuleResult", "activation", "activation_backward",
    "activation_derivative", "batchnorm_backward", "batchnorm_forward_infer", "batchnorm_forward_train",
    "bce_loss", "bce_with_logits_loss", "delta_rule", "dense_backward", "dense_forward", "fans", "init_fill",
    "init_weights", "l2_penalty", "leaky_relu", "mse_loss", "multiclass_hinge_linear", "multiclass_hinge_loss",
    "quadratic_cost", "relu", "sigmoid", "softmax", "softmax_cross_entropy", "sse_loss", "tanh",
]
