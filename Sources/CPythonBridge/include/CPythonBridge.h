// Embedding entry points for descent-pyrunner. Python.h comes from the python3 on PATH
// (Package.swift asks it for its include directory and libpython).
#ifndef DESCENT_CPYTHON_BRIDGE_H
#define DESCENT_CPYTHON_BRIDGE_H

/// Starts the interpreter, sets sys.argv, prepends `python_path` to sys.path, runs
/// `pytest.main(arguments)` and returns its exit status (or 3 when the interpreter or pytest
/// could not start, with the Python traceback printed). Finalizes the interpreter before returning.
int descent_run_pytest(const char *python_path, int argc, const char *const *argv);

#endif
