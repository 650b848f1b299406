"""The one base class for Python objects that own a libdescent handle."""

from ._ffi import lib


class NativeObject:
    """Owns one native handle (``self._handle``; 0 once released).

    Subclasses name their C destructor in ``_FREE`` (e.g. ``"descent_tensor_free"``). The handle is
    released by :meth:`close` (idempotent), by leaving a ``with`` block, or, as a last resort,
    when the object is garbage-collected. Subclasses that own more (child objects, kept-alive
    arrays) extend :meth:`close` and call ``super().close()`` after releasing their children.
    """

    __slots__ = ()
    _FREE = None

    @property
    def handle(self):
        """The raw C handle (an int; 0 after close)."""
        return getattr(self, "_handle", 0)

    def close(self):
        """Frees the native object. Safe to call more than once."""
        handle, self._handle = getattr(self, "_handle", 0), 0
        if handle:
            getattr(lib, self._FREE)(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass
