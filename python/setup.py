"""Build hook for the wheel (everything else is in pyproject.toml).

The package carries libdescent.so, a native library built for this machine (and, when `make`
fetched it, libscipy_openblas.so), so its wheel must not claim to be pure Python
(``py3-none-any`` would install on macOS or ARM and fail at import). It is tagged
``py3-none-<platform>``: any Python 3 (the library is loaded with ctypes, no CPython ABI), no
ABI tag, the build platform (e.g. ``linux_x86_64``).

It also builds ``descent._accel`` (descent/_accel.c), the compiled call path of
``Optimizer.step()`` and ``descent.functional``, for the Python running the build. The extension
is optional: without a C compiler or Python's headers the build goes on without it, and on
another Python its file (named for the building CPython, e.g. ``.cpython-311-...so``) is simply
not imported. Either way the package calls the library through ctypes, with the same results
(``descent.accelerated()`` tells which path is in use), which is why the tag stays ``py3-none``.
"""

from setuptools import Extension, setup
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1 ships the command in the `wheel` package
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from wheel.bdist_wheel import bdist_wheel


class BinaryDistribution(Distribution):
    """A distribution with native code: installed into platlib, wheel not marked pure."""

    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    """The platform tag of a binary wheel, without the CPython ABI tags it does not need."""

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(distclass=BinaryDistribution, cmdclass={"bdist_wheel": PlatformWheel},
      ext_modules=[Extension("descent._accel", ["descent/_accel.c"], optional=True)])
