"""The one base class for Python objects that own a libdescent handle."""

from __future__ import annotations

from typing import Any, Optional, TypeVar

from . import errors
from ._ffi import lib

_Self = TypeVar("_Self", bound="NativeObject")


class NativeObject:
    """Owns one native handle (``self._raw``; 0 once released).

    Subclasses name their C destructor in ``_FREE`` (e.g. ``"descent_tensor_free"``) and what they
    are in ``_KIND`` (for messages). The handle is released by :meth:`close` (idempotent), by
    leaving a ``with`` block, or, as a last resort, when the object is garbage-collected. After
    close, every use raises :class:`descent.ClosedError` saying so: methods reach the handle
    through ``self._handle``, which checks. Subclasses with ``__slots__`` declare ``"_raw"``.
    Subclasses that own more (child objects, kept-alive arrays) extend :meth:`close` and call
    ``super().close()`` after releasing their children.
    """

    __slots__ = ()
    _FREE: Optional[str] = None
    _KIND = "object"

    @property
    def _handle(self) -> int:
        """The live handle; raises ClosedError once the object is closed."""
        handle: int = getattr(self, "_raw", 0)
        if not handle:
            raise errors.ClosedError(f"this {self._kind()} is closed: it cannot be used after close()")
        return handle

    @_handle.setter
    def _handle(self, value: int) -> None:
        setattr(self, "_raw", value)  # subclasses declare the slot

    def _kind(self) -> str:
        return self._KIND

    @property
    def handle(self) -> int:
        """The raw C handle (an int; 0 after close)."""
        handle: int = getattr(self, "_raw", 0)
        return handle

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has released the native object."""
        return not getattr(self, "_raw", 0)

    def close(self) -> None:
        """Frees the native object. Safe to call more than once."""
        handle: int = getattr(self, "_raw", 0)
        setattr(self, "_raw", 0)
        if handle and self._FREE is not None:
            getattr(lib, self._FREE)(handle)

    def __reduce_ex__(self, protocol: Any) -> Any:
        # The default would copy the handle number: two Python objects owning one native object
        # (the first close breaks the other) or, unpickled elsewhere, a number naming nothing.
        raise TypeError(f"a descent {self._kind()} cannot be copied or pickled: it owns native state in libdescent "
                        f"that a copy would share{self._COPY_HINT}")

    _COPY_HINT = ""

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass
