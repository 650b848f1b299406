/* descent._accel: the compiled call path for the package's two hottest Python calls.
 *
 * The package reaches libdescent through ctypes. A ctypes call converts each argument through
 * Python-level machinery (a 14-argument call costs ~1.5 us) and turning a NumPy array into a
 * pointer with `ndarray.ctypes.data` costs ~1 us per array, so `descent.functional.adam` on a
 * small tensor spent ~9 us in Python around a 0.1 us C step. This module makes those calls
 * directly:
 *
 *   optimizer_step(handle)                    descent_optimizer_step (Optimizer.step()'s hot path)
 *   rule(kind, param, grad, states, step, scalars, flags)
 *                                             descent_<rule>_step (descent.functional.<rule>)
 *
 * It does not link libdescent: `bind` receives the addresses of the functions the ctypes loader
 * already resolved (so $DESCENT_LIBRARY and every other loading rule stay the package's), and the
 * NumPy ndarray type. The package binds once at import and a second bind is refused, so no later
 * caller can point the module at other addresses; no call takes an address otherwise (handles
 * are checked by libdescent itself). `rule` takes only the common, valid case: exact ndarrays (or subclasses)
 * that are C-contiguous, aligned, of one float32/float64 format and one shape, writeable where
 * updated; an exact int step; exact floats for the scalars. For anything else it returns None and
 * the caller takes the ctypes path, whose checks raise the documented exception with its message:
 * this module never decides an error itself, so both paths fail alike. A C status other than 0 is
 * returned as is (the caller raises the exception for it, as the ctypes errcheck does).
 *
 * Both calls release the GIL around the C step, as ctypes does. The arrays' buffers are held
 * (PyObject_GetBuffer) for the duration of the call, so no other thread can resize or free them
 * underneath it.
 *
 * The function pointer types below restate include/descent.h; an in-tree build (make) compiles
 * this file with the header included and checks every type against it (DESCENT_ACCEL_CHECK). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef int32_t status_t;
typedef status_t (*optimizer_step_fn)(uint64_t, int32_t *);
/* descent_sgd_step, descent_adagrad_step, descent_lion_step */
typedef status_t (*rule_s1d4_fn)(int32_t, int64_t, void *, const void *, void *, int64_t, double, double, double,
                                 double, int32_t);
/* descent_adadelta_step */
typedef status_t (*rule_s2d4_fn)(int32_t, int64_t, void *, const void *, void *, void *, int64_t, double, double,
                                 double, double, int32_t);
/* descent_adamax_step, descent_radam_step */
typedef status_t (*rule_s2d5_fn)(int32_t, int64_t, void *, const void *, void *, void *, int64_t, double, double,
                                 double, double, double, int32_t);
/* descent_rmsprop_step, descent_adam_step, descent_adamw_step */
typedef status_t (*rule_s3d5_fn)(int32_t, int64_t, void *, const void *, void *, void *, void *, int64_t, double,
                                 double, double, double, double, int32_t);
/* descent_nadam_step: two states, then the float64 mu_product of one element */
typedef status_t (*rule_nadam_fn)(int32_t, int64_t, void *, const void *, void *, void *, double *, int64_t, double,
                                  double, double, double, double, double, int32_t);

#ifdef DESCENT_ACCEL_CHECK
#define SAME(type, function) _Static_assert(__builtin_types_compatible_p(type, __typeof__(&function)), #function)
SAME(optimizer_step_fn, descent_optimizer_step);
SAME(rule_s1d4_fn, descent_sgd_step);
SAME(rule_s1d4_fn, descent_adagrad_step);
SAME(rule_s1d4_fn, descent_lion_step);
SAME(rule_s2d4_fn, descent_adadelta_step);
SAME(rule_s2d5_fn, descent_adamax_step);
SAME(rule_s2d5_fn, descent_radam_step);
SAME(rule_s3d5_fn, descent_rmsprop_step);
SAME(rule_s3d5_fn, descent_adam_step);
SAME(rule_s3d5_fn, descent_adamw_step);
SAME(rule_nadam_fn, descent_nadam_step);
#endif

/* The rule kinds, in the order `bind` receives their functions (descent/functional.py: _KINDS). */
enum { SGD, ADAGRAD, ADADELTA, RMSPROP, ADAM, ADAMW, ADAMAX, NADAM, RADAM, LION, KINDS };

static const struct {
    int states;  /* state arrays after param and grad (NAdam: its two, then mu_product) */
    int scalars; /* doubles after step */
} shapes[KINDS] = {
    [SGD] = {1, 4}, [ADAGRAD] = {1, 4}, [ADADELTA] = {2, 4}, [RMSPROP] = {3, 5}, [ADAM] = {3, 5},
    [ADAMW] = {3, 5}, [ADAMAX] = {2, 5}, [NADAM] = {2, 6}, [RADAM] = {2, 5}, [LION] = {1, 4},
};

static optimizer_step_fn optimizer_step_function;
static void *rule_functions[KINDS];
static PyTypeObject *ndarray_type;
static int32_t dtype_float32, dtype_float64;

#define MAX_ARRAYS 6 /* param, grad, three states; NAdam's mu_product is held apart */

/* Holds the buffers a call has taken, released in one place whatever happens. */
typedef struct {
    Py_buffer views[MAX_ARRAYS + 1];
    int held;
} buffers;

static void release(buffers *b) {
    for (int i = 0; i < b->held; i++) PyBuffer_Release(&b->views[i]);
    b->held = 0;
}

/* The buffer of a C-contiguous, aligned ndarray (writeable when `writeable`), or NULL with no
 * Python error set when the array is not one (the caller then falls back). */
static Py_buffer *take(buffers *b, PyObject *array, int writeable) {
    if (!PyObject_TypeCheck(array, ndarray_type)) return NULL;
    Py_buffer *view = &b->views[b->held];
    int request = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writeable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(array, view, request) != 0) {
        PyErr_Clear();
        return NULL;
    }
    b->held++;
    if (view->itemsize <= 0 || ((uintptr_t)view->buf % (uintptr_t)view->itemsize) != 0) return NULL;
    return view;
}

static int same_shape(const Py_buffer *a, const Py_buffer *b) {
    if (a->ndim != b->ndim || a->itemsize != b->itemsize || strcmp(a->format, b->format) != 0) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

/* bind(optimizer_step, (sgd, adagrad, ..., lion), ndarray, float32 code, float64 code) */
static PyObject *bind(PyObject *module, PyObject *args) {
    (void)module;
    unsigned long long step_address;
    PyObject *rules, *type;
    int f32, f64;
    if (!PyArg_ParseTuple(args, "KO!O!ii", &step_address, &PyTuple_Type, &rules, &PyType_Type, &type, &f32, &f64))
        return NULL;
    if (optimizer_step_function != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "descent._accel is already bound");
        return NULL;
    }
    if (PyTuple_GET_SIZE(rules) != KINDS) {
        PyErr_Format(PyExc_ValueError, "bind expects %d rule functions", KINDS);
        return NULL;
    }
    void *functions[KINDS];
    for (int i = 0; i < KINDS; i++) {
        unsigned long long address = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(rules, i));
        if (address == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
        if (address == 0) {
            PyErr_SetString(PyExc_ValueError, "bind: a rule function address is 0");
            return NULL;
        }
        functions[i] = (void *)(uintptr_t)address;
    }
    if (step_address == 0) {
        PyErr_SetString(PyExc_ValueError, "bind: the optimizer step address is 0");
        return NULL;
    }
    memcpy(rule_functions, functions, sizeof functions);
    optimizer_step_function = (optimizer_step_fn)(uintptr_t)step_address;
    Py_INCREF(type);
    Py_XSETREF(ndarray_type, (PyTypeObject *)type);
    dtype_float32 = (int32_t)f32;
    dtype_float64 = (int32_t)f64;
    Py_RETURN_NONE;
}

/* optimizer_step(handle) -> True (stepped), False (skipped under the "skip" policy) or the
 * non-zero status */
static PyObject *optimizer_step(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 1 || optimizer_step_function == NULL) {
        PyErr_SetString(PyExc_TypeError, "optimizer_step(handle) after bind()");
        return NULL;
    }
    unsigned long long handle = PyLong_AsUnsignedLongLong(args[0]);
    if (handle == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    status_t status;
    int32_t skipped = 0;
    Py_BEGIN_ALLOW_THREADS
    status = optimizer_step_function((uint64_t)handle, &skipped);
    Py_END_ALLOW_THREADS
    if (status != 0) return PyLong_FromLong(status);
    return PyBool_FromLong(skipped == 0);
}

