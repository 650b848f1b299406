"""Exceptions raised by the descent package.

Every failing C call becomes one of these, carrying the numeric status (``code``), its C name
(``status``) and the library's own message (``message``, from ``descent_last_error()``). Each
class also derives from the closest built-in exception, so ``except ValueError`` keeps working.
"""

from __future__ import annotations

from typing import Optional


class DescentError(Exception):
    """Base class: a libdescent call returned a status other than DESCENT_OK."""

    code: Optional[int] = None
    status: str = "DESCENT_ERR_UNKNOWN"

    def __init__(self, message: str, code: Optional[int] = None, status: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return f"{self.message} [{self.status}]"


class NullPointerError(DescentError, ValueError):
    code, status = 1, "DESCENT_ERR_NULL_POINTER"


class InvalidHandleError(DescentError, ValueError):
    """A null, freed, stale or never-issued handle (for example a closed Tensor)."""

    code, status = 2, "DESCENT_ERR_INVALID_HANDLE"


class ClosedError(InvalidHandleError):
    """The object was closed (``close()``, a ``with`` block's end): it cannot be used any more.
    Raised by the Python package itself, before any C call; a subclass of InvalidHandleError."""


class WrongHandleTypeError(DescentError, TypeError):
    code, status = 3, "DESCENT_ERR_WRONG_HANDLE_TYPE"


class DTypeError(DescentError, TypeError):
    code, status = 4, "DESCENT_ERR_DTYPE"


class ShapeError(DescentError, ValueError):
    code, status = 5, "DESCENT_ERR_SHAPE"


class InvalidArgumentError(DescentError, ValueError):
    code, status = 6, "DESCENT_ERR_INVALID_ARGUMENT"


class OutOfMemoryError(DescentError, MemoryError):
    code, status = 7, "DESCENT_ERR_OUT_OF_MEMORY"


class BufferTooSmallError(DescentError, ValueError):
    code, status = 8, "DESCENT_ERR_BUFFER_TOO_SMALL"


class NonFiniteError(DescentError, FloatingPointError):
    code, status = 9, "DESCENT_ERR_NON_FINITE"


class DescentIOError(DescentError, OSError):
    code, status = 10, "DESCENT_ERR_IO"


class CorruptFileError(DescentError, ValueError):
    code, status = 11, "DESCENT_ERR_CORRUPT"


class CallbackError(DescentError, RuntimeError):
    code, status = 12, "DESCENT_ERR_CALLBACK"


class InternalError(DescentError, RuntimeError):
    code, status = 13, "DESCENT_ERR_INTERNAL"


class UnsupportedError(DescentError, NotImplementedError):
    code, status = 14, "DESCENT_ERR_UNSUPPORTED"


class LibraryLoadError(DescentError, ImportError):
    """libdescent.so was not found, failed to load, or has another ABI version."""

    status = "DESCENT_LIBRARY_LOAD"


ERROR_CLASSES: dict[Optional[int], type[DescentError]] = {
    cls.code: cls
    for cls in (
        NullPointerError, InvalidHandleError, WrongHandleTypeError, DTypeError, ShapeError,
        InvalidArgumentError, OutOfMemoryError, BufferTooSmallError, NonFiniteError,
        DescentIOError, CorruptFileError, CallbackError, InternalError, UnsupportedError,
    )
}


def error_for_status(code: int, message: str) -> DescentError:
    """The exception instance for a non-zero status code and the library's message."""
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(f"code must be an int status code, got {type(code).__name__}")
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        return DescentError(message, code=code, status=f"DESCENT_ERR_UNKNOWN({code})")
    return cls(message)
