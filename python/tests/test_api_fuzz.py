"""Public Python API fuzz: whatever a caller passes, descent answers with a typed exception.

Every public callable of ``descent`` and its submodules (``__all__`` where a module has one, else
every public name; found by introspection, so new functions are covered automatically), every
public class's constructor, methods, property getters and property setters are called with
adversarial Python values: None, bools, extreme ints and floats, strings, bytes, empty / nested /
ragged lists and tuples, dicts, NumPy arrays of every dtype (0-d, empty, non-contiguous,
read-only, huge zero-stride views), live / closed / other-dtype Tensors, closed schedules and
optimizers, and callables returning junk. Half the calls start from sensible values (chosen by
parameter name) with one or two arguments made adversarial, so calls get past their first checks.

The contract: (1) the process never dies or hangs; (2) every exception is a ``DescentError`` or
one of TypeError, ValueError, IndexError, KeyError, OverflowError, NotImplementedError,
MemoryError. Anything else (AttributeError, ZeroDivisionError, a RuntimeError not from descent,
ctypes.ArgumentError, SystemError, RecursionError...) fails the test with the call spelled as
Python source that reproduces it. (3) A TypeError/ValueError/... must come from one of descent's
own checks (a ``raise`` naming the argument), not from Python or NumPy tripping inside the
package on an unchecked argument ("'float' object is not iterable"); MemoryError for an array
too large to allocate is fine. (4) A rejected call leaves every object it touched unchanged: on
every 2nd call the receiver and the arguments are fingerprinted before and compared after a
rejection (see ``Fingerprints``). (5) Every target succeeds at least once over the batches (so
its success path is fuzzed too), except the few in NEVER_SUCCEED, each with its reason.

Every argument is a Python expression (see VALUES), evaluated afresh in the child for each call,
so the generated batch is a pure function of the seed. Methods run on objects that live for the
whole batch (so state one call leaves is met by later calls) or on closed ones. The child-process
plumbing is shared with test_abi_fuzz.py (fuzz_harness.py).
"""
import inspect
import math
import os
import random
import sys
import tempfile
import time

import fuzz_harness

SEED = 20261122
CALLS_PER_BATCH = 15000
# `make stress` scales the fuzz with DESCENT_API_FUZZ_CALLS (python/tests/stress_api_fuzz.py).
BATCHES = max(1, math.ceil(int(os.environ["DESCENT_API_FUZZ_CALLS"]) / CALLS_PER_BATCH)) \
    if os.environ.get("DESCENT_API_FUZZ_CALLS") else 4
CHILD_ADDRESS_SPACE = 4 << 30  # bytes a child may map: huge views fail with MemoryError
MIN_CALLS = 8                  # every target is called at least this often over all batches
# The unchanged-on-failure oracle watches every 2nd call (alternating by batch);
# DESCENT_API_FUZZ_ORACLE_EVERY=1 (make stress) watches every call.
ORACLE_EVERY = int(os.environ.get("DESCENT_API_FUZZ_ORACLE_EVERY", "2"))
# Targets the oracle does not watch, with the reason.
UNWATCHED = {
    "descent.fit": "a failure after some epochs (a callback raising, a later batch) keeps the training done, "
                   "as documented (descent_trainer_fit: a failure mid-training leaves the params as last updated)",
    "descent.random_restarts": "runs fit: the same",
}
ALLOWED = ("TypeError", "ValueError", "IndexError", "KeyError", "OverflowError", "NotImplementedError",
           "MemoryError")

_HUGE = "np.lib.stride_tricks.as_strided(np.ones(1), shape={}, strides={}, writeable=False)"
# Adversarial values, as Python source evaluated in the child (names: np, descent, _closed).
VALUES = [
    "None", "True", "False", "0", "-1", "2**63", "-2**70", "1", "3",
    "float('nan')", "float('inf')", "float('-inf')", "-0.0", "1e308", "0.5", "1j",
    "'relu'", "''", "'\\x00'", "'mean'", "b'abc'", "bytearray(2)",
    "[]", "()", "[[]]", "[[1.0, 2.0], [3.0]]", "[1.0, [2.0]]", "[1.0, 2.0, 3.0]", "(0.9, 0.999)", "(1, 2, 3)",
    "[None]", "['a']", "{}", "{'params': []}", "{'params': [np.zeros(3)], 'lr': -1.0}", "{1: 2}", "{None}",
    "np.arange(3, dtype=np.float16)", "np.arange(3, dtype=np.float32)", "np.arange(3, dtype=np.float64)",
    "np.arange(3, dtype=np.int32)", "np.arange(3, dtype=np.int64)", "np.arange(3, dtype=np.uint8)",
    "np.array([True, False, True])", "np.arange(3) + 1j", "np.array([1.0, None, 'x'], dtype=object)",
    "np.array(2.5)", "np.array(2)", "np.zeros(0)", "np.zeros((0, 3))", "np.zeros((3, 0))",
    "np.arange(12.0).reshape(3, 4)", "np.arange(12.0).reshape(3, 4).T", "np.arange(6.0)[::2]",
    "np.arange(24.0).reshape(2, 3, 4)", "np.array([np.nan, np.inf, -np.inf])",
    "_readonly(np.arange(3.0))", "_readonly(np.arange(12.0).reshape(3, 4))",
    _HUGE.format("(2**40,)", "(0,)"), _HUGE.format("(2**31 + 1,)", "(0,)"),
    _HUGE.format("(2**20, 2**20)", "(0, 0)"), _HUGE.format("(3, 2**40)", "(0, 0)"),
    "np.float64(1.5)", "np.int64(2)", "np.float32('nan')", "np.bool_(True)",
    "descent.tensor([1.0, 2.0, 3.0])", "descent.tensor([1.0, 2.0, 3.0], dtype=np.float32)",
    "descent.zeros((3, 4))", "descent.zeros(0)", "_closed(descent.tensor([1.0, 2.0, 3.0]))",
    "descent.schedules.constant(0.1)", "_closed(descent.schedules.constant(0.1))",
    "descent.optim.SGD([np.zeros(3)], lr=0.1)", "_closed(descent.optim.SGD([np.zeros(3)], lr=0.1))",
    "_closed(descent.schedules.Plateau(0.1))", "descent.schedules.Plateau(0.1)",
    "lambda *a, **k: 0.0", "lambda *a, **k: None", "lambda *a, **k: 'x'", "lambda *a, **k: float('nan')",
    "lambda *a, **k: np.zeros(3)", "object()", "slice(1)", "Ellipsis", "type", "np.float64",
    "np.dtype('int8')", "'float32'", "'<f8'",
]

# Sensible values by parameter name (anything not listed gets GENERIC).
ARRAY3 = "np.array([0.5, -1.0, 2.0])"
BN_NODE = ("descent.graph.batch_norm(obj.input((None, 2)), obj.param(np.ones(2, dtype=obj.dtype)), "
           "obj.param(np.zeros(2, dtype=obj.dtype)))")
ARRAY34 = "np.linspace(-1.0, 1.0, 12).reshape(3, 4)"
GENERIC = [ARRAY3, ARRAY34, "0.1", "1", "2", "descent.tensor([0.5, -1.0, 2.0])", "[np.array([0.5, -1.0, 2.0])]"]
HINTS = {
    "kind": ["'relu'", "'sigmoid'", "'tanh'", "'leaky_relu'", "'identity'"],
    "activation": ["'relu'", "'identity'", "'tanh'"],
    "reduction": ["'mean'", "'sum'", "'none'"],
    "method": ["'centered'", "'forward'"],
    "scheme": ["'xavier_uniform'", "'he_normal'", "'xavier_normal'", "'he_uniform'"],
    "mode": ["'min'", "'max'"],
    "threshold_mode": ["'rel'", "'abs'"],
    "anneal_strategy": ["'cos'", "'linear'"],
    "interval": ["'step'", "'epoch'"],
    "state_dtype": ["'full'", "'bfloat16'", "'int8'"],
    "state_rounding": ["'nearest'", "'stochastic'"],
    "nonfinite": ["'raise'", "'skip'", "'proceed'"],
    "momentum_form": ["'pytorch'", "'ema'", "'cs231n'"],
    "dtype": ["np.float64", "np.float32"],
    "shape": ["(3,)", "(3, 4)", "3", "()"],
    "features": ["4", "3"],
    "labels": ["np.array([0, 2, 1])", "[0, 1, 2]"],
    "f": ["lambda x: float(np.sum(np.asarray(x) ** 2))"],
    "loss": ["lambda w: float(np.sum(np.asarray(w) ** 2))"],
    "schedule": ["descent.schedules.constant(0.1)", "descent.schedules.one_cycle(1.0, 100)",
                 "descent.schedules.one_cycle(total_steps=100)"],
    "schedules": ["[descent.schedules.constant(0.1), descent.schedules.constant(0.01)]"],
    "optimizer": ["descent.optim.SGD([np.zeros(3)], lr=0.1)", "descent.optim.Adam([np.zeros(3)], lr=0.1)"],
    "params": ["[np.zeros(3)]", "[{'params': [np.zeros(3)], 'lr': 0.01}]"],
    "grads": ["[np.array([0.5, -1.0, 2.0])]", "[descent.tensor([0.5, -1.0, 2.0])]"],
    "group": ["{'params': [np.zeros(3)]}"],
    "betas": ["(0.9, 0.999)"],
    "milestones": ["[10, 20]", "[1]"],
    "boundaries": ["[10, 20]"],
    "values": ["[0.1, 0.01, 0.001]"],
    "step_sizes": ["[0.1, 0.01]"],
    "rows": ["[]"],
    "state_dict": ["_state_of(obj)", "{}"],
    "state": ["_state_of(obj)", "{}"],
    "path": ["_saved(obj)", "'checkpoint.bin'", "'missing/dir/x.bin'", "'.'"],
    "other": ["_like(obj)", "descent.tensor([0.5, -1.0, 2.0])"],
    "out": ["None", "_like(obj)"],
    "x": ["_like(obj)", ARRAY3, ARRAY34],
    "a": [ARRAY34], "b": ["np.ones((4, 2))"], "weights": [ARRAY34, "np.ones((4, 2))"],
    "gamma": ["np.ones(4)"], "beta": ["np.zeros(4)"], "running_mean": ["np.zeros(4)"],
    "running_var": ["np.ones(4)"], "save_mean": ["np.zeros(4)"], "save_invstd": ["np.ones(4)"],
    "dy": [ARRAY34], "dout": [ARRAY34], "z": [ARRAY34], "mu_product": ["1.0"],
    "seed": ["0", "42"],
    "step": ["1", "5"],
    "count": ["3", "0"],
    "metric": ["1.0", "0.5"],
    "code": ["5", "0"],
    "message": ["'boom'"],
    "data": ["[1.0, 2.0, 3.0]", ARRAY3],
    "array": [ARRAY3],
}
for _name in ("param", "grad", "exp_avg", "exp_avg_sq", "sum", "square_avg", "acc_delta", "exp_inf",
              "momentum_buffer", "grad_avg", "max_exp_avg_sq", "prediction", "target", "probabilities", "logits",
              "w", "y"):
    HINTS[_name] = [ARRAY3]
STEP_GRADS = "[np.ones(3), np.ones((2, 2))]"  # gradients for the optimizers FACTORIES makes
ONES3, ZEROS4, ONES4 = "np.ones(3)", "np.zeros(4)", "np.ones(4)"
# A small classifier and data that fit it, for the training entry points (_mlp() is one model per
# batch, so an optimizer made by _mlp_optimizer() holds its params).
MLP_X, MLP_Y = "np.linspace(-1.0, 1.0, 18).reshape(6, 3)", "np.array([0, 1, 0, 1, 1, 0])"
SQUARE = "lambda x: float(np.sum(np.asarray(x) ** 2))"
# Valid calls for targets whose arguments must agree with each other (shapes, dtypes), which
# independent choices rarely hit; the fuzz spoils zero to two arguments of them.
RECIPES = {
    "descent.matmul": ["descent.tensor(np.ones((3, 4)))", "descent.tensor(np.ones((4, 2)))", "False", "False", "1.0",
                       "0.5", "descent.zeros((3, 2))"],
    "descent.gd_step": ["descent.tensor([1.0, 2.0, 3.0])", "descent.tensor([0.5, -1.0, 2.0])", "0.1"],
    "descent.bce_loss": ["np.array([0.2, 0.5, 0.9])", "np.array([0.0, 1.0, 1.0])", "1e-12", "'mean'", "True"],
    "descent.bce_with_logits_loss": [ARRAY3, "np.array([0.0, 1.0, 1.0])", "'sum'", "True"],
    "descent.softmax_cross_entropy": [ARRAY34, "np.array([0, 3, 1])", "'mean'", "True"],
    "descent.multiclass_hinge_loss": [ARRAY34, "np.array([0, 3, 1])", "1.0", "'mean'", "True"],
    "descent.multiclass_hinge_linear": [ARRAY34, "np.ones((5, 4))", "np.array([0, 2, 1, 0, 2])", "1.0", "'mean'"],
    "descent.dense_forward": ["np.ones((5, 4))", ARRAY34, "np.zeros(3)", "'leaky_relu'", "0.1"],
    "descent.dense_backward": ["np.ones((5, 4))", ARRAY34, "np.ones((5, 3))", "np.ones((5, 3))", "'relu'"],
    "descent.batchnorm_forward_train": [ARRAY34, ONES4, ZEROS4, ZEROS4, ONES4, "0.1", "1e-5"],
    "descent.batchnorm_forward_infer": [ARRAY34, ONES4, ZEROS4, ZEROS4, ONES4, "1e-5"],
    "descent.batchnorm_backward": [ARRAY34, ONES4, ZEROS4, ONES4, ARRAY34],
    "descent.delta_rule": [ARRAY3, ONES3, "1.0", "0.1"],
    "descent.l2_penalty": [ARRAY34, "0.1", "5", "True"],
    "descent.functional.nadam": [ARRAY3, ARRAY3, "np.zeros(3)", "np.zeros(3)", "np.ones(1)", "1"],
    "descent.functional.adam": [ARRAY3, ARRAY3, "np.zeros(3)", "np.zeros(3)", "np.zeros(3)", "3"],
    "descent.functional.rmsprop": [ARRAY3, ARRAY3, "np.zeros(3)", "np.zeros(3)", "np.zeros(3)", "2"],
    "descent.functional.sgd": [ARRAY3, ARRAY3, "np.zeros(3)", "1"],
    "descent.gradient_check": [SQUARE, ARRAY3, "2 * " + ARRAY3, "1e-6", "'centered'"],
    "descent.numerical_gradient": [SQUARE, ARRAY3, "1e-6", "'forward'"],
    "descent.step_size_sweep": [SQUARE, ARRAY3, "2 * " + ARRAY3, "[0.1, 1.0]"],
    "descent.compare_gradients": [ARRAY3, ARRAY3 + " + 1e-9"],
    "descent.schedules.sequential": ["[descent.schedules.constant(0.1), descent.schedules.constant(0.01)]", "[5]"],
    "descent.schedules.one_cycle": ["1.0", "100", "0.3", "'cos'"],
    "descent.schedules.cosine_warm_restarts": ["0.1", "10", "2", "0.001"],
    "descent.schedules.exponential": ["0.1", "0.9"],
    "descent.set_isa": ["'baseline'"],
    # The schedule's max_lr agrees with the optimizer's lr (a schedule with its own rate must).
    "descent.LRScheduler": ["descent.optim.SGD([np.zeros(3)], lr=1.0, momentum=0.9)",
                                      "descent.schedules.one_cycle(1.0, 100)", "'epoch'"],
    "descent.ReduceLROnPlateau": ["descent.optim.Adam([np.zeros(3)])", "'max'", "0.5", "0"],
    "descent.clip.GradientGroup": ["[np.ones(3), descent.tensor([1.0, 2.0])]"],
    "descent.clip_grad_norm": ["[np.ones(3), np.ones((2, 2))]", "1.0", "2.0"],
    "BatchNorm.forward": ["np.linspace(-1.0, 1.0, 5 * obj.gamma.size).reshape(5, -1).astype(obj.gamma.dtype)"],
    "BatchNorm.backward": ["(obj.forward(np.linspace(-1.0, 1.0, 5 * obj.gamma.size).reshape(5, -1).astype(obj.gamma.dtype)),"
                           " np.ones((5, obj.gamma.size), dtype=obj.gamma.dtype))[1]"],
    "Optimizer.step": [STEP_GRADS],
    "Optimizer.add_param_group": ["{'params': [np.zeros(5)], 'lr': 0.5}"],
    "Optimizer.load": ["_saved(obj)"],
    "Optimizer.load_state_dict": ["_state_of(obj)"],
    "Tensor.__matmul__": ["descent.tensor(np.ones((obj.shape[-1], 2)), dtype=obj.dtype)"],
    "descent.fit": ["_mlp()", "_mlp_optimizer()", MLP_X, MLP_Y],
    "descent.evaluate": ["_mlp()", MLP_X, MLP_Y],
    "descent.random_restarts": ["_mlp()", "_mlp_optimizer()", MLP_X, MLP_Y],
    "descent.lr_range_test": ["_mlp()", "_mlp_optimizer()", MLP_X, MLP_Y],
    "descent.Trainer": ["_mlp()", "_mlp_optimizer()"],
    "descent.DataLoader": [MLP_X, MLP_Y],
    "descent.History": ["[[0.5, 1.0, 0.4, 1.0, 3, 0]]", "[0.5, 0.4, 0.3]", "range(1)", "0", "False", "True", "True"],
    "descent.MLP": ["[3, 4, 2]", "'tanh'"],
    "descent.Model": ["_mlp().graph", "_mlp().input", "_mlp().loss", "_mlp().target", "_mlp().output", "True"],
    "descent.graph.dense": ["descent.Graph().input((None, 3))", "np.ones((2, 3))", "np.zeros(2)", "'relu'"],
    "MLP.predict": [MLP_X],
    "MLP.evaluate": [MLP_X, MLP_Y],
    "Model.predict": [MLP_X],
    "Model.evaluate": [MLP_X, MLP_Y],
    "Trainer.step_batch": [f"descent.DataLoader({MLP_X}, {MLP_Y}, batch_size=4, dtype=np.float32)", "0"],
    "Trainer.backward_batch": [f"descent.DataLoader({MLP_X}, {MLP_Y}, batch_size=4, dtype=np.float32)", "0", "1", "2"],
    "Optimizer.shard": ["1", "3"],
    # Succeeds only before the optimizer's first step (then any format), "full" for every rule.
    "Optimizer.set_state_format": ["'full'", "'nearest'", "0"],
    "Trainer.evaluate": [f"descent.DataLoader({MLP_X}, {MLP_Y}, batch_size=4, dtype=np.float32)"],
    "Graph.param": ["np.ones(3, dtype=obj.dtype)"],
    "Graph.feed": ["{obj.input((None, 3)): np.ones((2, 3)), obj.labels(): np.array([0, 1])}"],
    "Graph.grad": ["obj.param(np.ones(2, dtype=obj.dtype))"],
    "Graph.shape": ["obj.input((None, 3))"],
    "Graph.set_init": ["obj.param(np.ones(2, dtype=obj.dtype))", "'he_normal'", "2.0"],
    "Graph.running_stats": [BN_NODE],
    "Graph.set_running_stats": [BN_NODE, "np.zeros(2)", "np.ones(2)"],
    "Schedule.momentum": ["3"],
    "Node.__matmul__": ["np.ones((3, 2))"],
    "Node.__rmatmul__": ["np.ones((4, 3))"],
    "Graph.input": ["(None, 3)"],
    "Graph.forward": ["obj.param(np.ones(2, dtype=obj.dtype))"],
    "Graph.backward": ["descent.graph.sum(obj.param(np.ones(2, dtype=obj.dtype)))"],
}
# descent.graph functions on nodes of one shared graph (_nodes() in the child: x and y inputs
# (batch, 3), labels, w a (3, 2) param, gamma and beta (3,) params).
for _name in ("exp", "log", "square", "sqrt", "sin", "cos", "abs", "sigmoid", "tanh", "relu", "leaky_relu", "softmax",
              "sum", "mean"):
    RECIPES[f"descent.graph.{_name}"] = ["_nodes()['x']"]
RECIPES.update({
    "descent.graph.activation": ["_nodes()['x']", "'tanh'"],
    "descent.graph.dropout": ["_nodes()['x']", "0.5", "7"],
    "descent.graph.l2_penalty": ["_nodes()['w']", "0.1", "4"],
    "descent.graph.matmul": ["_nodes()['x']", "_nodes()['w']"],
    "descent.graph.batch_norm": ["_nodes()['x']", "_nodes()['gamma']", "_nodes()['beta']"],
    "descent.graph.softmax_cross_entropy": ["_nodes()['x']", "_nodes()['labels']"],
    "descent.graph.multiclass_hinge": ["_nodes()['x']", "_nodes()['labels']", "1.0"],
})
for _name in ("mse", "sse", "quadratic_cost", "bce", "bce_with_logits"):
    RECIPES[f"descent.graph.{_name}"] = ["_nodes()['x']", "_nodes()['y']"]
FLOAT_NAMES = {"lr", "lr0", "eps", "momentum", "gamma", "alpha", "rho", "weight_decay", "dampening", "factor",
               "threshold", "min_lr", "max_lr", "eta", "eta_min", "margin", "lam", "negative_slope", "gain", "h",
               "max_norm", "norm_type", "clip_value", "start_factor", "end_factor", "end_lr", "power", "offset",
               "pct_start", "div_factor", "final_div_factor", "decay_rate", "floor", "low", "high", "std", "mean",
               "start", "stop", "learning_rate", "beta", "value", "k", "lr_decay", "momentum_decay", "t_mult"}
INT_NAMES = {"t_max", "t_0", "total_iters", "total_steps", "warmup_steps", "step_size", "patience", "cooldown",
             "samples", "num", "m"}

MODULES = ["descent", "descent.optim", "descent.functional", "descent.schedules", "descent.clip", "descent.nn",
           "descent.gradcheck", "descent.graph", "descent.models", "descent.training"]
# How to make a live instance of each public class (methods run on these). A new public class
# with methods must be added here (test_every_public_class_has_a_factory says so).
FACTORIES = {
    "Tensor": ["descent.tensor([0.5, -1.0, 2.0])", "descent.tensor(np.ones((3, 4)), dtype=np.float32)"],
    "Schedule": ["descent.schedules.exponential(0.1, 0.9)", "descent.schedules.one_cycle(1.0, 100)"],
    "Plateau": ["descent.schedules.Plateau(0.1, patience=1)"],
    "LRScheduler": ["descent.schedules.LRScheduler(descent.optim.SGD([np.zeros(3)], lr=0.1, momentum=0.9), "
                    "descent.schedules.one_cycle(total_steps=100))",
                    "descent.schedules.LRScheduler(descent.optim.SGD([np.zeros(3)], lr=1.0, momentum=0.9), "
                    "descent.schedules.one_cycle(1.0, 100))"],
    "ReduceLROnPlateau": ["descent.schedules.ReduceLROnPlateau(descent.optim.Adam([np.zeros(3)]), patience=0)"],
    "GradientGroup": ["descent.clip.GradientGroup([np.array([0.5, -1.0, 2.0]), np.ones((2, 2))])"],
    "BatchNorm": ["descent.nn.BatchNorm(4)", "descent.nn.BatchNorm(3, dtype=np.float32)"],
    "GradientCheckResult": [None],   # a plain result record: fields only
    "DeltaRuleResult": [None],
    "NativeObject": [None],          # the abstract base: every method is tested through its subclasses
    "Optimizer": [None],             # abstract: tested through its subclasses
    "Graph": ["descent.Graph()", "descent.Graph(np.float32)"],
    "Node": ["descent.Graph().param(np.linspace(-1.0, 1.0, 6).reshape(3, 2))", "descent.Graph().input((None, 3))"],
    "Model": ["_mlp()"],
    "MLP": ["_mlp()", "descent.MLP([3, 2], loss='mse', dtype=np.float64)"],
    "DataLoader": [f"descent.DataLoader({MLP_X}, {MLP_Y}, batch_size=4)"],
    "Trainer": ["descent.Trainer(_mlp(), _mlp_optimizer())", "descent.Trainer(_mlp())"],
    "History": [f"descent.fit(_mlp(), _mlp_optimizer(), {MLP_X}, {MLP_Y}, epochs=2, progress=False)"],
    "RangeTestResult": [f"descent.lr_range_test(_mlp(), _mlp_optimizer(), {MLP_X}, {MLP_Y}, steps=5)"],
    "RestartsResult": [None],        # a plain result record
    "RestartRun": [None],
}
SKIPPED_DUNDERS = {"__init__", "__new__", "__del__", "__init_subclass__", "__subclasshook__", "__class_getitem__"}
OPTIMIZER_FACTORY = "descent.optim.{}([np.zeros(3), np.ones((2, 2))], lr=0.01)"


def _readonly(array):
    array.setflags(write=False)
    return array


def _like(obj):
    """A fresh value shaped like the receiver (a clone of a Tensor), else a small array."""
    import numpy as np
    return obj.clone() if hasattr(obj, "clone") else np.array([0.5, -1.0, 2.0])


def _state_of(obj):
    """The receiver's own checkpoint (state_dict() or .state), so loading gets past the keys."""
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    state = getattr(obj, "state", {})
    return state() if callable(state) else state


def _saved(obj):
    """A path the receiver has just saved itself to (when it can save)."""
    if hasattr(obj, "save"):
        obj.save("saved.bin")
    return "saved.bin"


def _spoiled(state, path, value):
    """``state`` with the entry reached by ``path`` (indices into sorted keys / list items,
    modulo their length) replaced by ``value``."""
    node = state
    for depth, index in enumerate(path):
        if isinstance(node, dict) and node:
            key = sorted(node, key=str)[index % len(node)]
        elif isinstance(node, list) and node:
            key = index % len(node)
        else:
            return state
        if depth == len(path) - 1 or not isinstance(node[key], (dict, list)):
            node[key] = value
            return state
        node = node[key]
    return state


def _raised_by_internals(error):
    """Where an exception came from when Python or NumPy raised it inside descent code (a bare
    "'float' object is not iterable") rather than one of descent's own ``raise`` statements: the
    innermost descent frame and its line, or None."""
    import linecache
    import traceback
    if isinstance(error, MemoryError):
        return None  # an array too large to allocate: the caller asked for it
    frames = traceback.extract_tb(error.__traceback__)
    package = os.sep + "descent" + os.sep
    ours = [index for index, frame in enumerate(frames) if package in frame.filename]
    if not ours:
        return None  # raised by the call itself (e.g. a wrong number of arguments)
    innermost = frames[ours[-1]]
    line = (linecache.getline(innermost.filename, innermost.lineno) or "").strip()
    if ours[-1] == len(frames) - 1 and line.startswith("raise"):
        return None
    if ours[-1] == len(frames) - 1 and ("lib.descent_" in line or "_check_status" in innermost.name):
        return None
    if frames[-1].name == "_check_status":
        return None  # a library status, typed
    return f"{os.path.basename(innermost.filename)}:{innermost.lineno} {innermost.name}: {line[:80]}"


def _closed(obj):
    obj.close()
    return obj


# ------------------------------------------------------------------------------------------
# The unchanged-on-failure oracle (child side)
# ------------------------------------------------------------------------------------------
class Fingerprints:
    """Comparable snapshots of everything a call could change in a value: array and tensor
    elements, an optimizer's params, state, step count, policy and settings (Python's
    param_groups and what C holds), schedulers' counters, a graph's nodes, params and bindings,
    a model's graph, a trainer's model and optimizer, containers' items. Immutable things
    (schedules, numbers, strings) print as themselves. A rejected call must print the same after."""

    def __init__(self):
        import ctypes
        import descent
        from descent import _ffi
        self.descent, self.ctypes = descent, ctypes
        raw = ctypes.CDLL(_ffi.library_path)  # no exceptions for failing statuses: cheap queries
        self.raw = {}
        for name, restype, argtypes in _ffi.FUNCTIONS:
            if restype == _ffi.STATUS:
                function = getattr(raw, name)
                function.restype, function.argtypes = ctypes.c_int32, argtypes
                self.raw[name] = function
        self.scratch = (ctypes.c_double * 256)()
        self.value = ctypes.c_double()

    def of(self, value, memo=None, depth=0):
        import numpy as np
        descent = self.descent
        memo = {} if memo is None else memo
        if id(value) in memo:
            return ("seen", memo[id(value)])
        memo[id(value)] = len(memo)
        if depth > 6:
            return ("deep",)
        if value is None or isinstance(value, (bool, int, float, complex, str, bytes, type)):
            return ("plain",)
        if isinstance(value, np.ndarray):
            if value.dtype == object or value.nbytes > 1 << 20:
                return ("array", value.shape, value.dtype.str, value.flags.writeable)
            return ("array", value.shape, value.dtype.str, value.flags.writeable, value.tobytes())
        if isinstance(value, bytearray):
            return ("bytearray", bytes(value))
        if isinstance(value, (list, tuple)):
            return (type(value).__name__, len(value)) + tuple(self.of(v, memo, depth + 1) for v in value[:16])
        if isinstance(value, dict):
            return ("dict", len(value)) + tuple((repr(k)[:40], self.of(v, memo, depth + 1))
                                                for k, v in list(value.items())[:16])
        if isinstance(value, descent.Tensor):
            return ("tensor", "closed") if value.closed else ("tensor", value.dtype.str, value.shape,
                                                                value.numpy().tobytes())
        if isinstance(value, descent.optim.Optimizer):
            return self.optimizer(value, memo, depth)
        if isinstance(value, descent.schedules.Schedule):
            return ("schedule", value.closed)
        if isinstance(value, descent.schedules.Plateau):
            return ("plateau", "closed") if value.closed else ("plateau", repr(value.state()))
        if isinstance(value, descent.schedules.LRScheduler):
            return ("lrscheduler", value.last_step, repr(value._last_lr), repr(value._last_momentum),
                    self.of(value.optimizer, memo, depth + 1), self.of(value.schedules, memo, depth + 1))
        if isinstance(value, descent.schedules.ReduceLROnPlateau):
            return ("plateaus", self.of(value.plateaus, memo, depth + 1), self.of(value.optimizer, memo, depth + 1))
        if isinstance(value, descent.Graph):
            return self.graph(value, memo, depth)
        if isinstance(value, descent.graph.Node):
            return ("node", value.index, self.of(value.graph, memo, depth + 1))
        if isinstance(value, descent.Model):
            return ("model", value.epochs_trained, self.of(value.graph, memo, depth + 1))
        if isinstance(value, descent.Trainer):
            epoch = "closed" if value.closed else value.epoch
            return ("trainer", epoch, self.of(value.model, memo, depth + 1), self.of(value.optimizer, memo, depth + 1))
        if isinstance(value, descent.DataLoader):
            return ("loader", value.closed)
        if isinstance(value, descent.clip.GradientGroup):
            return ("gradients", getattr(value, "_closed", False), self.of(getattr(value, "_items", []), memo, depth + 1))
        if isinstance(value, descent.nn.BatchNorm):
            return ("batchnorm", self.of([value.gamma, value.beta, value.running_mean, value.running_var], memo,
                                         depth + 1), repr(value.momentum), repr(value.eps))
        return ("other", type(value).__name__)

    def where(self, before, after, path=""):
        """Where two prints first differ, as a path of tags and positions ("/optimizer[5]")."""
        if type(before) is tuple and type(after) is tuple and len(before) == len(after):
            tag = before[0] if before and isinstance(before[0], str) else ""
            for index, (was, now) in enumerate(zip(before, after)):
                if was != now:
                    return self.where(was, now, f"{path}/{tag}[{index}]")
        return path

    def optimizer(self, opt, memo, depth):
        if opt.closed:
            return ("optimizer", "closed")
        ctypes, raw, handle = self.ctypes, self.raw, opt.handle
        groups = [{k: repr(v) for k, v in group.items() if k != "params"} for group in opt._groups]
        params = [self.of(p, memo, depth + 1) for arrays in opt._registered for p in arrays]
        step, policy = ctypes.c_int64(), ctypes.c_int32()
        raw["descent_optimizer_step_count"](handle, ctypes.byref(step))
        raw["descent_optimizer_nonfinite_policy"](handle, ctypes.byref(policy))
        # Not the hyper-parameters C holds: they are a cache of param_groups, pushed at the next step.
        state, present = [], ctypes.c_int32()
        for index, param in enumerate(p for arrays in opt._registered for p in arrays):
            for slot in range(3):
                present.value = 0
                raw["descent_optimizer_state_present"](handle, index, slot, ctypes.byref(present))
                if present.value and param.size <= 256:
                    code = 1 if param.dtype == "float32" else 2
                    raw["descent_optimizer_state_get"](handle, index, slot, code, self.scratch, 256)
                    state.append(ctypes.string_at(self.scratch, param.nbytes))
        return ("optimizer", repr(groups), params, step.value, policy.value, tuple(state),
                repr([(k, id(v)) for k, v in opt.__dict__.items() if k in ("_grads",)]))

    def graph(self, graph, memo, depth):
        if graph.closed:
            return ("graph", "closed")
        nodes = self.ctypes.c_int64()
        self.raw["descent_graph_node_count"](graph.handle, self.ctypes.byref(nodes))
        # What each input is bound to (not whether it is read in place, nor the batch-size hints:
        # caches a trainer call invalidates conservatively, also when it fails).
        bindings = sorted((index, id(entry[0])) for index, entry in graph._fed.items())
        return ("graph", nodes.value, graph.training, bindings,
                self.of([node.array for node in graph._params], memo, depth + 1))


# ------------------------------------------------------------------------------------------
# The targets (introspected; pure)
# ------------------------------------------------------------------------------------------
def _public_names(module):
    names = getattr(module, "__all__", None)
    return sorted(names if names is not None else [n for n in dir(module) if not n.startswith("_")])


def _factories(cls_name, cls):
    import descent
    if cls_name in FACTORIES:
        return FACTORIES[cls_name]
    if isinstance(cls, type) and issubclass(cls, descent.optim.Optimizer):
        return [OPTIMIZER_FACTORY.format(cls_name)]
    return None


def targets():
    """Every fuzz target, as (description key, kind, path, member, params). kind: "call" (a
    module-level function or a constructor), "method", "get" or "set" (a property)."""
    import importlib
    import descent
    seen, found = set(), []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in _public_names(module):
            obj = getattr(module, name)
            if not callable(obj) or not getattr(obj, "__module__", "").startswith("descent"):
                continue
            if isinstance(obj, type) and issubclass(obj, BaseException):
                continue  # the exception classes themselves
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            found.append(("call", f"{module_name}.{name}", None, _params(obj)))
            if isinstance(obj, type) and isinstance(getattr(obj, "DEFAULTS", None), dict) and obj.DEFAULTS:
                # torch-style: a caller may edit param_groups[i][key] between steps.
                for key in list(obj.DEFAULTS) + ["params"]:
                    found.append(("item", f"{module_name}.{name}", key, []))
            if isinstance(obj, type):
                for member, value in sorted(_members(obj)):
                    if isinstance(value, property):
                        found.append(("get", f"{module_name}.{name}", member, []))
                        if value.fset is not None:
                            found.append(("set", f"{module_name}.{name}", member, [("value", "pos", True)]))
                    else:
                        found.append(("method", f"{module_name}.{name}", member, _params(value, skip_self=True)))
    del descent
    return found


def _members(cls):
    out = {}
    for klass in reversed(cls.__mro__):
        if klass is object:
            continue
        for member, value in vars(klass).items():
            if member.startswith("_") and not (member.startswith("__") and member not in SKIPPED_DUNDERS):
                continue  # private helpers; dunders (repr, len, array, operators...) are public behaviour
            if isinstance(value, (staticmethod, classmethod)) or not (inspect.isfunction(value) or isinstance(value, property)):
                continue
            out[member] = value
    return out.items()


def _params(obj, skip_self=False):
    """[(name, "pos" | "kw", required)] of a callable's signature (no *args); a class with a
    ``DEFAULTS`` table (the optimizers' hyper-parameters) takes those names as keywords too."""
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return []
    out = []
    for index, p in enumerate(signature.parameters.values()):
        if skip_self and index == 0:
            continue
        if p.kind == p.VAR_KEYWORD and isinstance(getattr(obj, "DEFAULTS", None), dict):
            out += [(name, "kw", False) for name in obj.DEFAULTS]
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        out.append((p.name, "kw" if p.kind == p.KEYWORD_ONLY else "pos", p.default is p.empty))
    return out


# ------------------------------------------------------------------------------------------
# Call generation (pure: depends only on the targets and the seed)
# ------------------------------------------------------------------------------------------
def _sensible(rng, name):
    if name in HINTS:
        return rng.choice(HINTS[name])
    if name in FLOAT_NAMES:
        return rng.choice(["0.1", "0.5", "1.0", "1e-3", "0.9"])
    if name in INT_NAMES:
        return rng.choice(["1", "2", "10", "100"])
    if name in ("maximize", "nesterov", "amsgrad", "centered", "with_grad", "training", "endpoint", "trans_a",
                "trans_b", "three_phase", "cycle_momentum", "error_if_nonfinite", "include_params"):
        return rng.choice(["True", "False"])
    return rng.choice(GENERIC)


def _recipe_key(kind, path, member):
    if kind == "call":
        return path
    cls = _resolve_path(path)
    for klass in cls.__mro__:  # methods: "Class.method" of the class or a base class
        if f"{klass.__name__}.{member}" in RECIPES:
            return f"{klass.__name__}.{member}"
    return None


def _arguments(rng, params, recipe=None):
    """(positional sources, {keyword: source})."""
    if recipe is not None and rng.random() < 0.6:
        args = list(recipe)
        for _ in range(rng.choice([0, 1, 1, 2])):
            args[rng.randrange(len(args))] = rng.choice(VALUES)
        return args, {}
    all_adversarial = rng.random() < 0.3
    positional = [p for p in params if p[1] == "pos"]
    required = sum(1 for p in positional if p[2])
    roll = rng.random()
    if roll < 0.05 and required:
        count = rng.randrange(required)              # too few: TypeError
    elif roll < 0.1:
        count = len(positional) + 1                  # too many: TypeError
    else:
        count = rng.randint(required, len(positional))
    chosen = [(p[0], True) for p in positional[:count]]
    chosen += [(p[0], False) for p in params if p[1] == "kw" and (p[2] or rng.random() < 0.3)]
    if count > len(positional):
        chosen.append(("extra", True))
    hostile = set(range(len(chosen))) if all_adversarial else \
        set(rng.sample(range(len(chosen)), min(len(chosen), rng.choice([0, 1, 1, 2])))) if chosen else set()
    args, kwargs = [], {}
    for index, (name, is_positional) in enumerate(chosen):
        if name in ("state_dict", "state") and index in hostile and rng.random() < 0.7:
            # Most hostile checkpoints are the object's own with one entry spoiled.
            steps = [rng.randrange(8) for _ in range(rng.randint(1, 3))]
            source = f"_spoiled(_state_of(obj), {steps}, {rng.choice(VALUES)})"
        else:
            source = rng.choice(VALUES) if index in hostile else _sensible(rng, name)
        if is_positional:
            args.append(source)
        else:
            kwargs[name] = source
    return args, kwargs


def generate(batch):
    """The batch's calls: (kind, path, member, receiver, args, kwargs). Every target appears
    once per round; rounds come in a shuffled order so state one call leaves meets others."""
    rng = random.Random(SEED * 1000 + batch)
    found = targets()
    calls = []
    while len(calls) < CALLS_PER_BATCH:
        order = list(range(len(found)))
        rng.shuffle(order)
        for index in order:
            kind, path, member, params = found[index]
            receiver = None
            if kind != "call":
                # (instance index, closed?): the batch's long-lived objects, or closed ones.
                closable = hasattr(_resolve_path(path), "close")
                receiver = [rng.randrange(2), closable and rng.random() < 0.2]
            if kind == "get":
                args, kwargs = [], {}
            elif kind == "item" and member == "params":
                args, kwargs = [rng.choice(VALUES) if rng.random() < 0.5 else "list(obj.param_groups[0]['params'])"], {}
            elif kind in ("set", "item"):
                args, kwargs = [rng.choice(VALUES) if rng.random() < 0.7 else _sensible(rng, member)], {}
            else:
                args, kwargs = _arguments(rng, params, RECIPES.get(_recipe_key(kind, path, member)))
            calls.append((kind, path, member, receiver, args, kwargs))
    return calls[:CALLS_PER_BATCH]


def _receiver_source(path, receiver):
    cls_name = path.rsplit(".", 1)[1]
    sources = _factories(cls_name, _resolve_path(path)) or [None]
    source = sources[receiver[0] % len(sources)]
    if source is None:
        return None
    return f"_closed({source})" if receiver[1] else source


def _resolve_path(path):
    import importlib
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def describe(call):
    """The call as Python source (``obj`` is the receiver, built as shown)."""
    kind, path, member, receiver, args, kwargs = call
    shown = ", ".join(list(args) + [f"{k}={v}" for k, v in kwargs.items()])
    if kind == "call":
        return f"{path}({shown})"
    source = _receiver_source(path, receiver)
    where = f"obj = {source} (an object earlier calls of the batch may have used)"
    if kind == "get":
        return f"obj.{member}   where {where}"
    if kind == "set":
        return f"obj.{member} = {args[0]}   where {where}"
    if kind == "item":
        return f"obj.param_groups[0][{member!r}] = {args[0]}; obj.step({STEP_GRADS})   where {where}"
    return f"obj.{member}({shown})   where {where}"


# ------------------------------------------------------------------------------------------
# The child
# ------------------------------------------------------------------------------------------
def child(batch, log_path, only=None):
    fuzz_harness.cap_address_space(CHILD_ADDRESS_SPACE)
    import warnings
    import numpy as np
    import descent
    warnings.simplefilter("ignore")
    sys.setrecursionlimit(3000)
    namespace = {"np": np, "descent": descent, "_closed": _closed, "_readonly": _readonly, "_like": _like,
                 "_state_of": _state_of, "_saved": _saved, "_spoiled": _spoiled, "obj": None}
    shared = {}

    def _mlp():
        if "model" not in shared:
            shared["model"] = descent.MLP([3, 4, 2], seed=1)
        return shared["model"]

    def _mlp_optimizer():
        if "optimizer" not in shared or not shared["optimizer"].handle:
            shared["optimizer"] = descent.optim.Adam(_mlp().parameters(), lr=0.01)
        return shared["optimizer"]
    def _nodes():
        if "nodes" not in shared or shared["nodes"]["x"].graph.closed:
            g = descent.Graph()
            shared["nodes"] = {"x": g.input((None, 3)), "y": g.input((None, 3)), "labels": g.labels(),
                               "w": g.param(np.linspace(-1.0, 1.0, 6).reshape(3, 2)),
                               "gamma": g.param(np.ones(3)), "beta": g.param(np.zeros(3))}
        return shared["nodes"]
    namespace.update(_mlp=_mlp, _mlp_optimizer=_mlp_optimizer, _nodes=_nodes)
    calls = generate(batch)
    mode, _, at = os.environ.get("DESCENT_API_FUZZ_SELF_TEST", "none:-1").partition(":")
    self_test = (mode, int(at))
    allowed = tuple(__builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
                    for name in ALLOWED)
    objects = {}

    def receiver_of(path, receiver):
        key = (path, receiver[0], receiver[1])
        if key not in objects or receiver[1]:
            source = _receiver_source(path, receiver)
            objects[key] = None if source is None else eval(source, namespace)
        return objects[key]

    with tempfile.TemporaryDirectory() as tmpdir:
        os.chdir(tmpdir)  # save/load with adversarial paths write here
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        misbehaviour, counts, succeeded = [], {}, {}
        prints, checked, slowest = Fingerprints(), 0, [0.0, ""]
        current = ["(before the first call)"]

        def unraisable(report):  # e.g. an exception in __del__, which Python only prints
            misbehaviour.append(f"{current[0]} left an unraisable {type(report.exc_value).__name__} in "
                                f"{report.object!r}: {report.exc_value}")
        sys.unraisablehook = unraisable
        for index, call in enumerate(calls):
            if only is not None and index != only:
                continue
            kind, path, member, receiver, args, kwargs = call
            key = path if kind == "call" else f"{path}.{member}"
            os.write(log, f"{index}\t{describe(call)}\n".encode())
            current[0] = describe(call)
            if self_test == ("trap", index):
                os.kill(os.getpid(), 4)  # die like a Swift trap
            if self_test == ("mutate", index) and kind != "call":
                objects.pop((path, receiver[0], receiver[1]), None)  # a fresh receiver: earlier calls may have closed it
            try:
                target = _resolve_path(path) if kind == "call" else receiver_of(path, receiver)
                if target is None:
                    continue  # an abstract base or a plain record: nothing to call methods on
                namespace["obj"] = None if kind == "call" else target
                values = [eval(source, namespace) for source in args]
                keywords = {k: eval(source, namespace) for k, source in kwargs.items()}
            except (descent.DescentError,) + allowed:
                continue  # an argument built from the receiver (its state, a clone) is unavailable
            except Exception as error:  # the fixture itself failed: the harness is broken
                misbehaviour.append(f"fixture for {describe(call)} raised {type(error).__name__}: {error}")
                continue
            counts[key] = counts.get(key, 0) + 1
            subjects, before, edited = None, None, None
            try:
                if kind == "item":  # the caller's own edit; the oracle watches the step after it
                    edited = (target.param_groups[0], member, target.param_groups[0].get(member))
                    target.param_groups[0][member] = values[0]
                    values = [eval(STEP_GRADS, namespace)]
                if index % ORACLE_EVERY == batch % ORACLE_EVERY and key not in UNWATCHED:
                    subjects = ([] if kind == "call" else [("the receiver", target)]) + \
                        [(f"argument {i + 1}", v) for i, v in enumerate(values)] + \
                        [(f"keyword {k}", v) for k, v in keywords.items()]
                    before = [prints.of(subject) for _name, subject in subjects]
            except Exception:  # a value the oracle cannot print (e.g. a view of a closed graph's buffer)
                subjects = None
            started = time.perf_counter()
            try:
                if self_test == ("raise", index):
                    raise AttributeError("self-test")
                if self_test == ("mutate", index):  # the oracle's own test: change the receiver, then fail
                    target.step([np.ones_like(p) for p in target._params()])
                    raise descent.InvalidArgumentError("self-test")
                if self_test == ("hang", index):
                    time.sleep(3600)
                if kind == "call":
                    target(*values, **keywords)
                elif kind == "get":
                    getattr(target, member)
                elif kind == "set":
                    setattr(target, member, *values)
                elif kind == "item":
                    target.step(*values)
                else:
                    getattr(target, member)(*values, **keywords)
                succeeded[key] = succeeded.get(key, 0) + 1
            except (descent.DescentError,) + allowed as error:
                bare = _raised_by_internals(error)
                if bare:
                    misbehaviour.append(f"{describe(call)} raised {type(error).__name__} from inside descent, at {bare} "
                                        f"(an argument descent did not check): {str(error)[:200]}")
                if subjects is not None:
                    checked += 1
                    try:
                        changed = []
                        for (name, subject), was in zip(subjects, before):
                            now = prints.of(subject)
                            if now != was:
                                changed.append(f"{name} (at {prints.where(was, now)})")
                    except Exception as failure:
                        changed = [f"(the oracle could not print it again: {type(failure).__name__})"]
                    if changed:
                        misbehaviour.append(f"{describe(call)} raised {type(error).__name__}: {str(error)[:200]} "
                                            f"but changed {', '.join(changed)}")
                if kind == "item" and edited is not None:  # a caller undoes its own refused edit
                    edited[0][edited[1]] = edited[2]
            except BaseException as error:  # anything else is a defect
                misbehaviour.append(f"{describe(call)} raised {type(error).__module__}.{type(error).__name__}: "
                                    f"{str(error)[:300]}")
            elapsed = time.perf_counter() - started
            if elapsed > slowest[0]:
                slowest[:] = [elapsed, describe(call)]
            if index % 500 == 499:
                objects.clear()  # fresh long-lived objects now and then
                shared.clear()
        fuzz_harness.finish_log(log, counts, succeeded, misbehaviour, checked=checked, slowest=slowest)


# ------------------------------------------------------------------------------------------
# The tests (parent side)
# ------------------------------------------------------------------------------------------
def run_batch(batch, extra_env=None):
    """Runs one batch; returns (per-target counts, list of failure descriptions)."""
    return fuzz_harness.run_batch(__file__, batch, extra_env=extra_env)


def _results():
    return fuzz_harness.all_batches(__file__, BATCHES)


def pytest_generate_tests(metafunc):
    if "batch" in metafunc.fixturenames:
        metafunc.parametrize("batch", range(BATCHES))


def test_no_call_crashes_hangs_or_raises_an_untyped_exception(batch):
    _report, failures = _results()[batch]
    unique = list(dict.fromkeys(failures))
    assert not unique, f"{len(unique)} defects, e.g.:\n" + "\n".join(unique[:25])


def test_every_public_callable_was_fuzzed():
    totals = {}
    for report, _failures in _results().values():
        for key, count in report["counts"].items():
            totals[key] = totals.get(key, 0) + count
    if any(failures for _report, failures in _results().values()):
        return  # a crash is reported by the batch test; its counts are missing
    expected = []
    for kind, path, member, _params in targets():
        cls_name = path.rsplit(".", 1)[1]
        if kind != "call" and _factories(cls_name, _resolve_path(path)) == [None]:
            continue
        expected.append(path if kind == "call" else f"{path}.{member}")
    missing = [key for key in expected if totals.get(key, 0) < MIN_CALLS]
    assert not missing, f"fuzzed fewer than {MIN_CALLS} times: {missing}"


# Targets that never succeed, by design, each with the reason. Every other target must succeed
# at least once over the batches, so its success path (the deep code) is fuzzed too.
NEVER_SUCCEED = {
    "descent.Tensor": "not constructible: descent.tensor(), wrap() and zeros() make tensors",
    "descent.Schedule": "not constructible: the factories in descent.schedules make schedules",
    "descent.optim.Optimizer": "the abstract base: its subclasses are the optimizers",
    "descent.graph.Node.__bool__": "a symbolic node has no truth value: it always raises TypeError",
    "descent.Graph.__reduce_ex__": "a graph cannot be copied or pickled (TypeError, by design)",
    "descent.DataLoader.__reduce_ex__": "a data loader cannot be copied or pickled (TypeError, by design)",
    "descent.Trainer.__reduce_ex__": "a trainer cannot be copied or pickled (TypeError, by design)",
}


def test_every_target_succeeds_sometimes():
    if any(failures for _report, failures in _results().values()):
        return  # a crash is reported by the batch test; its counts are missing
    counts = fuzz_harness.totals(_results(), "counts")
    succeeded = fuzz_harness.totals(_results(), "succeeded")
    never = sorted(key for key in counts if not succeeded.get(key) and key not in NEVER_SUCCEED)
    assert not never, f"{len(never)} targets never succeeded (add a recipe or a hint): {never}"
    stale = [key for key in NEVER_SUCCEED if succeeded.get(key)]
    assert not stale, f"these succeed now; drop them from NEVER_SUCCEED: {stale}"
    unknown = [key for key in NEVER_SUCCEED if key not in counts]
    assert not unknown, f"NEVER_SUCCEED names no target: {unknown}"


def test_the_oracle_watched_many_rejected_calls():
    checked = sum(report.get("checked", 0) for report, _f in _results().values())
    assert checked > 10_000, checked


def test_the_slowest_call_is_far_below_the_stall_limit():
    """The hang detector's limit (fuzz_harness.STALL_SECONDS without a new call) against the
    slowest call measured in this run."""
    seconds, call = fuzz_harness.slowest_call(_results())
    assert seconds < fuzz_harness.STALL_SECONDS / fuzz_harness.STALL_MARGIN, \
        f"{call} took {seconds:.1f} s; a hang is {fuzz_harness.STALL_SECONDS} s without progress"


def oracle_self_test_index(batch):
    """A watched call of `batch` (SGD.zero_grad on a live optimizer) where
    DESCENT_API_FUZZ_SELF_TEST=mutate:<index> makes the receiver afresh (earlier calls of the batch
    may have closed the shared one), steps it and then raises."""
    return next(i for i, call in enumerate(generate(batch))
                if i % ORACLE_EVERY == batch % ORACLE_EVERY and call[0] == "method" and call[1] == "descent.optim.SGD"
                and call[2] == "zero_grad" and not call[3][1])


def test_a_rejected_call_that_changes_an_object_is_reported():
    """The oracle itself: at the self-test index the child steps the receiving optimizer, then
    raises; the batch reports the call as rejected but changing the receiver."""
    calls = generate(0)
    at = oracle_self_test_index(0)
    _report, failures = run_batch(0, extra_env={"DESCENT_API_FUZZ_SELF_TEST": f"mutate:{at}"})
    assert len(failures) == 1
    assert failures[0].startswith(describe(calls[at]) + " raised InvalidArgumentError: self-test")
    assert "but changed the receiver (at /optimizer[" in failures[0]


def test_a_hanging_call_is_reported_after_the_stall_limit():
    calls = generate(0)
    started = time.monotonic()
    report, failure = fuzz_harness.run_logged_batch(__file__, 0, extra_env={"DESCENT_API_FUZZ_SELF_TEST": "hang:31"},
                                                    stall=3)
    assert report is None and "hung (nothing logged for 3 s)" in failure and describe(calls[31]) in failure
    assert time.monotonic() - started < 60


def test_every_public_class_has_a_factory():
    """Methods need a live instance: a new public class must say how to make one."""
    missing = []
    for kind, path, member, _params in targets():
        if kind == "method" and _factories(path.rsplit(".", 1)[1], _resolve_path(path)) is None:
            missing.append(path)
    assert not missing, f"add these classes to FACTORIES: {sorted(set(missing))}"


def test_the_targets_cover_the_api():
    keys = {(kind, path, member) for kind, path, member, _p in targets()}
    for expected in [("call", "descent.tensor", None), ("call", "descent.functional.adam", None),
                     ("method", "descent.Tensor", "copy_from"), ("set", "descent.optim.SGD", "nonfinite"), ("item", "descent.optim.Adam", "betas"),
                     ("method", "descent.LRScheduler", "load_state_dict"),
                     ("method", "descent.clip.GradientGroup", "clip_norm"), ("method", "descent.BatchNorm", "backward"),
                     ("method", "descent.schedules.Plateau", "load_state"), ("method", "descent.Tensor", "__repr__"), ("call", "descent.gradient_check", None),
                     ("method", "descent.Schedule", "__call__"), ("get", "descent.Tensor", "shape")]:
        assert expected in keys, expected


def test_every_recipe_names_a_target():
    """A renamed function or method must not silently lose its recipe."""
    keys = {_recipe_key(kind, path, member) for kind, path, member, _p in targets()}
    assert not [key for key in RECIPES if key not in keys]


def test_generation_is_deterministic():
    assert generate(1) == generate(1)
    assert generate(1) != generate(2)


def test_an_untyped_exception_and_a_crash_are_reported_with_the_call():
    """The harness itself: an AttributeError raised by a call is reported with that call spelled as
    source; a child dying like a Swift trap (SIGILL) at call 23 is reported, replayed alone, and
    not counted as a pass."""
    calls = generate(0)
    at = next(i for i, call in enumerate(calls) if call[:2] == ("call", "descent.abi_version"))
    _report, failures = run_batch(0, extra_env={"DESCENT_API_FUZZ_SELF_TEST": f"raise:{at}"})
    assert len(failures) == 1
    assert failures[0].startswith(describe(calls[at]) + " raised builtins.AttributeError: self-test")
    _report, failures = run_batch(0, extra_env={"DESCENT_API_FUZZ_SELF_TEST": "trap:23"})
    assert len(failures) == 1
    assert "returncode -4" in failures[0] and describe(calls[23]) in failures[0]
    assert "crashes on its own too" in failures[0]


if __name__ == "__main__":
    child(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