/* rule(kind, param, grad, states, step, scalars, flags) -> status, or None: take the ctypes path */
static PyObject *rule(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    if (nargs != 7 || !PyLong_CheckExact(args[0]) || !PyTuple_CheckExact(args[3]) || !PyTuple_CheckExact(args[5])) {
        PyErr_SetString(PyExc_TypeError, "rule(kind, param, grad, states, step, scalars, flags)");
        return NULL;
    }
    long kind = PyLong_AsLong(args[0]);
    if (kind < 0 || kind >= KINDS || rule_functions[kind] == NULL) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "rule: unknown kind, or bind() not called");
        return NULL;
    }
    PyObject *states = args[3], *scalars = args[5];
    const int nstates = shapes[kind].states + (kind == NADAM), nscalars = shapes[kind].scalars;
    if (PyTuple_GET_SIZE(states) != nstates || PyTuple_GET_SIZE(scalars) != nscalars) {
        PyErr_SetString(PyExc_TypeError, "rule: wrong number of states or scalars for this kind");
        return NULL;
    }
    double values[6];
    for (int i = 0; i < nscalars; i++) {
        PyObject *value = PyTuple_GET_ITEM(scalars, i);
        if (!PyFloat_CheckExact(value)) Py_RETURN_NONE;
        values[i] = PyFloat_AS_DOUBLE(value);
    }
    if (!PyLong_CheckExact(args[4]) || !PyLong_CheckExact(args[6])) Py_RETURN_NONE;
    int overflow = 0;
    long long step = PyLong_AsLongLongAndOverflow(args[4], &overflow);
    if (overflow) Py_RETURN_NONE;
    long flags = PyLong_AsLongAndOverflow(args[6], &overflow);
    if (overflow || flags < INT32_MIN || flags > INT32_MAX) Py_RETURN_NONE;

    buffers b = {.held = 0};
    void *pointers[MAX_ARRAYS] = {0};
    double *mu_product = NULL;
    Py_buffer *param = take(&b, args[1], 1), *grad = param ? take(&b, args[2], 0) : NULL;
    if (param == NULL || grad == NULL || !same_shape(param, grad)) goto fall_back;
    int32_t dtype;
    if (strcmp(param->format, "f") == 0 && param->itemsize == 4) dtype = dtype_float32;
    else if (strcmp(param->format, "d") == 0 && param->itemsize == 8) dtype = dtype_float64;
    else goto fall_back;
    pointers[0] = param->buf;
    pointers[1] = grad->buf;
    for (int i = 0; i < shapes[kind].states; i++) {
        PyObject *state = PyTuple_GET_ITEM(states, i);
        if (state == Py_None) continue;  /* NULL: the C step decides whether the options need it */
        Py_buffer *view = take(&b, state, 1);
        if (view == NULL || !same_shape(param, view)) goto fall_back;
        pointers[2 + i] = view->buf;
    }
    if (kind == NADAM) {
        Py_buffer *view = take(&b, PyTuple_GET_ITEM(states, 2), 1);
        if (view == NULL || strcmp(view->format, "d") != 0 || view->len != (Py_ssize_t)sizeof(double)) goto fall_back;
        mu_product = view->buf;
    }
    const int64_t count = (int64_t)(param->len / param->itemsize);
    const int32_t flag_bits = (int32_t)flags;
    void *const function = rule_functions[kind];
    void **p = pointers;
    const double *v = values;
    status_t status = 0;
    Py_BEGIN_ALLOW_THREADS
    switch (kind) {
        case SGD: case ADAGRAD: case LION:
            status = ((rule_s1d4_fn)function)(dtype, count, p[0], p[1], p[2], step, v[0], v[1], v[2], v[3], flag_bits);
            break;
        case ADADELTA:
            status = ((rule_s2d4_fn)function)(dtype, count, p[0], p[1], p[2], p[3], step, v[0], v[1], v[2], v[3],
                                              flag_bits);
            break;
        case ADAMAX: case RADAM:
            status = ((rule_s2d5_fn)function)(dtype, count, p[0], p[1], p[2], p[3], step, v[0], v[1], v[2], v[3],
                                              v[4], flag_bits);
            break;
        case RMSPROP: case ADAM: case ADAMW:
            status = ((rule_s3d5_fn)function)(dtype, count, p[0], p[1], p[2], p[3], p[4], step, v[0], v[1], v[2],
                                              v[3], v[4], flag_bits);
            break;
        case NADAM:
            status = ((rule_nadam_fn)function)(dtype, count, p[0], p[1], p[2], p[3], mu_product, step, v[0], v[1],
                                               v[2], v[3], v[4], v[5], flag_bits);
            break;
    }
    Py_END_ALLOW_THREADS
    release(&b);
    return PyLong_FromLong(status);

fall_back:
    release(&b);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"bind", bind, METH_VARARGS,
     "bind(optimizer_step, rules, ndarray, float32_code, float64_code): the C functions to call (addresses); "
     "once per process."},
    {"optimizer_step", (PyCFunction)(void (*)(void))optimizer_step, METH_FASTCALL,
     "optimizer_step(handle) -> True (stepped), False (skipped) or the non-zero status of "
     "descent_optimizer_step."},
    {"rule", (PyCFunction)(void (*)(void))rule, METH_FASTCALL,
     "rule(kind, param, grad, states, step, scalars, flags) -> status of descent_<rule>_step, or None when "
     "the arguments are not the common valid case (the caller then takes the ctypes path)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT, "descent._accel",
    "The compiled call path for Optimizer.step() and descent.functional (see descent/_accel.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__accel(void) { return PyModule_Create(&module_definition); }
