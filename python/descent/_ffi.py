"""The one place where libdescent.so is loaded and every C function is declared.

Library lookup, first match wins:
  1. $DESCENT_LIBRARY (a path to libdescent.so);
  2. libdescent.so inside this package (``pip install ./python`` after ``make`` puts it there);
  3. build/lib/libdescent.so of the repository this package sits in (``make`` output).

Each FFI row is ``(name, restype, argtypes)`` mirroring include/descent.h. Functions returning
``descent_status`` get an errcheck that turns a non-zero status into the matching exception from
:mod:`descent.errors`, carrying ``descent_last_error()``'s message.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any, Optional, Sequence, Union
from ctypes import POINTER, c_char_p, c_double, c_int32, c_int64, c_uint32, c_uint64, c_void_p

from . import errors

ABI_VERSION = 1  # must equal DESCENT_ABI_VERSION in include/descent.h

status_t = c_int32
handle_t = c_uint64
STATUS = "status"  # marks functions whose int32 result is a descent_status

# One FFI row: (C name, result type or STATUS or None, argument types).
FFIRow = tuple[str, Union[str, type[Any], None], Sequence[type[Any]]]

_here = os.path.dirname(os.path.abspath(__file__))


def _candidate_paths() -> list[str]:
    override = os.environ.get("DESCENT_LIBRARY")
    if override:
        return [override]
    return [
        os.path.join(_here, "libdescent.so"),
        os.path.join(os.path.dirname(os.path.dirname(_here)), "build", "lib", "libdescent.so"),
    ]


def _load() -> tuple[ctypes.CDLL, str]:
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


lib: ctypes.CDLL
library_path: str
lib, library_path = _load()

# ---------------------------------------------------------------------------------------------
# The FFI table: one row per C function in include/descent.h.
# ---------------------------------------------------------------------------------------------
_P_HANDLE = POINTER(handle_t)
_P_I64 = POINTER(c_int64)
_P_F64 = POINTER(c_double)

# descent_step_fn / descent_epoch_fn: the callbacks of descent_trainer_fit.
STEP_FN = ctypes.CFUNCTYPE(status_t, c_void_p, c_int64, c_int64, c_double)
EPOCH_FN = ctypes.CFUNCTYPE(status_t, c_void_p, c_int64, _P_F64)

FUNCTIONS: list[FFIRow] = [
    # uint32_t descent_abi_version(void);
    ("descent_abi_version", c_uint32, []),
    # const char *descent_status_string(descent_status status);
    ("descent_status_string", c_char_p, [status_t]),
    # const char *descent_last_error(void);
    ("descent_last_error", c_char_p, []),
    # const char *descent_blas_name(void);
    ("descent_blas_name", c_char_p, []),
    # descent_status descent_isa(const char **name);
    ("descent_isa", STATUS, [POINTER(c_char_p)]),
    # descent_status descent_set_isa(const char *name);
    ("descent_set_isa", STATUS, [c_char_p]),
    # descent_status descent_isa_available(const char *name, int32_t *available);
    ("descent_isa_available", STATUS, [c_char_p, POINTER(c_int32)]),
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
    # descent_status descent_optimizer_set_state_format(descent_optimizer optimizer, int32_t format, int32_t rounding, uint64_t seed);
    ("descent_optimizer_set_state_format", STATUS, [handle_t, c_int32, c_int32, c_uint64]),
    # descent_status descent_optimizer_state_format(descent_optimizer optimizer, int32_t *format, int32_t *rounding, uint64_t *seed);
    ("descent_optimizer_state_format", STATUS, [handle_t, POINTER(c_int32), POINTER(c_int32), POINTER(c_uint64)]),
    # ---- schedules and clipping (@@schedules@@) ----
    # descent_status descent_schedule_new_constant(double lr, descent_schedule *out);
    ("descent_schedule_new_constant", STATUS, [c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_inverse_time(double lr0, double decay_rate, descent_schedule *out);
    ("descent_schedule_new_inverse_time", STATUS, [c_double, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_exponential(double lr0, double gamma, descent_schedule *out);
    ("descent_schedule_new_exponential", STATUS, [c_double, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_inverse_power(double lr0, double k, double power, double offset, descent_schedule *out);
    ("descent_schedule_new_inverse_power", STATUS, [c_double, c_double, c_double, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_step(double lr0, int64_t step_size, double gamma, descent_schedule *out);
    ("descent_schedule_new_step", STATUS, [c_double, c_int64, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_multi_step(double lr0, const int64_t *milestones, int64_t count, double gamma, descent_schedule *out);
    ("descent_schedule_new_multi_step", STATUS, [c_double, _P_I64, c_int64, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_piecewise_constant(const int64_t *boundaries, int64_t boundary_count, const double *values, descent_schedule *out);
    ("descent_schedule_new_piecewise_constant", STATUS, [_P_I64, c_int64, _P_F64, _P_HANDLE]),
    # descent_status descent_schedule_new_cosine(double lr0, int64_t t_max, double eta_min, descent_schedule *out);
    ("descent_schedule_new_cosine", STATUS, [c_double, c_int64, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_cosine_warm_restarts(double lr0, int64_t t_0, int64_t t_mult, double eta_min, descent_schedule *out);
    ("descent_schedule_new_cosine_warm_restarts", STATUS, [c_double, c_int64, c_int64, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_linear(double lr0, double start_factor, double end_factor, int64_t total_iters, descent_schedule *out);
    ("descent_schedule_new_linear", STATUS, [c_double, c_double, c_double, c_int64, _P_HANDLE]),
    # descent_status descent_schedule_new_polynomial(double lr0, int64_t total_iters, double power, double end_lr, descent_schedule *out);
    ("descent_schedule_new_polynomial", STATUS, [c_double, c_int64, c_double, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_one_cycle(double max_lr, int64_t total_steps, double pct_start, int32_t anneal_strategy, double div_factor, double final_div_factor, int32_t three_phase, descent_schedule *out);
    ("descent_schedule_new_one_cycle", STATUS, [c_double, c_int64, c_double, c_int32, c_double, c_double, c_int32, _P_HANDLE]),
    # descent_status descent_schedule_new_one_cycle_momentum(double max_lr, int64_t total_steps, double pct_start, int32_t anneal_strategy, double div_factor, double final_div_factor, int32_t three_phase, double base_momentum, double max_momentum, descent_schedule *out);
    ("descent_schedule_new_one_cycle_momentum", STATUS, [c_double, c_int64, c_double, c_int32, c_double, c_double, c_int32, c_double, c_double, _P_HANDLE]),
    # descent_status descent_schedule_new_sequential(const descent_schedule *schedules, int64_t count, const int64_t *milestones, descent_schedule *out);
    ("descent_schedule_new_sequential", STATUS, [_P_HANDLE, c_int64, _P_I64, _P_HANDLE]),
    # descent_status descent_schedule_value(descent_schedule schedule, int64_t step, double *lr);
    ("descent_schedule_value", STATUS, [handle_t, c_int64, _P_F64]),
    # descent_status descent_schedule_momentum(descent_schedule schedule, int64_t step, double *momentum);
    ("descent_schedule_momentum", STATUS, [handle_t, c_int64, _P_F64]),
    # descent_status descent_schedule_base_rate(descent_schedule schedule, double *lr);
    ("descent_schedule_base_rate", STATUS, [handle_t, _P_F64]),
    # descent_status descent_schedule_rebase(descent_schedule schedule, double lr, descent_schedule *out);
    ("descent_schedule_rebase", STATUS, [handle_t, c_double, _P_HANDLE]),
    # descent_status descent_schedule_values(descent_schedule schedule, int64_t first_step, int64_t count, double *out);
    ("descent_schedule_values", STATUS, [handle_t, c_int64, c_int64, c_void_p]),
    # descent_status descent_schedule_free(descent_schedule schedule);
    ("descent_schedule_free", STATUS, [handle_t]),
    # descent_status descent_plateau_new(double lr, int32_t mode, double factor, int64_t patience, double threshold, int32_t threshold_mode, int64_t cooldown, double min_lr, double eps, descent_plateau *out);
    ("descent_plateau_new", STATUS, [c_double, c_int32, c_double, c_int64, c_double, c_int32, c_int64, c_double, c_double, _P_HANDLE]),
    # descent_status descent_plateau_update(descent_plateau plateau, double metric, double *lr);
    ("descent_plateau_update", STATUS, [handle_t, c_double, _P_F64]),
    # descent_status descent_plateau_lr(descent_plateau plateau, double *lr);
    ("descent_plateau_lr", STATUS, [handle_t, _P_F64]),
    # descent_status descent_plateau_state(descent_plateau plateau, double *best, int64_t *num_bad_epochs, int64_t *cooldown_counter, int64_t *updates);
    ("descent_plateau_state", STATUS, [handle_t, _P_F64, _P_I64, _P_I64, _P_I64]),
    # descent_status descent_plateau_set_lr(descent_plateau plateau, double lr);
    ("descent_plateau_set_lr", STATUS, [handle_t, c_double]),
    # descent_status descent_plateau_restore(descent_plateau plateau, double lr, double best, int64_t num_bad_epochs, int64_t cooldown_counter, int64_t updates);
    ("descent_plateau_restore", STATUS, [handle_t, c_double, c_double, c_int64, c_int64, c_int64]),
    # descent_status descent_plateau_free(descent_plateau plateau);
    ("descent_plateau_free", STATUS, [handle_t]),
    # descent_status descent_clip_grad_norm(const descent_tensor *grads, int64_t count, double max_norm, double *pre_clip_norm);
    ("descent_clip_grad_norm", STATUS, [_P_HANDLE, c_int64, c_double, _P_F64]),
    # descent_status descent_clip_grad_norm_ex(const descent_tensor *grads, int64_t count, double max_norm, double norm_type, int32_t error_if_nonfinite, double *pre_clip_norm);
    ("descent_clip_grad_norm_ex", STATUS, [_P_HANDLE, c_int64, c_double, c_double, c_int32, _P_F64]),
    # descent_status descent_clip_grad_value(const descent_tensor *grads, int64_t count, double clip_value);
    ("descent_clip_grad_value", STATUS, [_P_HANDLE, c_int64, c_double]),
    # ---- gradients (@@gradients@@) ----
    # descent_status descent_activation_forward(int32_t activation, double negative_slope, descent_tensor x, descent_tensor y);
    ("descent_activation_forward", STATUS, [c_int32, c_double, handle_t, handle_t]),
    # descent_status descent_activation_derivative(int32_t activation, double negative_slope, descent_tensor x, descent_tensor out);
    ("descent_activation_derivative", STATUS, [c_int32, c_double, handle_t, handle_t]),
    # descent_status descent_activation_backward(int32_t activation, double negative_slope, descent_tensor x, descent_tensor dy, descent_tensor dx);
    ("descent_activation_backward", STATUS, [c_int32, c_double, handle_t, handle_t, handle_t]),
    # descent_status descent_loss_sse(descent_tensor prediction, descent_tensor target, descent_tensor grad, double *loss);  (likewise _quadratic, _mse)
    ("descent_loss_sse", STATUS, [handle_t, handle_t, handle_t, _P_F64]),
    ("descent_loss_quadratic", STATUS, [handle_t, handle_t, handle_t, _P_F64]),
    ("descent_loss_mse", STATUS, [handle_t, handle_t, handle_t, _P_F64]),
    # descent_status descent_loss_bce(descent_tensor probabilities, descent_tensor target, double eps, int32_t reduction, descent_tensor grad, double *loss);
    ("descent_loss_bce", STATUS, [handle_t, handle_t, c_double, c_int32, handle_t, _P_F64]),
    # descent_status descent_loss_bce_logits(descent_tensor logits, descent_tensor target, int32_t reduction, descent_tensor grad, double *loss);
    ("descent_loss_bce_logits", STATUS, [handle_t, handle_t, c_int32, handle_t, _P_F64]),
    # descent_status descent_loss_softmax_cross_entropy(descent_tensor logits, const int64_t *labels, int64_t label_count, int32_t reduction, descent_tensor grad, double *loss);
    ("descent_loss_softmax_cross_entropy", STATUS, [handle_t, _P_I64, c_int64, c_int32, handle_t, _P_F64]),
    # descent_status descent_loss_multiclass_hinge(descent_tensor scores, const int64_t *labels, int64_t label_count, double margin, int32_t reduction, descent_tensor grad, double *loss);
    ("descent_loss_multiclass_hinge", STATUS, [handle_t, _P_I64, c_int64, c_double, c_int32, handle_t, _P_F64]),
    # descent_status descent_loss_multiclass_hinge_linear(descent_tensor w, descent_tensor x, const int64_t *labels, int64_t label_count, double margin, int32_t reduction, descent_tensor grad_w, double *loss);
    ("descent_loss_multiclass_hinge_linear", STATUS, [handle_t, handle_t, _P_I64, c_int64, c_double, c_int32, handle_t, _P_F64]),
    # descent_status descent_l2_penalty(descent_tensor w, double lambda, int64_t m, descent_tensor grad, double *penalty);
    ("descent_l2_penalty", STATUS, [handle_t, c_double, c_int64, handle_t, _P_F64]),
    # descent_status descent_delta_rule(descent_tensor w, descent_tensor x, double y, double eta, descent_tensor dw, double *h, double *y_hat, double *delta);
    ("descent_delta_rule", STATUS, [handle_t, handle_t, c_double, c_double, handle_t, _P_F64, _P_F64, _P_F64]),
    # descent_status descent_dense_forward(descent_tensor a, descent_tensor w, descent_tensor b, int32_t activation, double negative_slope, descent_tensor z, descent_tensor out);
    ("descent_dense_forward", STATUS, [handle_t, handle_t, handle_t, c_int32, c_double, handle_t, handle_t]),
    # descent_status descent_dense_backward(descent_tensor a, descent_tensor w, descent_tensor z, descent_tensor dout, int32_t activation, double negative_slope, descent_tensor dw, descent_tensor db, descent_tensor da);
    ("descent_dense_backward", STATUS, [handle_t, handle_t, handle_t, handle_t, c_int32, c_double, handle_t, handle_t, handle_t]),
    # descent_status descent_batchnorm_forward_train(descent_tensor x, descent_tensor gamma, descent_tensor beta, descent_tensor running_mean, descent_tensor running_var, double momentum, double eps, descent_tensor y, descent_tensor save_mean, descent_tensor save_invstd);
    ("descent_batchnorm_forward_train", STATUS, [handle_t, handle_t, handle_t, handle_t, handle_t, c_double, c_double, handle_t, handle_t, handle_t]),
    # descent_status descent_batchnorm_backward(descent_tensor x, descent_tensor gamma, descent_tensor save_mean, descent_tensor save_invstd, descent_tensor dy, descent_tensor dx, descent_tensor dgamma, descent_tensor dbeta);
    ("descent_batchnorm_backward", STATUS, [handle_t] * 8),
    # descent_status descent_batchnorm_forward_infer(descent_tensor x, descent_tensor gamma, descent_tensor beta, descent_tensor running_mean, descent_tensor running_var, double eps, descent_tensor y);
    ("descent_batchnorm_forward_infer", STATUS, [handle_t, handle_t, handle_t, handle_t, handle_t, c_double, handle_t]),
    # descent_status descent_init_fill(descent_tensor tensor, int32_t scheme, uint64_t seed, double gain);
    ("descent_init_fill", STATUS, [handle_t, c_int32, c_uint64, c_double]),
    # descent_status descent_init_fans(int64_t rank, const int64_t *shape, int64_t *fan_in, int64_t *fan_out);
    ("descent_init_fans", STATUS, [c_int64, _P_I64, _P_I64, _P_I64]),
    # typedef int32_t (*descent_scalar_fn)(void *context, descent_tensor x, double *out);  (argtypes[0] below)
    # descent_status descent_numerical_gradient(descent_scalar_fn f, void *context, descent_tensor x, double h, int32_t method, descent_tensor grad);
    ("descent_numerical_gradient", STATUS, [ctypes.CFUNCTYPE(status_t, c_void_p, handle_t, _P_F64), c_void_p, handle_t, c_double, c_int32, handle_t]),
    # descent_status descent_gradient_check(descent_scalar_fn f, void *context, descent_tensor x, descent_tensor analytic, double h, int32_t method, double floor, int64_t sample_count, uint64_t seed, double *max_error, int64_t *worst_index, double *analytic_at_worst, double *numerical_at_worst);
    ("descent_gradient_check", STATUS, [ctypes.CFUNCTYPE(status_t, c_void_p, handle_t, _P_F64), c_void_p, handle_t, handle_t, c_double, c_int32, c_double, c_int64, c_uint64, _P_F64, _P_I64, _P_F64, _P_F64]),
    # descent_status descent_gradient_compare(descent_tensor analytic, descent_tensor numerical, double floor, double *max_error, int64_t *worst_index);
    ("descent_gradient_compare", STATUS, [handle_t, handle_t, c_double, _P_F64, _P_I64]),
    # descent_status descent_step_size_sweep(descent_scalar_fn f, void *context, descent_tensor w, descent_tensor grad, const double *step_sizes, int64_t count, double *losses);
    ("descent_step_size_sweep", STATUS, [ctypes.CFUNCTYPE(status_t, c_void_p, handle_t, _P_F64), c_void_p, handle_t, handle_t, _P_F64, c_int64, _P_F64]),
    # ---- graphs (@@graphs@@) ----
    # descent_status descent_graph_new(int32_t dtype, descent_graph *out);
    ("descent_graph_new", STATUS, [c_int32, _P_HANDLE]),
    # descent_status descent_graph_free(descent_graph graph);
    ("descent_graph_free", STATUS, [handle_t]),
    # descent_status descent_graph_input(descent_graph graph, int64_t rank, const int64_t *shape, int64_t *node);
    ("descent_graph_input", STATUS, [handle_t, c_int64, _P_I64, _P_I64]),
    # descent_status descent_graph_labels(descent_graph graph, int64_t *node);
    ("descent_graph_labels", STATUS, [handle_t, _P_I64]),
    # descent_status descent_graph_param(descent_graph graph, descent_tensor tensor, int32_t trainable, int64_t *node);
    ("descent_graph_param", STATUS, [handle_t, handle_t, c_int32, _P_I64]),
    # descent_status descent_graph_param_init(descent_graph graph, int64_t node, int32_t kind, double gain);
    ("descent_graph_param_init", STATUS, [handle_t, c_int64, c_int32, c_double]),
    # descent_status descent_graph_constant(descent_graph graph, descent_tensor tensor, int64_t *node);
    ("descent_graph_constant", STATUS, [handle_t, handle_t, _P_I64]),
    # descent_status descent_graph_scalar(descent_graph graph, double value, int64_t *node);
    ("descent_graph_scalar", STATUS, [handle_t, c_double, _P_I64]),
    # descent_status descent_graph_binary(descent_graph graph, int32_t op, int64_t a, int64_t b, int64_t *node);
    ("descent_graph_binary", STATUS, [handle_t, c_int32, c_int64, c_int64, _P_I64]),
    # descent_status descent_graph_unary(descent_graph graph, int32_t op, int64_t x, int64_t *node);
    ("descent_graph_unary", STATUS, [handle_t, c_int32, c_int64, _P_I64]),
    # descent_status descent_graph_matmul(descent_graph graph, int64_t a, int64_t b, int32_t trans_a, int32_t trans_b, int64_t *node);
    ("descent_graph_matmul", STATUS, [handle_t, c_int64, c_int64, c_int32, c_int32, _P_I64]),
    # descent_status descent_graph_reduce(descent_graph graph, int32_t op, int64_t x, int64_t axis, int64_t *node);
    ("descent_graph_reduce", STATUS, [handle_t, c_int32, c_int64, c_int64, _P_I64]),
    # descent_status descent_graph_activation(descent_graph graph, int32_t kind, double negative_slope, int64_t x, int64_t *node);
    ("descent_graph_activation", STATUS, [handle_t, c_int32, c_double, c_int64, _P_I64]),
    # descent_status descent_graph_cost(descent_graph graph, int32_t cost, int64_t prediction, int64_t target, int32_t reduction, double parameter, int64_t *node);
    ("descent_graph_cost", STATUS, [handle_t, c_int32, c_int64, c_int64, c_int32, c_double, _P_I64]),
    # descent_status descent_graph_l2_penalty(descent_graph graph, int64_t w, double lambda, int64_t m, int64_t *node);
    ("descent_graph_l2_penalty", STATUS, [handle_t, c_int64, c_double, c_int64, _P_I64]),
    # descent_status descent_graph_dense(descent_graph graph, int64_t x, int64_t w, int64_t b, int32_t activation, double negative_slope, int64_t *node);
    ("descent_graph_dense", STATUS, [handle_t, c_int64, c_int64, c_int64, c_int32, c_double, _P_I64]),
    # descent_status descent_graph_batchnorm(descent_graph graph, int64_t x, int64_t gamma, int64_t beta, double momentum, double eps, int64_t *node);
    ("descent_graph_batchnorm", STATUS, [handle_t, c_int64, c_int64, c_int64, c_double, c_double, _P_I64]),
    # descent_status descent_graph_dropout(descent_graph graph, int64_t x, double p, uint64_t seed, int64_t *node);
    ("descent_graph_dropout", STATUS, [handle_t, c_int64, c_double, c_uint64, _P_I64]),
    # descent_status descent_graph_node_count(descent_graph graph, int64_t *out);
    ("descent_graph_node_count", STATUS, [handle_t, _P_I64]),
    # descent_status descent_graph_truncate(descent_graph graph, int64_t count);
    ("descent_graph_truncate", STATUS, [handle_t, c_int64]),
    # descent_status descent_graph_shape(descent_graph graph, int64_t node, int64_t *rank, int64_t *shape, int64_t capacity);
    ("descent_graph_shape", STATUS, [handle_t, c_int64, _P_I64, _P_I64, c_int64]),
    # descent_status descent_graph_param_count(descent_graph graph, int64_t *out);
    ("descent_graph_param_count", STATUS, [handle_t, _P_I64]),
    # descent_status descent_graph_param_node(descent_graph graph, int64_t position, int64_t *node);
    ("descent_graph_param_node", STATUS, [handle_t, c_int64, _P_I64]),
    # descent_status descent_graph_set_input(descent_graph graph, int64_t node, descent_tensor tensor);
    ("descent_graph_set_input", STATUS, [handle_t, c_int64, handle_t]),
    # descent_status descent_graph_set_labels(descent_graph graph, int64_t node, const int64_t *labels, int64_t count);
    ("descent_graph_set_labels", STATUS, [handle_t, c_int64, c_void_p, c_int64]),
    # descent_status descent_graph_set_training(descent_graph graph, int32_t training);
    ("descent_graph_set_training", STATUS, [handle_t, c_int32]),
    # descent_status descent_graph_forward(descent_graph graph, int64_t node, int32_t dtype, void *out, int64_t capacity, int64_t *count);
    ("descent_graph_forward", STATUS, [handle_t, c_int64, c_int32, c_void_p, c_int64, _P_I64]),
    # descent_status descent_graph_value(descent_graph graph, int64_t node, int32_t dtype, void *out, int64_t capacity, int64_t *count);
    ("descent_graph_value", STATUS, [handle_t, c_int64, c_int32, c_void_p, c_int64, _P_I64]),
    # descent_status descent_graph_backward(descent_graph graph, int64_t loss, double *loss_out);
    ("descent_graph_backward", STATUS, [handle_t, c_int64, _P_F64]),
    # descent_status descent_graph_grad(descent_graph graph, int64_t node, int32_t dtype, void *out, int64_t capacity);
    ("descent_graph_grad", STATUS, [handle_t, c_int64, c_int32, c_void_p, c_int64]),
    # descent_status descent_graph_grad_buffer(descent_graph graph, void **data, int64_t *count);
    ("descent_graph_grad_buffer", STATUS, [handle_t, POINTER(c_void_p), _P_I64]),
    # descent_status descent_graph_init_params(descent_graph graph, uint64_t seed);
    ("descent_graph_init_params", STATUS, [handle_t, c_uint64]),
    # descent_status descent_graph_running_stats(descent_graph graph, int64_t node, int32_t dtype, void *mean, void *variance, int64_t capacity, int32_t write);
    ("descent_graph_running_stats", STATUS, [handle_t, c_int64, c_int32, c_void_p, c_void_p, c_int64, c_int32]),
    # ---- training (@@training@@) ----
    # descent_status descent_loader_new(descent_tensor inputs, descent_tensor targets, const int64_t *labels, int64_t label_count, int64_t batch_size, int32_t flags, uint64_t seed, descent_loader *out);
    ("descent_loader_new", STATUS, [handle_t, handle_t, c_void_p, c_int64, c_int64, c_int32, c_uint64, _P_HANDLE]),
    # descent_status descent_loader_free(descent_loader loader);
    ("descent_loader_free", STATUS, [handle_t]),
    # descent_status descent_loader_batch_count(descent_loader loader, int64_t *out);
    ("descent_loader_batch_count", STATUS, [handle_t, _P_I64]),
    # descent_status descent_loader_set_epoch(descent_loader loader, int64_t epoch);
    ("descent_loader_set_epoch", STATUS, [handle_t, c_int64]),
    # descent_status descent_loader_batch_indices(descent_loader loader, int64_t batch, int64_t *out, int64_t capacity, int64_t *count);
    ("descent_loader_batch_indices", STATUS, [handle_t, c_int64, c_void_p, c_int64, _P_I64]),
    # descent_status descent_trainer_new(descent_graph graph, descent_optimizer optimizer, int64_t loss, descent_trainer *out);
    ("descent_trainer_new", STATUS, [handle_t, handle_t, c_int64, _P_HANDLE]),
    # descent_status descent_trainer_free(descent_trainer trainer);
    ("descent_trainer_free", STATUS, [handle_t]),
    # descent_status descent_trainer_set_nodes(descent_trainer trainer, int64_t input, int64_t target, int64_t output);
    ("descent_trainer_set_nodes", STATUS, [handle_t, c_int64, c_int64, c_int64]),
    # descent_status descent_trainer_set_schedule(descent_trainer trainer, descent_schedule schedule, int32_t per_epoch);
    ("descent_trainer_set_schedule", STATUS, [handle_t, handle_t, c_int32]),
    # descent_status descent_trainer_set_schedule_ex(descent_trainer trainer, descent_schedule schedule, int32_t per_epoch, int32_t base);
    ("descent_trainer_set_schedule_ex", STATUS, [handle_t, handle_t, c_int32, c_int32]),
    # descent_status descent_trainer_set_clip_norm(descent_trainer trainer, double max_norm);
    ("descent_trainer_set_clip_norm", STATUS, [handle_t, c_double]),
    # descent_status descent_trainer_epoch(descent_trainer trainer, int64_t *out);
    ("descent_trainer_epoch", STATUS, [handle_t, _P_I64]),
    # descent_status descent_trainer_set_epoch(descent_trainer trainer, int64_t epoch);
    ("descent_trainer_set_epoch", STATUS, [handle_t, c_int64]),
    # descent_status descent_trainer_step(descent_trainer trainer, double *loss, int32_t *skipped);
    ("descent_trainer_step", STATUS, [handle_t, _P_F64, POINTER(c_int32)]),
    # descent_status descent_trainer_step_batch(descent_trainer trainer, descent_loader loader, int64_t batch, double *loss, int64_t *correct, int32_t *skipped);
    ("descent_trainer_step_batch", STATUS, [handle_t, handle_t, c_int64, _P_F64, _P_I64, POINTER(c_int32)]),
    # descent_status descent_trainer_evaluate(descent_trainer trainer, descent_loader loader, double *loss, double *accuracy);
    ("descent_trainer_evaluate", STATUS, [handle_t, handle_t, _P_F64, _P_F64]),
    # typedef int32_t (*descent_step_fn)(void *context, int64_t epoch, int64_t batch, double loss);
    # typedef int32_t (*descent_epoch_fn)(void *context, int64_t epoch, const double *metrics);
    # descent_status descent_trainer_fit(descent_trainer trainer, descent_loader train, descent_loader validation, int64_t epochs, int64_t patience, double min_delta, int32_t restore_best, descent_step_fn on_step, descent_epoch_fn on_epoch, void *context, double *history, int64_t history_capacity, double *step_losses, int64_t step_capacity, int64_t *summary);
    ("descent_trainer_fit", STATUS, [handle_t, handle_t, handle_t, c_int64, c_int64, c_double, c_int32,
                                     STEP_FN, EPOCH_FN, c_void_p, c_void_p, c_int64, c_void_p, c_int64, _P_I64]),
    # descent_status descent_trainer_restarts(descent_trainer trainer, int64_t count, uint64_t seed, descent_loader train, descent_loader validation, int64_t epochs, int64_t patience, double min_delta, double *results, uint64_t *seeds, int64_t *best);
    ("descent_trainer_restarts", STATUS, [handle_t, c_int64, c_uint64, handle_t, handle_t, c_int64, c_int64, c_double,
                                          c_void_p, c_void_p, _P_I64]),
    # descent_status descent_trainer_range_test(descent_trainer trainer, descent_loader loader, double start, double end, int64_t steps, double smoothing, double divergence, double *rates, double *losses, double *smoothed, int64_t *points, double *suggested);
    ("descent_trainer_range_test", STATUS, [handle_t, handle_t, c_double, c_double, c_int64, c_double, c_double,
                                            c_void_p, c_void_p, c_void_p, _P_I64, _P_F64]),
    # descent_status descent_optimizer_reset(descent_optimizer optimizer);
    ("descent_optimizer_reset", STATUS, [handle_t]),
    # -- data-parallel training ------------------------------------------------------------------
    # descent_status descent_trainer_backward_batch(descent_trainer trainer, descent_loader loader, int64_t batch, int64_t part, int64_t parts, double *loss, int64_t *correct, int64_t *samples);
    ("descent_trainer_backward_batch", STATUS, [handle_t, handle_t, c_int64, c_int64, c_int64, _P_F64, _P_I64,
                                                _P_I64]),
    # descent_status descent_trainer_apply(descent_trainer trainer, int32_t *skipped);
    ("descent_trainer_apply", STATUS, [handle_t, POINTER(c_int32)]),
    # descent_status descent_graph_param_buffer(descent_graph graph, void **data, int64_t *count);
    ("descent_graph_param_buffer", STATUS, [handle_t, POINTER(c_void_p), _P_I64]),
    # descent_status descent_optimizer_shard(descent_optimizer optimizer, int64_t start, int64_t count, descent_optimizer *out);
    ("descent_optimizer_shard", STATUS, [handle_t, c_int64, c_int64, POINTER(handle_t)]),
    # descent_status descent_optimizer_grad_buffer(descent_optimizer optimizer, int32_t dtype, void **data, int64_t *count);
    ("descent_optimizer_grad_buffer", STATUS, [handle_t, c_int32, POINTER(c_void_p), _P_I64]),
    # descent_status descent_optimizer_sizes(descent_optimizer optimizer, int64_t *elements, int64_t *state_bytes);
    ("descent_optimizer_sizes", STATUS, [handle_t, _P_I64, _P_I64]),
]


def last_error() -> str:
    """This thread's descent_last_error() text."""
    text = lib.descent_last_error()
    return text.decode("utf-8", "replace") if text else ""


def _check_status(result: int, func: Any, arguments: tuple[Any, ...]) -> int:
    if result != 0:
        raise errors.error_for_status(result, last_error())
    return result


def _declare(table: Sequence[FFIRow]) -> None:
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


def register(table: Sequence[FFIRow]) -> None:
    """Declares more FFI rows (used by the package's other modules for their own functions)."""
    _declare(table)


_declare(FUNCTIONS[:1])
_found_version: int = lib.descent_abi_version()
if _found_version != ABI_VERSION:
    raise errors.LibraryLoadError(
        f"{library_path} implements ABI version {_found_version}, but this descent package "
        f"needs version {ABI_VERSION}; rebuild the library (`make`) or reinstall the package")
_declare(FUNCTIONS[1:])


#: The functional rules in descent._accel's order (its `kind` numbers; the enum in _accel.c).
ACCEL_RULES = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "adamax", "nadam", "radam", "lion")


def _load_accel() -> Any:
    """descent._accel bound to this library's functions, or None: the module is absent (another
    Python than the one the package was built with, or no compiler at install time) or
    $DESCENT_NO_ACCEL is set. The package then calls through ctypes alone, with the same results."""
    if os.environ.get("DESCENT_NO_ACCEL", "") not in ("", "0"):
        return None
    try:
        from . import _accel  # type: ignore[attr-defined]
    except ImportError:
        return None
    import numpy

    def address(name: str) -> int:
        value: Optional[int] = ctypes.cast(getattr(lib, name), c_void_p).value
        assert value, name
        return value

    rules = tuple(address(f"descent_{rule}_step") for rule in ACCEL_RULES)
    _accel.bind(address("descent_optimizer_step"), rules, numpy.ndarray, 1, 2)
    return _accel


#: The compiled call path (descent/_accel.c) when it is in use, else None.
accel: Any = _load_accel()
