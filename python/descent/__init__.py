"""Descent: a gradient-descent engine with a Swift core, used here through its C ABI.

Quick start::

    import numpy as np
    import descent

    w = descent.tensor([10.0])                  # J(W) = 0.1 (W - 5)^2, starting at W = 10
    g = descent.zeros(1)
    for _ in range(50):
        g.copy_from(0.2 * (w.numpy() - 5.0))    # dJ/dW
        descent.gd_step(w, g, learning_rate=1.0)
    print(w.numpy())                             # ~[5.00007]

The library is found through $DESCENT_LIBRARY, then the package folder, then the repository's
build/lib (see descent._ffi).
"""

from __future__ import annotations

import ctypes
from typing import SupportsInt

from . import errors
from . import _ffi
from ._ffi import ABI_VERSION, last_error, library_path, lib as _lib
from .errors import *  # noqa: F401,F403  (the exception classes)
from .tensor import (
    Tensor, arange, full, gd_step, linspace, matmul, ones, random_normal, random_uniform, tensor,
    wrap, zeros,
)
from . import clip, schedules  # noqa: E402  (learning-rate schedules, gradient clipping)
from .clip import clip_grad_norm, clip_grad_value  # noqa: F401
from .schedules import LRScheduler, ReduceLROnPlateau, Schedule  # noqa: F401
# Gradients (@@gradients@@): analytic forward/backward and numerical gradient checking.
from . import gradcheck, nn
from .gradcheck import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403

from . import functional  # noqa: E402  (stateless update rules)
from . import optim  # noqa: E402  (stateful optimizers over parameter groups)
# Training (@@graphs@@, @@training@@): graphs with autodiff, models, the fit loop.
from . import graph, models, training  # noqa: E402
from .graph import Graph  # noqa: F401,E402
from .models import MLP, Model  # noqa: F401,E402
from .training import (  # noqa: F401,E402
    DataLoader, History, StopTraining, Trainer, evaluate, fit, lr_range_test, random_restarts,
)

__version__ = "0.1.0"


def abi_version() -> int:
    """The loaded library's ABI version (equal to descent.ABI_VERSION, checked at import)."""
    return int(_lib.descent_abi_version())


def blas_name() -> str:
    """Which BLAS serves descent's matrix products: the path of the bundled newer OpenBLAS
    (libscipy_openblas.so beside libdescent.so), a library named by $DESCENT_BLAS, or the system
    OpenBLAS (see descent_blas_name in descent.h)."""
    name: bytes = _lib.descent_blas_name()
    return name.decode()


ISAS = ("baseline", "avx2", "avx512")


def isa() -> str:
    """The instruction-set path of the optimizer update kernels: "baseline" (SSE2, any x86-64),
    "avx2" or "avx512". Chosen once per process at the first step: $DESCENT_ISA when set, else the
    widest path the CPU has. Every path gives bit-identical results (the same loops, no fused
    multiply-adds), so a run reproduces on any x86-64 machine. Raises UnsupportedError when
    $DESCENT_ISA names an unknown path or one this CPU lacks (every step then raises the same
    until :func:`set_isa` picks an available one)."""
    name = ctypes.c_char_p()
    _lib.descent_isa(ctypes.byref(name))
    assert name.value is not None
    return name.value.decode()


def set_isa(name: str) -> None:
    """Runs every later update on the kernel path `name` ("baseline", "avx2" or "avx512").
    InvalidArgumentError for another name; UnsupportedError (and no change) when this CPU lacks
    the path. Results do not change with the path, only the speed."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str (one of {', '.join(ISAS)}), got {type(name).__name__}")
    _lib.descent_set_isa(name.encode())


def accelerated() -> bool:
    """True when Optimizer.step() and the descent.functional rules call libdescent through the
    compiled extension ``descent._accel`` (built by ``make`` and by ``pip install`` for the
    Python doing the build), False when they use ctypes alone: $DESCENT_NO_ACCEL=1, or a Python
    the extension was not built for. Results are identical either way; only the per-call cost
    differs (~0.1 against ~1-9 us)."""
    return _ffi.accel is not None


def available_isas() -> list[str]:
    """The kernel paths this CPU can run, narrowest first (always starts with "baseline")."""
    result = []
    for name in ISAS:
        flag = ctypes.c_int32()
        _lib.descent_isa_available(name.encode(), ctypes.byref(flag))
        if flag.value:
            result.append(name)
    return result


def status_string(code: SupportsInt) -> str:
    """The C name of a status code, e.g. status_string(5) == 'DESCENT_ERR_SHAPE'."""
    name: bytes = _lib.descent_status_string(int(code))
    return name.decode()


__all__ = [
    "ABI_VERSION", "ACTIVATIONS", "BatchNorm", "BufferTooSmallError", "CallbackError",
    "ClosedError", "CorruptFileError", "DTypeError", "DataLoader", "DeltaRuleResult",
    "DescentError", "DescentIOError", "ERROR_CLASSES", "GradientCheckResult", "Graph", "History",
    "INIT_SCHEMES", "InternalError", "InvalidArgumentError", "InvalidHandleError", "LRScheduler",
    "LibraryLoadError", "MLP", "Model", "NonFiniteError", "NullPointerError", "Optional",
    "OutOfMemoryError", "ReduceLROnPlateau", "SEED_STEP_SIZES", "STEP_SIZES", "Schedule",
    "ShapeError", "StopTraining", "Tensor", "Trainer", "UnsupportedError", "WrongHandleTypeError",
    "ISAS", "abi_version", "accelerated", "activation", "activation_backward", "activation_derivative", "arange",
    "batchnorm_backward", "batchnorm_forward_infer", "batchnorm_forward_train", "bce_loss",
    "bce_with_logits_loss", "blas_name", "clip", "clip_grad_norm", "clip_grad_value",
    "compare_gradients", "delta_rule", "dense_backward", "dense_forward", "error_for_status",
    "errors", "evaluate", "fans", "fit", "format_sweep", "full", "functional", "gd_step",
    "gradcheck", "gradient_check", "graph", "init_fill", "init_weights", "isa", "l2_penalty",
    "last_error", "leaky_relu", "library_path", "linspace", "lr_range_test", "matmul", "models",
    "mse_loss", "multiclass_hinge_linear", "multiclass_hinge_loss", "nn", "numerical_gradient",
    "available_isas", "ones", "optim", "quadratic_cost", "random_normal", "random_restarts", "random_uniform",
    "relu", "schedules", "set_isa", "sigmoid", "softmax", "softmax_cross_entropy", "sse_loss",
    "status_string", "step_size_sweep", "tanh", "tensor", "training", "wrap", "zeros",
]
