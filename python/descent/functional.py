"""Stateless update rules on NumPy arrays: ``descent.functional.<rule>(param, grad, state..., step, **hyper)``.

Each call applies ONE step of one rule, in place: ``param`` and the state arrays are updated,
``grad`` is only read. Arrays must be C-contiguous, aligned, float32 or float64, all of one dtype
and one shape (param and state writeable). ``step`` is t of this update: 1 on the first call, then
2, 3, ... (bias corrections are computed in float64 from it). State arrays start at zero unless a
rule says otherwise; a state array a rule does not need under the given options may be None.

Every rule first prepares the gradient (the notation of include/descent.h and docs/optimizers.md):

    g := -g                 maximize=True
    g := g + λ W            weight decay λ as L2 in the gradient (default)
    W := W (1 - lr λ)       decoupled_weight_decay=True (AdamW style), before the update

check_finite=True raises :class:`descent.NonFiniteError` (nothing written) when grad holds a NaN
or an infinity; without it such values flow into the update.

Defaults are PyTorch's ``torch.optim`` defaults. Errors: :class:`descent.DTypeError`,
:class:`descent.ShapeError`, :class:`descent.InvalidArgumentError` (non-contiguous or read-only
arrays, a hyper-parameter outside its domain such as ``lr < 0``, conflicting options),
:class:`descent.NonFiniteError`; on any error nothing was written.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence, SupportsFloat

import numpy as np
import numpy.typing as npt

from . import _check, errors
from ._ffi import ACCEL_RULES, accel, last_error, lib
from .tensor import DTYPE_CODES

#: A parameter, gradient or state array: float32 or float64, C-contiguous (and writeable when
#: updated in place).
Array = npt.NDArray[np.floating[Any]]
#: (beta1, beta2).
Betas = tuple[SupportsFloat, SupportsFloat]

MAXIMIZE = 1
DECOUPLED_WEIGHT_DECAY = 2
EPS_INSIDE_SQRT = 4
NO_BIAS_CORRECTION = 8
NESTEROV = 16
AMSGRAD = 32
CENTERED = 64
EMA_MOMENTUM = 128
CS231N_MOMENTUM = 256
CHECK_FINITE = 512

MOMENTUM_FORMS = {"pytorch": 0, "ema": EMA_MOMENTUM, "cs231n": CS231N_MOMENTUM}

__all__ = ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam", "radam", "lion"]


def _check_array(array: object, name: str, like: Optional[Array] = None, writeable: bool = True) -> int:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in DTYPE_CODES:
        raise errors.DTypeError(f"{name} is {array.dtype}; only float32 and float64 are supported")
    if like is not None:
        if array.dtype != like.dtype:
            raise errors.DTypeError(f"{name} is {array.dtype}, param is {like.dtype}")
        if array.shape != like.shape:
            raise errors.ShapeError(f"{name} has shape {array.shape}, param has {like.shape}")
    if not array.flags.c_contiguous or not array.flags.aligned:
        raise errors.InvalidArgumentError(f"{name} must be a C-contiguous, aligned array")
    if writeable and not array.flags.writeable:
        raise errors.InvalidArgumentError(f"{name} must be writeable (it is updated in place)")
    return array.ctypes.data


def _flags(maximize: bool = False, decoupled_weight_decay: bool = False, check_finite: bool = False,
           **extra: bool) -> int:
    if maximize is False and decoupled_weight_decay is False and check_finite is False \
            and all(enabled is False for enabled in extra.values()):
        return 0  # the common call: every option at its default
    value = (MAXIMIZE if _check.flag(maximize, "maximize") else 0)
    value |= DECOUPLED_WEIGHT_DECAY if _check.flag(decoupled_weight_decay, "decoupled_weight_decay") else 0
    value |= CHECK_FINITE if _check.flag(check_finite, "check_finite") else 0
    for flag, enabled in extra.items():
        if _check.flag(enabled, flag):
            value |= globals()[flag.upper()]
    return value


def _betas(betas: object) -> tuple[float, float]:
    beta1: object
    beta2: object
    try:
        beta1, beta2 = betas  # type: ignore[misc]
    except (TypeError, ValueError):
        raise TypeError(f"betas must be a pair (beta1, beta2), got {_check.describe(betas)}") from None
    if type(beta1) is float and type(beta2) is float:
        return beta1, beta2
    return _check.real(beta1, "beta1"), _check.real(beta2, "beta2")


def _step_argument(step: object) -> int:
    if type(step) is int:
        return step
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        raise TypeError(f"step must be an int (1 on the first update), got {type(step).__name__}")
    return int(step)


# The rules as descent._accel numbers them, with their C step and the names of their state arrays
# and scalars (in C argument order, for the checks' messages).
_SGD, _ADAGRAD, _ADADELTA, _RMSPROP, _ADAM, _ADAMW, _ADAMAX, _NADAM, _RADAM, _LION = map(ACCEL_RULES.index, (
    "sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam", "radam", "lion"))
_RULES: dict[int, tuple[Callable[..., Any], tuple[str, ...], tuple[str, ...]]] = {
    _SGD: (lib.descent_sgd_step, ("momentum_buffer",), ("lr", "momentum", "dampening", "weight_decay")),
    _ADAGRAD: (lib.descent_adagrad_step, ("sum",), ("lr", "lr_decay", "weight_decay", "eps")),
    _ADADELTA: (lib.descent_adadelta_step, ("square_avg", "acc_delta"), ("lr", "rho", "eps", "weight_decay")),
    _RMSPROP: (lib.descent_rmsprop_step, ("square_avg", "grad_avg", "momentum_buffer"),
              ("lr", "alpha", "eps", "weight_decay", "momentum")),
    _ADAM: (lib.descent_adam_step, ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
           ("lr", "beta1", "beta2", "eps", "weight_decay")),
    _ADAMW: (lib.descent_adamw_step, ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
            ("lr", "beta1", "beta2", "eps", "weight_decay")),
    _ADAMAX: (lib.descent_adamax_step, ("exp_avg", "exp_inf"), ("lr", "beta1", "beta2", "eps", "weight_decay")),
    _NADAM: (lib.descent_nadam_step, ("exp_avg", "exp_avg_sq", "mu_product"),
            ("lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay")),
    _RADAM: (lib.descent_radam_step, ("exp_avg", "exp_avg_sq"), ("lr", "beta1", "beta2", "eps", "weight_decay")),
    _LION: (lib.descent_lion_step, ("exp_avg",), ("lr", "beta1", "beta2", "weight_decay")),
}


def _run(kind: int, param: Array, grad: Array, states: tuple[Optional[Array], ...], step: int,
         scalars: tuple[SupportsFloat, ...], flags: int) -> None:
    """One C step of rule `kind`. The compiled call path (descent._accel) takes the common valid
    call; anything else (and every call without it) goes through the checks below and ctypes, so
    a wrong argument raises the same exception with the same message on either path."""
    if accel is not None:
        status = accel.rule(kind, param, grad, states, step, scalars, flags)
        if status is not None:
            if status:
                raise errors.error_for_status(status, last_error())
            return
    function, state_names, scalar_names = _RULES[kind]
    extra = []
    if kind == _NADAM:
        mu_product = states[-1]
        if not isinstance(mu_product, np.ndarray) or mu_product.dtype != np.float64 or mu_product.size != 1:
            raise errors.DTypeError("mu_product must be a float64 numpy array of one element (start it at 1.0)")
        if not mu_product.flags.writeable or not mu_product.flags.c_contiguous:
            raise errors.InvalidArgumentError("mu_product must be writeable and contiguous")
        states, state_names, extra = states[:-1], state_names[:-1], [mu_product.ctypes.data]
    p = _check_array(param, "param")
    g = _check_array(grad, "grad", like=param, writeable=False)
    pointers = [None if array is None else _check_array(array, name, like=param)
                for name, array in zip(state_names, states)]
    function(DTYPE_CODES[param.dtype], param.size, p, g, *pointers, *extra, _step_argument(step),
             *[value if type(value) is float else _check.real(value, name) for name, value in zip(scalar_names, scalars)],
             int(flags))


def sgd(param: Array, grad: Array, momentum_buffer: Optional[Array] = None, step: int = 1, *,
        lr: SupportsFloat = 1e-3, momentum: SupportsFloat = 0.0, dampening: SupportsFloat = 0.0,
        weight_decay: SupportsFloat = 0.0, nesterov: bool = False, momentum_form: str = "pytorch",
        maximize: bool = False, decoupled_weight_decay: bool = False, check_finite: bool = False) -> None:
    """SGD (torch.optim.SGD), in place. momentum_buffer may be None when momentum == 0.

    ::

        μ = 0:                      W := W - lr g
        momentum_form="pytorch":    b := g if t == 1, else b := μ b + (1 - τ) g   (τ = dampening)
                                    d := g + μ b if nesterov, else d := b;   W := W - lr d
        momentum_form="ema":        v := μ v + (1 - μ) g;   W := W - lr v       (deeplearning.ai)
        momentum_form="cs231n":     v := μ v - lr g;        W := W + v

    Defaults: lr=0.001, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    momentum_form='pytorch', maximize=False, decoupled_weight_decay=False, check_finite=False.
    """
    form = _check.choice(momentum_form, MOMENTUM_FORMS, "momentum_form")
    flags = _flags(maximize, decoupled_weight_decay, check_finite, nesterov=nesterov) | form
    _run(_SGD, param, grad, (momentum_buffer,), step, (lr, momentum, dampening, weight_decay), flags)


def adagrad(param: Array, grad: Array, sum: Array, step: int = 1, *, lr: SupportsFloat = 1e-2,
            lr_decay: SupportsFloat = 0.0, weight_decay: SupportsFloat = 0.0, eps: SupportsFloat = 1e-10,
            eps_inside_sqrt: bool = False, maximize: bool = False, decoupled_weight_decay: bool = False,
            check_finite: bool = False) -> None:
    """Adagrad (torch.optim.Adagrad), in place. Start ``sum`` at initial_accumulator_value.

    ::

        clr := lr / (1 + (t - 1) lr_decay)
        s   := s + g²
        W   := W - clr g / (sqrt(s) + ε)          (eps_inside_sqrt: / sqrt(s + ε))

    Defaults: lr=0.01, lr_decay=0, weight_decay=0, eps=1e-10, eps_inside_sqrt=False, maximize=False,
    decoupled_weight_decay=False, check_finite=False.
    """
    _run(_ADAGRAD, param, grad, (sum,), step, (lr, lr_decay, weight_decay, eps),
         _flags(maximize, decoupled_weight_decay, check_finite, eps_inside_sqrt=eps_inside_sqrt))


def adadelta(param: Array, grad: Array, square_avg: Array, acc_delta: Array, step: int = 1, *,
             lr: SupportsFloat = 1.0, rho: SupportsFloat = 0.9, eps: SupportsFloat = 1e-6,
             weight_decay: SupportsFloat = 0.0, maximize: bool = False, decoupled_weight_decay: bool = False,
             check_finite: bool = False) -> None:
    """Adadelta (torch.optim.Adadelta), in place.

    ::

        v := ρ v + (1 - ρ) g²                       (square_avg)
        Δ := sqrt(u + ε) / sqrt(v + ε) · g          (u = acc_delta)
        u := ρ u + (1 - ρ) Δ²;    W := W - lr Δ

    Defaults: lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False, decoupled_weight_decay=False,
    check_finite=False.
    """
    _run(_ADADELTA, param, grad, (square_avg, acc_delta), step, (lr, rho, eps, weight_decay),
         _flags(maximize, decoupled_weight_decay, check_finite))


def rmsprop(param: Array, grad: Array, square_avg: Array, grad_avg: Optional[Array] = None,
            momentum_buffer: Optional[Array] = None, step: int = 1, *, lr: SupportsFloat = 1e-2,
            alpha: SupportsFloat = 0.99, eps: SupportsFloat = 1e-8, weight_decay: SupportsFloat = 0.0,
            momentum: SupportsFloat = 0.0, centered: bool = False, eps_inside_sqrt: bool = False,
            maximize: bool = False, decoupled_weight_decay: bool = False, check_finite: bool = False) -> None:
    """RMSprop (torch.optim.RMSprop), in place. grad_avg is needed only when centered,
    momentum_buffer only when momentum > 0.

    ::

        v := α v + (1 - α) g²
        centered:  ḡ := α ḡ + (1 - α) g;   d := sqrt(v - ḡ²) + ε
        else:      d := sqrt(v) + ε                  (eps_inside_sqrt: sqrt(v [- ḡ²] + ε))
        μ > 0:     b := μ b + g / d;   W := W - lr b
        μ = 0:     W := W - lr g / d

    Defaults: lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    eps_inside_sqrt=False, maximize=False, decoupled_weight_decay=False, check_finite=False.
    """
    _run(_RMSPROP, param, grad, (square_avg, grad_avg, momentum_buffer), step, (lr, alpha, eps, weight_decay, momentum),
         _flags(maximize, decoupled_weight_decay, check_finite, centered=centered, eps_inside_sqrt=eps_inside_sqrt))


def _adam_like(kind: int, param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array,
               max_exp_avg_sq: Optional[Array], step: int, lr: SupportsFloat, betas: Betas, eps: SupportsFloat,
               weight_decay: SupportsFloat, amsgrad: bool, bias_correction: bool, eps_inside_sqrt: bool,
               maximize: bool, decoupled: bool, check_finite: bool) -> None:
    beta1, beta2 = _betas(betas)
    flags = _flags(maximize, decoupled, check_finite, amsgrad=amsgrad, eps_inside_sqrt=eps_inside_sqrt,
                   no_bias_correction=not _check.flag(bias_correction, "bias_correction"))
    _run(kind, param, grad, (exp_avg, exp_avg_sq, max_exp_avg_sq), step, (lr, beta1, beta2, eps, weight_decay), flags)


def adam(param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, max_exp_avg_sq: Optional[Array] = None,
         step: int = 1, *, lr: SupportsFloat = 1e-3, betas: Betas = (0.9, 0.999),
         eps: SupportsFloat = 1e-8, weight_decay: SupportsFloat = 0.0, amsgrad: bool = False,
         bias_correction: bool = True, eps_inside_sqrt: bool = False, maximize: bool = False,
         decoupled_weight_decay: bool = False, check_finite: bool = False) -> None:
    """Adam (torch.optim.Adam), in place. max_exp_avg_sq is needed only with amsgrad.

    ::

        m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²
        amsgrad:  v̂ := max(v̂, v), and v̂ replaces v below
        c1 := 1 - β1^t,  c2 := 1 - β2^t       (both 1 when bias_correction=False)
        W := W - (lr / c1) m / (sqrt(v) / sqrt(c2) + ε)      (eps_inside_sqrt: / sqrt(v / c2 + ε))

    Kingma & Ba 2015; AMSGrad: Reddi, Kale & Kumar 2018 (docs/references.md).

    Defaults: lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    bias_correction=True, eps_inside_sqrt=False, maximize=False, decoupled_weight_decay=False,
    check_finite=False.
    """
    _adam_like(_ADAM, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, betas, eps,
               weight_decay, amsgrad, bias_correction, eps_inside_sqrt, maximize, decoupled_weight_decay,
               check_finite)


def adamw(param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, max_exp_avg_sq: Optional[Array] = None,
          step: int = 1, *, lr: SupportsFloat = 1e-3, betas: Betas = (0.9, 0.999),
          eps: SupportsFloat = 1e-8, weight_decay: SupportsFloat = 1e-2, amsgrad: bool = False,
          bias_correction: bool = True, eps_inside_sqrt: bool = False, maximize: bool = False,
          check_finite: bool = False) -> None:
    """AdamW (torch.optim.AdamW), in place: :func:`adam` with decoupled weight decay
    ``W := W (1 - lr λ)`` applied before the update (default λ = 1e-2).

    Defaults: lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False,
    bias_correction=True, eps_inside_sqrt=False, maximize=False, check_finite=False.
    """
    _adam_like(_ADAMW, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr, betas, eps,
               weight_decay, amsgrad, bias_correction, eps_inside_sqrt, maximize, True, check_finite)


def adamax(param: Array, grad: Array, exp_avg: Array, exp_inf: Array, step: int = 1, *,
           lr: SupportsFloat = 2e-3, betas: Betas = (0.9, 0.999), eps: SupportsFloat = 1e-8,
           weight_decay: SupportsFloat = 0.0, bias_correction: bool = True, maximize: bool = False,
           decoupled_weight_decay: bool = False, check_finite: bool = False) -> None:
    """Adamax (torch.optim.Adamax), in place.

    ::

        m := β1 m + (1 - β1) g;   u := max(β2 u, |g| + ε)
        W := W - (lr / (1 - β1^t)) m / u          (lr m / u when bias_correction=False)

    Defaults: lr=0.002, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, bias_correction=True,
    maximize=False, decoupled_weight_decay=False, check_finite=False.
    """
    beta1, beta2 = _betas(betas)
    _run(_ADAMAX, param, grad, (exp_avg, exp_inf), step, (lr, beta1, beta2, eps, weight_decay),
         _flags(maximize, decoupled_weight_decay, check_finite, no_bias_correction=not _check.flag(bias_correction, "bias_correction")))


def nadam(param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, mu_product: npt.NDArray[np.float64],
          step: int = 1, *, lr: SupportsFloat = 2e-3, betas: Betas = (0.9, 0.999),
          eps: SupportsFloat = 1e-8, weight_decay: SupportsFloat = 0.0, momentum_decay: SupportsFloat = 4e-3,
          maximize: bool = False, decoupled_weight_decay: bool = False, check_finite: bool = False) -> None:
    """NAdam (torch.optim.NAdam), in place. ``mu_product`` is a float64 array of one element
    holding Π (start it at 1.0); it is updated too.

    ::

        μ_t := β1 (1 - ½ 0.96^(t ψ)),  μ_{t+1} := β1 (1 - ½ 0.96^((t+1) ψ))     (ψ = momentum_decay)
        Π_t := Π_{t-1} μ_t
        m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²;   d := sqrt(v / (1 - β2^t)) + ε
        W := W - lr (1 - μ_t) / (1 - Π_t) · g / d - lr μ_{t+1} / (1 - Π_t μ_{t+1}) · m / d

    Defaults: lr=0.002, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=0.004,
    maximize=False, decoupled_weight_decay=False, check_finite=False.
    """
    beta1, beta2 = _betas(betas)
    _run(_NADAM, param, grad, (exp_avg, exp_avg_sq, mu_product), step, (lr, beta1, beta2, eps, weight_decay, momentum_decay),
         _flags(maximize, decoupled_weight_decay, check_finite))


def radam(param: Array, grad: Array, exp_avg: Array, exp_avg_sq: Array, step: int = 1, *,
          lr: SupportsFloat = 1e-3, betas: Betas = (0.9, 0.999), eps: SupportsFloat = 1e-8,
          weight_decay: SupportsFloat = 0.0, maximize: bool = False, decoupled_weight_decay: bool = False,
          check_finite: bool = False) -> None:
    """RAdam (torch.optim.RAdam), in place.

    ::

        m := β1 m + (1 - β1) g;   v := β2 v + (1 - β2) g²;   c1 := 1 - β1^t,  c2 := 1 - β2^t
        ρ∞ := 2 / (1 - β2) - 1;   ρ_t := ρ∞ - 2 t β2^t / c2
        ρ_t > 5:  r := sqrt((ρ_t - 4)(ρ_t - 2) ρ∞ / ((ρ∞ - 4)(ρ∞ - 2) ρ_t))
                  W := W - (lr r sqrt(c2) / c1) m / (sqrt(v) + ε)
        else:     W := W - (lr / c1) m

    Defaults: lr=0.001, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False,
    decoupled_weight_decay=False, check_finite=False.
    """
    beta1, beta2 = _betas(betas)
    _run(_RADAM, param, grad, (exp_avg, exp_avg_sq), step, (lr, beta1, beta2, eps, weight_decay),
         _flags(maximize, decoupled_weight_decay, check_finite))


def lion(param: Array, grad: Array, exp_avg: Array, step: int = 1, *, lr: SupportsFloat = 1e-4,
         betas: Betas = (0.9, 0.99), weight_decay: SupportsFloat = 0.0, maximize: bool = False,
         decoupled_weight_decay: bool = True, check_finite: bool = False) -> None:
    """Lion (Chen et al. 2023), in place; weight decay is decoupled by default, as in the paper.

    ::

        c := β1 m + (1 - β1) g;   W := W - lr sign(c);   m := β2 m + (1 - β2) g      (sign(0) = 0, sign(NaN) = NaN)

    Defaults: lr=0.0001, betas=(0.9, 0.99), weight_decay=0, maximize=False,
    decoupled_weight_decay=True, check_finite=False.
    """
    beta1, beta2 = _betas(betas)
    _run(_LION, param, grad, (exp_avg,), step, (lr, beta1, beta2, weight_decay),
         _flags(maximize, decoupled_weight_decay, check_finite))
