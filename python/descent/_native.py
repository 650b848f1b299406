"""The one base class for Python objects that own a libdescent handle."""

from . import errors
from ._ffi import lib


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
    _FREE = None
    _KIND = "object"

    @property
    def _handle(self):
        """The live handle; raises ClosedError once the object is closed."""
        handle = getattr(self, "_raw", 0)
        if not handle:
            raise errors.ClosedError(f"this {self._kind()} is closed: it cannot be used after close()")
        return handle

    @_handle.setter
    def _handle(self, value):
        self._raw = value

    def _kind(self):
        return self._KIND

    @property
    def handle(self):
        """The raw C handle (an int; 0 after close)."""
        return getattr(self, "_raw", 0)

    @property
    def closed(self):
        """True once :meth:`close` has released the native object."""
        return not getattr(self, "_raw", 0)

    def close(self):
        """Frees the native object. Safe to call more than once."""
        handle, self._raw = getattr(self, "_raw", 0), 0
        if handle:
            getattr(lib, self._FREE)(handle)

    def __reduce_ex__(self, protocol):
        # The default would copy the handle number: two Python objects owning one native object
        # (the first close breaks the other) or, unpickled elsewhere, a number naming nothing.
        raise TypeError(f"a descent {self._kind()} cannot be copied or pickled: it owns native state in libdescent "
                        f"that a copy would share{self._COPY_HINT}")

    _COPY_HINT = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass
