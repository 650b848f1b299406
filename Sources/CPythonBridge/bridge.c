// The embedded interpreter for descent-pyrunner. Written against the stable parts of the CPython
// embedding API (PyConfig), in C because Python.h is a C header full of macros.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "CPythonBridge.h"

static int report_and_fail(const char *what) {
    fprintf(stderr, "descent-pyrunner: %s\n", what);
    if (PyErr_Occurred()) PyErr_Print();
    return 3;
}

int descent_run_pytest(const char *python_path, int argc, const char *const *argv) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    // Parse argv as our own, not as the interpreter's command line.
    config.parse_argv = 0;
    PyStatus status = PyConfig_SetBytesArgv(&config, argc, (char *const *)argv);
    if (PyStatus_Exception(status)) {
        PyConfig_Clear(&config);
        fprintf(stderr, "descent-pyrunner: cannot set argv\n");
        return 3;
    }
#ifdef DESCENT_PYTHON_EXECUTABLE
    // sys.executable is the python3 this runner was built against (not the runner itself), so
    // tests that start a subprocess with sys.executable get a real interpreter.
    status = PyConfig_SetBytesString(&config, &config.executable, DESCENT_PYTHON_EXECUTABLE);
    if (PyStatus_Exception(status)) {
        PyConfig_Clear(&config);
        fprintf(stderr, "descent-pyrunner: cannot set sys.executable\n");
        return 3;
    }
#endif
    status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        fprintf(stderr, "descent-pyrunner: interpreter failed to start: %s\n",
                status.err_msg ? status.err_msg : "unknown");
        return 3;
    }

    int result = 3;
    PyObject *sys_path = PySys_GetObject("path");  // borrowed
    PyObject *entry = PyUnicode_DecodeFSDefault(python_path);
    if (sys_path == NULL || entry == NULL || PyList_Insert(sys_path, 0, entry) != 0) {
        Py_XDECREF(entry);
        result = report_and_fail("cannot extend sys.path");
        goto done;
    }
    Py_DECREF(entry);

    PyObject *pytest = PyImport_ImportModule("pytest");
    if (pytest == NULL) {
        result = report_and_fail("cannot import pytest (pip install pytest)");
        goto done;
    }
    PyObject *arguments = PyList_New(0);
    for (int i = 1; arguments != NULL && i < argc; i++) {
        PyObject *argument = PyUnicode_DecodeFSDefault(argv[i]);
        if (argument == NULL || PyList_Append(arguments, argument) != 0) {
            Py_XDECREF(argument);
            Py_CLEAR(arguments);
            break;
        }
        Py_DECREF(argument);
    }
    if (arguments == NULL) {
        Py_DECREF(pytest);
        result = report_and_fail("cannot build the pytest argument list");
        goto done;
    }
    PyObject *exit_code = PyObject_CallMethod(pytest, "main", "O", arguments);
    Py_DECREF(arguments);
    Py_DECREF(pytest);
    if (exit_code == NULL) {
        result = report_and_fail("pytest.main raised");
        goto done;
    }
    long code = PyLong_AsLong(exit_code);  // pytest.ExitCode is an IntEnum
    Py_DECREF(exit_code);
    if (code == -1 && PyErr_Occurred()) {
        result = report_and_fail("pytest.main returned a non-integer");
        goto done;
    }
    result = (int)code;

done:
    fflush(stdout);
    fflush(stderr);
    if (Py_FinalizeEx() < 0 && result == 0) result = 120;
    return result;
}
