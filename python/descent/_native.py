"""The one base class for Python objects that own a libdescent handle."""

from __future__ import annotations

from typing import Optional, TypeVar

from ._ffi import lib

_Self = TypeVar("_Self", bound="NativeObject")


class NativeObject:
    """Owns one native handle (``self._handle``; 0 once released).

    Subclasses name their C destructor in ``_FREE`` (e.g. ``"descent_tensor_free"``). The handle is
    released by :meth:`close` (idempotent), by leaving a ``with`` block, or, as a last resort,
    when the object is garbage-collected. Subclasses that own more (child objects, kept-alive
    arrays) extend :meth:`close` and call ``super().close()`` after releasing their children.
    """

    __slots__ = ()
    _FREE: Optional[str] = None

    @property
    def handle(self) -> int:
        """The raw C handle (an int; 0 after close)."""
        handle: int = getattr(self, "_handle", 0)
        return handle

    def close(self) -> None:
        """Frees the native object. Safe to call more than once."""
        handle: int = getattr(self, "_handle", 0)
        setattr(self, "_handle", 0)  # subclasses declare the slot
        if handle and self._FREE is not None:
            getattr(lib, self._FREE)(handle)

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass
