"""The one place where libdescent.so is loaded and every C function is declared.

Library lookup, first match wins:
  1. $DESCENT_LIBRARY (a path to libdescent.so);
  2. libdescent.so inside this package (``pip install ./python`` after ``make`` puts it there);
  3. build/lib/libdescent.so of the repository this package sits in (``make`` output).

Each FFI row is ``(name, restype, argtypes)`` mirroring include/descent.h. Functions returning
``descent_status`` get an errcheck that turns a non-zero status into the matching exception from
:mod:`descent.errors`, carrying ``descent_last_error()``'s message.
"""

import ctypes
import os
from ctypes import POINTER, c_char_p, c_double, c_int32, c_int64, c_uint32, c_uint64, c_void_p

from . import errors

ABI_VERSION = 1  # must equal DESCENT_ABI_VERSION in include/descent.h

status_t = c_int32
handle_t = c_uint64
STATUS = "status"  # marks functions whose int32 result is a descent_status

_here = os.path.dirname(os.path.abspath(__file__))


def _candidate_paths():
    override = os.environ.get("DESCENT_LIBRARY")
    if override:
        return [override]
    return [
        os.path.join(_here, "libdescent.so"),
        os.path.join(os.path.dirname(os.path.dirname(_here)), "build", "lib", "libdescent.so"),
    ]


def _load():
    tried = []
    for path in _candidate_paths():
        if not os.path.exists(path):
            tried.append(f"{path} (not found)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            raise errors.LibraryLoadError(f"cannot load {path}: {exc}") from exc
    raise errors.LibraryLoadError(
        "libdescent.so not found; run `make` in the repository or set DESCENT_LIBRARY. Tried: "
        + "; ".join(tried))


lib, library_path = _load()

# ---------------------------------------------------------------------------------------------
# The FFI table: one row per C function in include/descent.h.
# ---------------------------------------------------------------------------------------------
_P_HANDLE = POINTER(handle_t)
_P_I64 = POINTER(c_int64)
_P_F64 = POINTER(c_double)

FUNCTIONS = [
    # uint32_t descent_abi_version(void);
    ("descent_abi_version", c_uint32, []),
    # const char *descent_status_string(descent_status status);
    ("descent_status_string", c_char_p, [status_t]),
    # const char *descent_last_error(void);
    ("descent_last_error", c_char_p, []),
    # descent_status descent_tensor_zeros(int32_t dtype, int64_t rank, const int64_t *shape, descent_tensor *out);
    ("descent_tensor_zeros", STATUS, [c_int32, c_int64, _P_I64, _P_HANDLE]),
    ("descent_tensor_ones", STATUS, [c_int32, c_int64, _P_I64, _P_HANDLE]),
    # descent_status descent_tensor_full(int32_t dtype, int64_t rank, const int64_t *shape, double value, descent_tensor *out);
    ("descent_tensor_full", STATUS, [c_int32, c_int64, _P_I64, c_double, _P_HANDLE]),
    # descent_status descent_tensor_arange(int32_t dtype, double start, double stop, double step, descent_tensor *out);
    ("descent_tensor_arange", STATUS, [c_int32, c_double, c_double, c_double, _P_HANDLE]),
    # descent_status descent_tensor_linspace(int32_t dtype, double start, double stop, int64_t count, int32_t endpoint, descent_tensor *out);
    ("descent_tensor_linspace", STATUS, [c_int32, c_double, c_double, c_int64, c_int32, _P_HANDLE]),
    # descent_status descent_tensor_from_buffer(int32_t dtype, int64_t rank, const int64_t *shape, const void *data, int64_t count, descent_tensor *out);
    ("descent_tensor_from_buffer", STATUS, [c_int32, c_int64, _P_I64, c_void_p, c_int64, _P_HANDLE]),
    # descent_status descent_tensor_wrap(int32_t dtype, int64_t rank, const int64_t *shape, void *data, int64_t count, descent_tensor *out);
    ("descent_tensor_wrap", STATUS, [c_int32, c_int64, _P_I64, c_void_p, c_int64, _P_HANDLE]),
    # descent_status descent_tensor_random_uniform(int32_t dtype, int64_t rank, const int64_t *shape, uint64_t seed, double low, double high, descent_tensor *out);
    ("descent_tensor_random_uniform", STATUS, [c_int32, c_int64, _P_I64, c_uint64, c_double, c_double, _P_HANDLE]),
    # descent_status descent_tensor_random_normal(int32_t dtype, int64_t rank, const int64_t *shape, uint64_t seed, double mean, double std, descent_tensor *out);
    ("descent_tensor_random_normal", STATUS, [c_int32, c_int64, _P_I64, c_uint64, c_double, c_double, _P_HANDLE]),
    # descent_status descent_tensor_clone(descent_tensor tensor, descent_tensor *out);
    ("descent_tensor_clone", STATUS, [handle_t, _P_HANDLE]),
    # descent_status descent_tensor_free(descent_tensor tensor);
    ("descent_tensor_free", STATUS, [handle_t]),
    # descent_status descent_tensor_dtype(descent_tensor tensor, int32_t *out);
    ("descent_tensor_dtype", STATUS, [handle_t, POINTER(c_int32)]),
    # descent_status descent_tensor_rank(descent_tensor tensor, int64_t *out);
    ("descent_tensor_rank", STATUS, [handle_t, _P_I64]),
    # descent_status descent_tensor_count(descent_tensor tensor, int64_t *out);
    ("descent_tensor_count", STATUS, [handle_t, _P_I64]),
    # descent_status descent_tensor_shape(descent_tensor tensor, int64_t *out, int64_t capacity);
    ("descent_tensor_shape", STATUS, [handle_t, _P_I64, c_int64]),
    # descent_status descent_tensor_copy_to(descent_tensor tensor, int32_t dtype, void *out, int64_t capacity);
    ("descent_tensor_copy_to", STATUS, [handle_t, c_int32, c_void_p, c_int64]),
    # descent_status descent_tensor_copy_from(descent_tensor tensor, int32_t dtype, const void *data, int64_t count);
    ("descent_tensor_copy_from", STATUS, [handle_t, c_int32, c_void_p, c_int64]),
    # descent_status descent_tensor_add(descent_tensor a, descent_tensor b, descent_tensor out);
    ("descent_tensor_add", STATUS, [handle_t, handle_t, handle_t]),
    ("descent_tensor_sub", STATUS, [handle_t, handle_t, handle_t]),
    ("descent_tensor_mul", STATUS, [handle_t, handle_t, handle_t]),
    # descent_status descent_tensor_scale(descent_tensor x, double alpha);
    ("descent_tensor_scale", STATUS, [handle_t, c_double]),
    # descent_status descent_tensor_axpy(double alpha, descent_tensor x, descent_tensor y);
    ("descent_tensor_axpy", STATUS, [c_double, handle_t, handle_t]),
    # descent_status descent_tensor_sum(descent_tensor x, double *out);  (likewise mean, norm_l2, max_abs)
    ("descent_tensor_sum", STATUS, [handle_t, _P_F64]),
    ("descent_tensor_mean", STATUS, [handle_t, _P_F64]),
    ("descent_tensor_norm_l2", STATUS, [handle_t, _P_F64]),
    ("descent_tensor_max_abs", STATUS, [handle_t, _P_F64]),
    # descent_status descent_tensor_dot(descent_tensor a, descent_tensor b, double *out);
    ("descent_tensor_dot", STATUS, [handle_t, handle_t, _P_F64]),
    # descent_status descent_tensor_matmul(descent_tensor a, descent_tensor b, int32_t trans_a, int32_t trans_b, double alpha, double beta, descent_tensor c);
    ("descent_tensor_matmul", STATUS, [handle_t, handle_t, c_int32, c_int32, c_double, c_double, handle_t]),
    # descent_status descent_gd_step(descent_tensor param, descent_tensor grad, double learning_rate);
    ("descent_gd_step", STATUS, [handle_t, handle_t, c_double]),
    # ---- optimizers (@@optimizers@@) ----
    # descent_status descent_sgd_step(int32_t dtype, int64_t count, void *param, const void *grad, void *momentum_buffer, int64_t step, double lr, double momentum, double dampening, double weight_decay, int32_t flags);
    ("descent_sgd_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_adagrad_step(int32_t dtype, int64_t count, void *param, const void *grad, void *sum, int64_t step, double lr, double lr_decay, double weight_decay, double eps, int32_t flags);
    ("descent_adagrad_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_adadelta_step(int32_t dtype, int64_t count, void *param, const void *grad, void *square_avg, void *acc_delta, int64_t step, double lr, double rho, double eps, double weight_decay, int32_t flags);
    ("descent_adadelta_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_rmsprop_step(int32_t dtype, int64_t count, void *param, const void *grad, void *square_avg, void *grad_avg, void *momentum_buffer, int64_t step, double lr, double alpha, double eps, double weight_decay, double momentum, int32_t flags);
    ("descent_rmsprop_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_adam_step(int32_t dtype, int64_t count, void *param, const void *grad, void *exp_avg, void *exp_avg_sq, void *max_exp_avg_sq, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, int32_t flags);
    ("descent_adam_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_adamw_step(... same as descent_adam_step ...);
    ("descent_adamw_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_adamax_step(int32_t dtype, int64_t count, void *param, const void *grad, void *exp_avg, void *exp_inf, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, int32_t flags);
    ("descent_adamax_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_nadam_step(int32_t dtype, int64_t count, void *param, const void *grad, void *exp_avg, void *exp_avg_sq, double *mu_product, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, double momentum_decay, int32_t flags);
    ("descent_nadam_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_radam_step(int32_t dtype, int64_t count, void *param, const void *grad, void *exp_avg, void *exp_avg_sq, int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay, int32_t flags);
    ("descent_radam_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_lion_step(int32_t dtype, int64_t count, void *param, const void *grad, void *exp_avg, int64_t step, double lr, double beta1, double beta2, double weight_decay, int32_t flags);
    ("descent_lion_step", STATUS, [c_int32, c_int64, c_void_p, c_void_p, c_void_p, c_int64, c_double, c_double, c_double, c_double, c_int32]),
    # descent_status descent_optimizer_new(int32_t rule, descent_optimizer *out);
    ("descent_optimizer_new", STATUS, [c_int32, _P_HANDLE]),
    # descent_status descent_optimizer_free(descent_optimizer optimizer);
    ("descent_optimizer_free", STATUS, [handle_t]),
    # descent_status descent_optimizer_add_group(descent_optimizer optimizer, const descent_tensor *params, int64_t count, int64_t *group_out);
    ("descent_optimizer_add_group", STATUS, [handle_t, _P_HANDLE, c_int64, _P_I64]),
    # descent_status descent_optimizer_set_hyper(descent_optimizer optimizer, int64_t group, int32_t key, double value);
    ("descent_optimizer_set_hyper", STATUS, [handle_t, c_int64, c_int32, c_double]),
    # descent_status descent_optimizer_get_hyper(descent_optimizer optimizer, int64_t group, int32_t key, double *out);
    ("descent_optimizer_get_hyper", STATUS, [handle_t, c_int64, c_int32, _P_F64]),
    # descent_status descent_optimizer_set_grads(descent_optimizer optimizer, const descent_tensor *grads, int64_t count);
    ("descent_optimizer_set_grads", STATUS, [handle_t, _P_HANDLE, c_int64]),
    # descent_status descent_optimizer_step(descent_optimizer optimizer, int32_t *skipped);
    ("descent_optimizer_step", STATUS, [handle_t, POINTER(c_int32)]),
    # descent_status descent_optimizer_set_nonfinite_policy(descent_optimizer optimizer, int32_t policy);
    ("descent_optimizer_set_nonfinite_policy", STATUS, [handle_t, c_int32]),
    # descent_status descent_optimizer_nonfinite_policy(descent_optimizer optimizer, int32_t *out);
    ("descent_optimizer_nonfinite_policy", STATUS, [handle_t, POINTER(c_int32)]),
    # descent_status descent_optimizer_step_count(descent_optimizer optimizer, int64_t *out);
    ("descent_optimizer_step_count", STATUS, [handle_t, _P_I64]),
    # descent_status descent_optimizer_set_step_count(descent_optimizer optimizer, int64_t count);
    ("descent_optimizer_set_step_count", STATUS, [handle_t, c_int64]),
    # descent_status descent_optimizer_mu_product(descent_optimizer optimizer, int64_t group, double *out);
    ("descent_optimizer_mu_product", STATUS, [handle_t, c_int64, _P_F64]),
    # descent_status descent_optimizer_set_mu_product(descent_optimizer optimizer, int64_t group, double value);
    ("descent_optimizer_set_mu_product", STATUS, [handle_t, c_int64, c_double]),
    # descent_status descent_optimizer_counts(descent_optimizer optimizer, int32_t *rule, int64_t *groups, int64_t *params);
    ("descent_optimizer_counts", STATUS, [handle_t, POINTER(c_int32), _P_I64, _P_I64]),
    # descent_status descent_optimizer_state_present(descent_optimizer optimizer, int64_t param, int32_t slot, int32_t *out);
    ("descent_optimizer_state_present", STATUS, [handle_t, c_int64, c_int32, POINTER(c_int32)]),
    # descent_status descent_optimizer_state_get(descent_optimizer optimizer, int64_t param, int32_t slot, int32_t dtype, void *out, int64_t capacity);
    ("descent_optimizer_state_get", STATUS, [handle_t, c_int64, c_int32, c_int32, c_void_p, c_int64]),
    # descent_status descent_optimizer_state_set(descent_optimizer optimizer, int64_t param, int32_t slot, int32_t dtype, const void *data, int64_t count);
    ("descent_optimizer_state_set", STATUS, [handle_t, c_int64, c_int32, c_int32, c_void_p, c_int64]),
    # descent_status descent_optimizer_save(descent_optimizer optimizer, const char *path, int32_t include_params);
    ("descent_optimizer_save", STATUS, [handle_t, c_char_p, c_int32]),
    # descent_status descent_optimizer_load(descent_optimizer optimizer, const char *path);
    ("descent_optimizer_load", STATUS, [handle_t, c_char_p]),
    # ---- schedules and clipping (@@schedules@@) ----
    # ---- gradients (@@gradients@@) ----
]


def last_error():
    """This thread's descent_last_error() text."""
    text = lib.descent_last_error()
    return text.decode("utf-8", "replace") if text else ""


def _check_status(result, func, arguments):
    if result != 0:
        raise errors.error_for_status(result, last_error())
    return result


def _declare(table):
    for name, restype, argtypes in table:
        try:
            function = getattr(lib, name)
        except AttributeError as exc:
            raise errors.LibraryLoadError(
                f"{library_path} does not export {name}; rebuild it with `make`") from exc
        function.argtypes = argtypes
        if restype is STATUS:
            function.restype = status_t
            function.errcheck = _check_status
        else:
            function.restype = restype


def register(table):
    """Declares more FFI rows (used by the package's other modules for their own functions)."""
    _declare(table)


_declare(FUNCTIONS[:1])
_found_version = lib.descent_abi_version()
if _found_version != ABI_VERSION:
    raise errors.LibraryLoadError(
        f"{library_path} implements ABI version {_found_version}, but this descent package "
        f"needs version {ABI_VERSION}; rebuild the library (`make`) or reinstall the package")
_declare(FUNCTIONS[1:])
