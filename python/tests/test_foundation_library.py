"""Loading the library: ABI version check, status names, last-error text, DESCENT_LIBRARY."""
import os
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

import descent
from conftest import skip_or_fail
from descent import _ffi

PYTHON_DIR = os.path.join(os.path.dirname(__file__), "..")


def run_python(code, **env):
    environment = dict(os.environ, PYTHONPATH=PYTHON_DIR, **env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=environment,
                          capture_output=True, text=True, timeout=60)


def test_abi_version_matches_package():
    assert descent.abi_version() == descent.ABI_VERSION == 1


@pytest.mark.parametrize("code,name", [
    (0, "DESCENT_OK"), (1, "DESCENT_ERR_NULL_POINTER"), (2, "DESCENT_ERR_INVALID_HANDLE"),
    (3, "DESCENT_ERR_WRONG_HANDLE_TYPE"), (4, "DESCENT_ERR_DTYPE"), (5, "DESCENT_ERR_SHAPE"),
    (6, "DESCENT_ERR_INVALID_ARGUMENT"), (7, "DESCENT_ERR_OUT_OF_MEMORY"),
    (8, "DESCENT_ERR_BUFFER_TOO_SMALL"), (9, "DESCENT_ERR_NON_FINITE"), (10, "DESCENT_ERR_IO"),
    (11, "DESCENT_ERR_CORRUPT"), (12, "DESCENT_ERR_CALLBACK"), (13, "DESCENT_ERR_INTERNAL"),
    (14, "DESCENT_ERR_UNSUPPORTED"), (15, "DESCENT_ERR_UNKNOWN"), (-1, "DESCENT_ERR_UNKNOWN"),
])
def test_status_strings(code, name):
    assert descent.status_string(code) == name


def test_every_error_class_maps_its_code():
    for code, cls in descent.errors.ERROR_CLASSES.items():
        assert descent.status_string(code) == cls.status
        error = descent.errors.error_for_status(code, "message")
        assert type(error) is cls and error.code == code and error.message == "message"


def test_exception_carries_library_message_and_code():
    with pytest.raises(descent.ShapeError) as info:
        descent.zeros((3, -1))
    error = info.value
    assert error.code == 5 and error.status == "DESCENT_ERR_SHAPE"
    assert "descent_tensor_zeros" in error.message and "negative extent -1" in error.message
    assert isinstance(error, ValueError) and isinstance(error, descent.DescentError)
    assert descent.last_error() == error.message


def test_last_error_is_thread_local():
    with pytest.raises(descent.ShapeError):
        descent.zeros((-2,))
    seen = []
    thread = threading.Thread(target=lambda: seen.append(descent.last_error()))
    thread.start()
    thread.join()
    assert seen == [""]
    assert "negative extent -2" in descent.last_error()


def test_descent_library_override(tmp_path):
    copy = tmp_path / "libdescent.so"
    shutil.copy(_ffi.library_path, copy)
    result = run_python("import descent; print(descent.library_path)", DESCENT_LIBRARY=str(copy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(copy)


def test_missing_library_is_a_clear_import_error(tmp_path):
    missing = tmp_path / "nowhere.so"
    result = run_python("""
        try:
            import descent
        except ImportError as error:
            print(type(error).__name__, error)
        """, DESCENT_LIBRARY=str(missing))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("LibraryLoadError") and str(missing) in result.stdout


def test_mismatched_abi_is_refused(tmp_path):
    """A library reporting another ABI version is refused at import with a clear message."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        skip_or_fail("no C compiler (cc or gcc) to build the impostor library")
    source = tmp_path / "fake.c"
    source.write_text("unsigned int descent_abi_version(void) { return 999; }\n")
    fake = tmp_path / "libdescent.so"
    subprocess.run([compiler, "-shared", "-fPIC", str(source), "-o", str(fake)], check=True)
    result = run_python("""
        try:
            import descent
        except ImportError as error:
            print(type(error).__name__, error)
        """, DESCENT_LIBRARY=str(fake))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("LibraryLoadError")
    assert "ABI version 999" in result.stdout and "needs version 1" in result.stdout
