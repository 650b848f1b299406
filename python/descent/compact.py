"""Compact optimizer state: bfloat16 or 8-bit blockwise instead of the params' dtype.

Every stateful optimizer of :mod:`descent.optim` takes ``state_dtype=`` (and, for bfloat16,
``state_rounding=`` and ``seed=``)::

    opt = descent.optim.Adam(params, lr=1e-3, state_dtype="int8")          # ~4x less state memory
    opt = descent.optim.SGD(params, lr=0.1, momentum=0.9, state_dtype="bfloat16",
                            state_rounding="stochastic", seed=7)          # 2x less

``state_dtype``: "full" (default: the params' dtype), "bfloat16" (2 bytes per element per slot;
every stateful rule) or "int8" (8-bit blockwise, ~1 byte: per block of 256 elements one float32
scale and one code of a dynamic floating-point map per element, signed for the first moment,
unsigned for the second, as in Dettmers et al. 2022; Adam, AdamW without AMSGrad, Adamax, NAdam,
RAdam). Compact formats need float32 params. Arithmetic stays float32: each state element is
decoded when a step reads it and rounded when the step stores it. ``state_rounding``: "nearest"
(round to nearest even, default) or "stochastic" (bfloat16 only; deterministic: the random bits are
a hash of ``seed``, the step, the param, the slot and the element index, so results are the same
for any thread count or instruction set). The format may change only before the first step
(:meth:`CompactState.set_state_format`).

``state_dict()`` returns the decoded float32 values; ``load_state_dict()`` rounds the values it is
given to this optimizer's format (a bfloat16 or 8-bit state_dict loads back exactly). ``save``/``load`` store the compact
bytes themselves (checkpoint format version 2), and a load adopts the file's format: the state
round-trips bit for bit. ``state_bytes`` is the memory the state takes. docs/optimizers.md
("Compact state") has the formats.
"""

from __future__ import annotations

import ctypes

from . import errors
from ._ffi import lib

#: state_dtype names -> DESCENT_STATE_* codes.
STATE_DTYPES = {"full": 0, "bfloat16": 1, "int8": 2}
#: state_rounding names -> DESCENT_ROUND_* codes.
STATE_ROUNDINGS = {"nearest": 0, "stochastic": 1}
_DTYPE_NAMES = {code: name for name, code in STATE_DTYPES.items()}
_ROUNDING_NAMES = {code: name for name, code in STATE_ROUNDINGS.items()}

__all__ = ["CompactState", "STATE_DTYPES", "STATE_ROUNDINGS"]


class CompactState:
    """The state-format part of :class:`descent.optim.Optimizer` (C:
    ``descent_optimizer_set_state_format`` / ``_state_format`` / ``_sizes``)."""

    _handle: int

    def _check_open(self) -> None:  # provided by Optimizer
        raise NotImplementedError

    def set_state_format(self, state_dtype: str, state_rounding: str = "nearest", seed: int = 0) -> None:
        """Chooses how the state is stored: ``state_dtype`` "full", "bfloat16" or "int8",
        ``state_rounding`` "nearest" or "stochastic" (bfloat16 only) and the stochastic rounding
        ``seed`` (0 ... 2**64 - 1). Only before the first step (step_count 0); state already
        allocated is converted. Raises InvalidArgumentError (unknown names, a step taken, "int8"
        outside the Adam family, with "stochastic" or with amsgrad), DTypeError (a float64 param
        with a compact format), TypeError (non-string names, a non-integer seed); on error
        nothing changed."""
        self._check_open()
        if not isinstance(state_dtype, str) or not isinstance(state_rounding, str):
            raise TypeError("state_dtype and state_rounding must be strings")
        if state_dtype not in STATE_DTYPES:
            raise errors.InvalidArgumentError(f"state_dtype must be one of {sorted(STATE_DTYPES)}, got {state_dtype!r}")
        if state_rounding not in STATE_ROUNDINGS:
            raise errors.InvalidArgumentError(
                f"state_rounding must be one of {sorted(STATE_ROUNDINGS)}, got {state_rounding!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        if not 0 <= seed < 2 ** 64:
            raise errors.InvalidArgumentError(f"seed must be in [0, 2**64), got {seed}")
        lib.descent_optimizer_set_state_format(self._handle, STATE_DTYPES[state_dtype],
                                               STATE_ROUNDINGS[state_rounding], seed)

    def _state_format(self) -> tuple[str, str, int]:
        self._check_open()
        fmt, rounding, seed = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_uint64()
        lib.descent_optimizer_state_format(self._handle, ctypes.byref(fmt), ctypes.byref(rounding), ctypes.byref(seed))
        return _DTYPE_NAMES[fmt.value], _ROUNDING_NAMES[rounding.value], int(seed.value)

    @property
    def state_dtype(self) -> str:
        """How the state is stored: "full" (the params' dtype), "bfloat16" or "int8"."""
        return self._state_format()[0]

    @property
    def state_rounding(self) -> str:
        """How bfloat16 state is rounded: "nearest" or "stochastic" ("nearest" for other formats)."""
        return self._state_format()[1]

    @property
    def state_seed(self) -> int:
        """The seed of stochastic rounding (0 unless the state is bfloat16)."""
        return self._state_format()[2]

    @property
    def state_bytes(self) -> int:
        """Bytes of memory all allocated state takes (the second figure of C
        ``descent_optimizer_sizes``): 4 per element per float32 slot, 2 per bfloat16 slot,
        1 + 4/256 per 8-bit slot."""
        self._check_open()
        out = ctypes.c_int64()
        lib.descent_optimizer_sizes(self._handle, None, ctypes.byref(out))
        return int(out.value)
