"""ABI fuzz: nothing crashes the host process, whatever the caller passes (short of wild pointers).

Every row of ``descent._ffi.FUNCTIONS`` is called many times with adversarial arguments chosen
from its argtypes (the table is introspected, so new functions are covered automatically):
extreme integers, non-finite doubles, NULL / small / large buffers with hostile contents, live
handles of every kind (and freed, stale, junk ones), hostile callbacks and corrupt checkpoint
files. Statuses are ignored -- an error is a fine answer -- but the process must not die (a Swift
trap is SIGILL), hang, or raise anything at the Python level other than a ``DescentError``.

Half the calls have every argument adversarial; the other half start from sensible values
(tensors sharing a dtype and shape, the right kind of handle first) with one to three arguments
made adversarial, so calls get past their first check into the deep code. Rounds over the table
come in random order and the fixtures live for the whole batch, so state one call leaves (a step
count of INT64_MAX, a restored plateau) is met by later calls. The last batch is a systematic
sweep: every function with every tensor argument an empty tensor with huge other extents.

The calls run in child processes (``sys.executable`` running this file), CALLS_PER_BATCH per
child, so a crash is a negative return code rather than a dead pytest. Each child logs every call
before making it; on a crash the last logged call is replayed alone in a fresh child and the
assertion names the function, its arguments and whether the call crashes on its own.

Two oracles beyond "no crash": on every 2nd call the objects the call touches (tensors,
optimizers with their params, plateaus, graphs, loaders, trainers, out-buffers) are fingerprinted,
and a call that fails must leave them as they were; and every function must succeed at least once
(fixtures and recipes make the graph and training functions succeed too), so success paths are
fuzzed as well as the error paths. A hang is a child that logs no call for a while (see
fuzz_harness), not a batch that takes long on a loaded machine.

Arguments that would be the caller's fault (a count larger than the buffer passed with it) or
that ask for gigabytes by design (a linspace of 2^31 points) are filtered out (see
``plausible``), and a child's address space is capped as a safety net. Every buffer ends at an
inaccessible page, so a call that reads or writes past one dies at that call (and is named)
instead of corrupting the child's heap for a later call to crash on.

``make stress`` runs the same generator scaled to a call count (DESCENT_FUZZ_CALLS, see
stress_abi_fuzz.py). DESCENT_FUZZ_ONLY="i,j,..." makes only those calls of a batch (the others are
skipped, the fixtures rebuilt as usual), to narrow down which earlier calls set a crash up:
``DESCENT_FUZZ_ONLY=4235,4590 python test_abi_fuzz.py 3 /tmp/log``.
"""
import ctypes
import functools
import math
import mmap
import os
import random
import struct
import sys
import tempfile
import time

import fuzz_harness

SEED = 20261121
CALLS_PER_BATCH = 12000
# `make stress` scales the fuzz with DESCENT_FUZZ_CALLS (python/tests/stress_abi_fuzz.py): enough
# random batches of the same generator for that many calls, plus the systematic sweep (the last).
BATCHES = math.ceil(int(os.environ["DESCENT_FUZZ_CALLS"]) / CALLS_PER_BATCH) + 1 \
    if os.environ.get("DESCENT_FUZZ_CALLS") else 24
BUF_LEN = 4096       # elements of the large buffers (8 bytes each)
SMALL_LEN = 16       # elements of the small buffer
SLACK = 16           # extra elements behind every buffer (e.g. piecewise values need count + 1)
# The unchanged-on-failure oracle watches every 2nd call (alternating by batch, so over the batches
# every position is watched); DESCENT_FUZZ_ORACLE_EVERY=1 (make stress) watches every call.
ORACLE_EVERY = int(os.environ.get("DESCENT_FUZZ_ORACLE_EVERY", "2"))

INT32S = [0, 1, 2, 3, -1, 7, 2**31 - 1, -2**31, 4, 5, 6, 8, 9, 10, 13, 64, 511, 1023]
INT64S = [0, 1, 2, -1, 3, 1000, 2**31, 2**62, 2**63 - 1, -2**63, 5, 12, 4096]
DOUBLES = [0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324, 1e308, -1e308, math.nan, math.inf, -math.inf,
           float(2**53), 0.9, 0.999, 1e-8, 2.0, 1e-3, -0.5, float(2**63), -float(2**63)]
UINT64_EXTRA = [2**64 - 1, 2**32, 1, 42]

# int64 arguments that are the element count of a caller buffer passed to the same call: a
# count above that buffer's size is the caller lying about its memory (a wild pointer), so the
# generator only uses such counts when every pointer in the call is NULL.
COUNT_ARGS = {
    "descent_tensor_from_buffer": [4], "descent_tensor_wrap": [4],
    "descent_tensor_copy_to": [3], "descent_tensor_copy_from": [3],
    "descent_sgd_step": [1], "descent_adagrad_step": [1], "descent_adadelta_step": [1],
    "descent_rmsprop_step": [1], "descent_adam_step": [1], "descent_adamw_step": [1],
    "descent_adamax_step": [1], "descent_nadam_step": [1], "descent_radam_step": [1],
    "descent_lion_step": [1],
    "descent_optimizer_add_group": [2], "descent_optimizer_set_grads": [2],
    "descent_optimizer_state_get": [5], "descent_optimizer_state_set": [5],
    "descent_schedule_new_multi_step": [2], "descent_schedule_new_piecewise_constant": [1],
    "descent_schedule_new_sequential": [1], "descent_schedule_values": [2],
    "descent_clip_grad_norm": [1], "descent_clip_grad_norm_ex": [1], "descent_clip_grad_value": [1],
    "descent_step_size_sweep": [5],
    "descent_graph_shape": [4], "descent_graph_forward": [4], "descent_graph_value": [4], "descent_graph_grad": [4],
    "descent_graph_running_stats": [5], "descent_graph_set_labels": [3], "descent_loader_new": [3],
    # range_test's rates/losses/smoothed hold `steps` doubles each: without this entry a range
    # test of 4096 steps wrote 32 KiB past the 32-element small buffer, and a later call of the
    # batch (descent_optimizer_save in batch 3 of the stress branch) died in the corrupted heap.
    "descent_loader_batch_indices": [3], "descent_trainer_range_test": [4],
}
# Counts of rows wider than one buffer element: (argument index, elements per row).
COUNT_ROWS = {"descent_trainer_fit": [(11, 6), (13, 1)], "descent_trainer_restarts": [(1, 4)]}
CHILD_ADDRESS_SPACE = 8 << 30  # bytes of virtual memory a child may map
MAX_ELEMENTS = 2**24  # the most elements a call may allocate by design (128 MiB of float64)
# The most training epochs (fit, restarts: count x epochs) or range-test steps a call may ask for
# by design: 1000 restarts of 4096 epochs are 8 million steps (24 s), a long call the caller
# asked for, not a hang, and the slowest-call figure is meant to measure the library's own time.
MAX_TRAINING_WORK = 100_000

TENSOR_SHAPES = [(), (0,), (1,), (5,), (3, 4), (4, 3), (1, 1), (0, 3), (3, 0), (2, 3, 4), (12,), (3, 3), (4,), (3,),
                 # Empty tensors with huge other extents: products of extents overflow, counts do not.
                 (0, 2**40), (2**40, 0), (0, 2**31 + 1), (2**31 + 1, 0), (3, 0, 2**40), (2**62, 0, 2**62)]
COPIES = 6  # distinct tensors of each dtype and shape (outputs must not alias inputs)
# COPIES x both dtypes x every shape, one non-finite (5,), 10 optimizers x (2 params + 2 grads).
POOL_TENSORS = COPIES * 2 * len(TENSOR_SHAPES) + 1 + 40
BUFFERS = ["small", "zeros", "ints", "ramp", "adv_i64", "adv_f64", "ones_f32", "rates", "labels01",
           "handles", "tensors", "same_tensor", "params", "schedules"]
HANDLE_BUFFERS = {"handles", "tensors", "same_tensor", "params", "schedules"}
RELATED_SHAPES = [4, 5, 11, 12, 13, 10, 3]  # (3,4) (4,3) (3,3) (4,) (3,) (12,) (5,): matmul, dense, losses
ISA_NAMES = ("baseline", "avx2", "avx512")   # strings (char *) that are not paths, used by recipes
PATHS = [None, "", "missing_dir", "save", "valid", "directory", "junk", "not_utf8"] + [f"corrupt{i}" for i in range(16)]
CALLBACKS = [None, "ok", "error", "nan", "inf", "scale_x", "free_x"]
# The fixture graphs (one per dtype): node indices by role, in build order.
GRAPH_NODES = {"x": 0, "labels": 1, "w": 2, "b": 3, "z": 4, "loss": 5, "gamma": 6, "beta": 7, "bn": 8,
               "dropout": 9, "sum": 10, "y": 11, "mse": 12}
GRAPH_ROWS = 6            # samples bound to the fixture graphs and their loaders
MOMENTUM_SCHEDULE = 6     # index of the momentum-cycling one-cycle among the fixture schedules


# ------------------------------------------------------------------------------------------
# Argument generation (pure: depends only on the table and the seed, never on call results)
# ------------------------------------------------------------------------------------------
def _kind(argtype):
    if argtype is ctypes.c_int32:
        return "i32"
    if argtype is ctypes.c_int64:
        return "i64"
    if argtype is ctypes.c_uint64:
        return "u64"
    if argtype is ctypes.c_double:
        return "f64"
    if argtype is ctypes.c_char_p:
        return "path"
    if argtype is ctypes.c_void_p or (isinstance(argtype, type) and issubclass(argtype, ctypes._Pointer)):
        return "ptr"
    if isinstance(argtype, type) and issubclass(argtype, ctypes._CFuncPtr):
        return "callback"
    raise AssertionError(f"the fuzzer does not know argtype {argtype!r}; teach _kind about it")


def _kinds(argtypes):
    return [_kind(a) for a in argtypes]


def _adversarial(rng, kind):
    if kind == "i32":
        return rng.choice(INT32S)
    if kind == "i64":
        return rng.choice(INT64S)
    if kind == "u64":
        roll = rng.random()
        if roll < 0.5:
            return ("tensor", rng.randrange(POOL_TENSORS))
        if roll < 0.9:
            kind = rng.choice(["freed", "optimizer", "optimizer_empty", "schedule", "plateau", "junk", "zero",
                               "graph", "loader", "trainer"])
            return (kind, rng.randrange(10))
        return ("raw", rng.choice(UINT64_EXTRA))
    if kind == "f64":
        return rng.choice(DOUBLES)
    if kind == "path":
        return rng.choice(PATHS)
    if kind == "ptr":
        return None if rng.random() < 0.12 else rng.choice(BUFFERS)
    if kind == "callback":
        return rng.choice(CALLBACKS)
    raise AssertionError(kind)


def _sensible(rng, kind, name, position, theme):
    """A value that is often valid, so the call gets past its first checks to the deep code."""
    if kind == "i32":
        return rng.choice([0, 1, 1, 2, 2, 0, 1, 5])
    if kind == "i64":
        return rng.choice([0, 1, 2, 3, 4, 5, 12, 1000, 2**63 - 1])
    if kind == "f64":
        return rng.choice([0.1, 0.5, 0.9, 1.0, 1e-3, 1e-8, 0.0, 2.0])
    if kind == "u64":
        for owner in ("optimizer", "schedule", "plateau", "graph", "loader", "trainer"):
            if owner in name and position == 0:
                # Skewed towards the first objects, so state one call leaves is met by the next.
                return (owner, min(int(rng.expovariate(0.7)), 9))
        dtype, shape, coherent = theme
        roll = rng.random()
        if coherent or roll < 0.4:
            return _tensor(shape, rng.randrange(COPIES), dtype)
        if roll < 0.85:
            return _tensor(rng.choice(RELATED_SHAPES), rng.randrange(COPIES), dtype)
        return ("tensor", rng.randrange(POOL_TENSORS))
    if kind == "ptr":
        return rng.choice(["ints", "ramp", "zeros", "tensors", "params", "ones_f32", "small", "schedules", "rates"])
    if kind == "path":
        return rng.choice(["valid", "save", "valid", "save"] + PATHS)
    if kind == "callback":
        return rng.choice(["ok", "ok", "nan", "error", "scale_x"])
    raise AssertionError(kind)


def _tensor(shape, copy, dtype):
    """The token of fixture tensor `copy` of TENSOR_SHAPES[shape] (dtype 0: float32, 1: float64)."""
    return ("tensor", (copy * 2 + dtype) * len(TENSOR_SHAPES) + shape)


@functools.lru_cache(maxsize=None)
def _recipes(d):
    """Valid calls (by the header's rules) for functions whose tensors must agree in several
    shapes at once, which random choices almost never hit; the fuzz mutates them from there.
    Shapes by index: 3 (5,), 4 (3,4), 5 (4,3), 11 (3,3), 12 (4,), 13 (3,). A stale recipe (a
    changed signature) only makes calls that fail, and is caught by the length check below."""
    def t(shape, copy=0):
        return _tensor(shape, copy, d)
    g = ("graph", d)
    return {
        "descent_tensor_matmul": [t(4), t(5), 0, 0, 1.0, 0.5, t(11)],
        "descent_dense_forward": [t(4), t(4, 1), t(13), 3, 0.01, t(11), t(11, 1)],
        "descent_dense_backward": [t(4), t(4, 1), t(11), t(11, 1), 1, 0.01, t(4, 2), t(13), t(4, 3)],
        "descent_batchnorm_forward_train": [t(4), t(12), t(12, 1), t(12, 2), t(12, 3), 0.1, 1e-5, t(4, 1),
                                            t(12, 4), t(12, 5)],
        "descent_batchnorm_backward": [t(4), t(12), t(12, 4), t(12, 5), t(4, 2), t(4, 3), t(12, 1), t(12, 2)],
        # running_var: a (4,) tensor of ones of its own (the random-normal pool is half negative, and
        # a negative running variance is refused, so this call succeeded only by chance).
        "descent_batchnorm_forward_infer": [t(4), t(12), t(12, 1), t(12, 2), ("variance", d), 1e-5, t(4, 1)],
        "descent_loss_softmax_cross_entropy": [t(4), "ints", 3, 0, t(4, 1), "zeros"],
        "descent_loss_multiclass_hinge": [t(4), "ints", 3, 1.0, 1, t(4, 1), "zeros"],
        "descent_loss_multiclass_hinge_linear": [t(5), t(11), "ints", 3, 1.0, 0, t(5, 1), "zeros"],
        "descent_loss_bce_logits": [t(4), t(4, 1), 0, t(4, 2), "zeros"],
        "descent_loss_mse": [t(4), t(4, 1), t(4, 2), "zeros"],
        "descent_delta_rule": [t(3), t(3, 1), 0.5, 0.1, t(3, 2), "zeros", "zeros", "zeros"],
        "descent_numerical_gradient": ["ok", None, t(3), 1e-6, 1, t(3, 1)],
        "descent_gradient_check": ["ok", None, t(3), t(3, 1), 1e-6, 1, 1e-10, 2, ("raw", 42),
                                   "zeros", "zeros", "zeros", "zeros"],
        "descent_step_size_sweep": ["ok", None, t(3), t(3, 1), "rates", 3, "zeros"],
        "descent_optimizer_state_get": [("optimizer", 4), 0, 0, 1, "zeros", 12],
        "descent_optimizer_state_set": [("optimizer", 4), 1, 1, 2, "rates", 5],
        "descent_optimizer_load": [("optimizer", 4), "valid"],
        "descent_schedule_new_sequential": ["schedules", 2, "ramp", "zeros"],
        "descent_schedule_momentum": [("schedule", MOMENTUM_SCHEDULE), 3, "zeros"],
        # The fixture graph of this dtype (nodes: GRAPH_NODES), its loader, optimizer and trainer.
        "descent_graph_input": [g, 2, "small", "zeros"],
        "descent_graph_labels": [g, "zeros"],
        "descent_graph_param": [g, t(4, 4), 1, "zeros"],
        "descent_graph_param_init": [g, GRAPH_NODES["w"], 5, 1.0],
        "descent_graph_constant": [g, t(4), "zeros"],
        "descent_graph_scalar": [g, 0.5, "zeros"],
        "descent_graph_binary": [g, 2, GRAPH_NODES["z"], GRAPH_NODES["z"], "zeros"],
        "descent_graph_unary": [g, 2, GRAPH_NODES["z"], "zeros"],
        "descent_graph_matmul": [g, GRAPH_NODES["z"], GRAPH_NODES["w"], 0, 0, "zeros"],
        "descent_graph_reduce": [g, 3, GRAPH_NODES["z"], 1, "zeros"],
        "descent_graph_activation": [g, 4, 0.01, GRAPH_NODES["z"], "zeros"],
        "descent_graph_cost": [g, 5, GRAPH_NODES["z"], GRAPH_NODES["labels"], 0, 0.0, "zeros"],
        "descent_graph_l2_penalty": [g, GRAPH_NODES["w"], 0.1, 6, "zeros"],
        "descent_graph_dense": [g, GRAPH_NODES["x"], GRAPH_NODES["w"], GRAPH_NODES["b"], 3, 0.01, "zeros"],
        "descent_graph_batchnorm": [g, GRAPH_NODES["z"], GRAPH_NODES["gamma"], GRAPH_NODES["beta"], 0.1, 1e-5, "zeros"],
        "descent_graph_dropout": [g, GRAPH_NODES["z"], 0.5, ("raw", 42), "zeros"],
        "descent_graph_node_count": [g, "zeros"],
        "descent_graph_truncate": [g, len(GRAPH_NODES)],   # drops what fuzzed builders added
        "descent_graph_shape": [g, GRAPH_NODES["z"], "zeros", "zeros", 8],
        "descent_graph_param_count": [g, "zeros"],
        "descent_graph_param_node": [g, 1, "zeros"],
        "descent_graph_set_input": [g, GRAPH_NODES["x"], ("graph_x", d)],
        "descent_graph_set_labels": [g, GRAPH_NODES["labels"], "labels01", GRAPH_ROWS],
        "descent_graph_set_training": [g, 1],
        "descent_graph_forward": [g, GRAPH_NODES["loss"], d + 1, "zeros", 64, "zeros"],
        "descent_graph_value": [g, GRAPH_NODES["z"], d + 1, "zeros", 64, "zeros"],
        "descent_graph_backward": [g, GRAPH_NODES["loss"], "zeros"],
        "descent_graph_grad": [g, GRAPH_NODES["w"], d + 1, "zeros", 64],
        "descent_graph_grad_buffer": [g, "zeros", "zeros"],
        "descent_graph_init_params": [g, ("raw", 42)],
        "descent_graph_running_stats": [g, GRAPH_NODES["bn"], d + 1, "zeros", "zeros", 2, 0],
        "descent_loader_new": [("graph_x", d), ("zero", 0), "labels01", GRAPH_ROWS, 4, 1, ("raw", 7), "zeros"],
        "descent_loader_batch_count": [("loader", d), "zeros"],
        "descent_loader_set_epoch": [("loader", d), 3],
        "descent_loader_batch_indices": [("loader", d), 1, "zeros", 64, "zeros"],
        "descent_trainer_new": [g, ("graph_optimizer", d), GRAPH_NODES["loss"], "zeros"],
        "descent_trainer_set_nodes": [("trainer", d), GRAPH_NODES["x"], GRAPH_NODES["labels"], GRAPH_NODES["z"]],
        "descent_trainer_set_schedule": [("trainer", d), ("schedule", MOMENTUM_SCHEDULE), 0],
        "descent_trainer_set_schedule_ex": [("trainer", d), ("schedule", MOMENTUM_SCHEDULE), 0, 1],
        "descent_graph_param_buffer": [g, "zeros", "zeros"],
        "descent_trainer_backward_batch": [("trainer", d), ("loader", d), 0, d, 2, "zeros", "zeros", "zeros"],
        # Every kernel path gives the same bits, so switching to the baseline one changes no result.
        "descent_set_isa": ["baseline"],
        "descent_isa_available": [("avx2", "baseline")[d], "zeros"],
        "descent_trainer_set_clip_norm": [("trainer", d), 1.0],
        "descent_trainer_epoch": [("trainer", d), "zeros"],
        "descent_trainer_set_epoch": [("trainer", d), 2],
        "descent_trainer_step": [("trainer", d), "zeros", "zeros"],
        "descent_trainer_step_batch": [("trainer", d), ("loader", d), 0, "zeros", "zeros", "zeros"],
        "descent_trainer_evaluate": [("trainer", d), ("loader", d), "zeros", "zeros"],
        "descent_trainer_fit": [("trainer", d), ("loader", d), ("zero", 0), 2, 0, 0.0, 0, "ok", "ok", None,
                                "zeros", 4, "zeros", 16, "zeros"],
        "descent_trainer_restarts": [("trainer", d), 2, ("raw", 5), ("loader", d), ("zero", 0), 2, 0, 0.0,
                                     "zeros", "zeros", "zeros"],
        "descent_trainer_range_test": [("trainer", d), ("loader", d), 1e-4, 1.0, 5, 0.9, 4.0, "zeros", "zeros",
                                       "zeros", "zeros", "zeros"],
    }


def _arguments(rng, name, kinds):
    """Half the calls: every argument adversarial. The other half: sensible arguments (tensor
    handles sharing one dtype and shape; for a few functions a valid recipe) with up to three of
    them made adversarial."""
    if rng.random() < 0.5:
        return [_adversarial(rng, kind) for kind in kinds]
    # (dtype, shape, whether every tensor argument has that shape)
    theme = (rng.randrange(2), rng.randrange(len(TENSOR_SHAPES)), rng.random() < 0.5)
    recipe = _recipes(theme[0]).get(name)
    if recipe is not None and len(recipe) == len(kinds) and rng.random() < 0.6:
        args = list(recipe)
    else:
        args = [_sensible(rng, kind, name, i, theme) for i, kind in enumerate(kinds)]
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        if kinds:
            i = rng.randrange(len(kinds))
            args[i] = _adversarial(rng, kinds[i])
    return args


def _capacity(token):
    if token is None:
        return math.inf
    return SMALL_LEN if token == "small" else BUF_LEN


def _buffer_int64s(token):
    """The int64 values a buffer starts with (None when they depend on live handles)."""
    if token in HANDLE_BUFFERS:
        return None
    data = _pristine(token)
    return list(struct.unpack(f"<{len(data) // 8}q", data))


def plausible(name, argtypes, args):
    """False for calls whose failure would be the caller's fault or that allocate gigabytes."""
    pointers = [a for k, a in zip(_kinds(argtypes), args) if k == "ptr"]
    room = min([_capacity(p) for p in pointers], default=math.inf)
    for index in COUNT_ARGS.get(name, []):
        if args[index] > room:
            return False
    for index, width in COUNT_ROWS.get(name, []):
        if args[index] * width > room:
            return False
    # Shaped constructors: (dtype, rank, shape, ...). Keep the element count small or impossible.
    if name.startswith("descent_tensor_") and len(argtypes) > 2 and _kinds(argtypes)[1:3] == ["i64", "ptr"]:
        rank, shape = args[1], args[2]
        if 0 < rank <= 8 and shape is not None:
            values = _buffer_int64s(shape)
            if values is None:
                return False
            dims = values[:rank]
            if all(d >= 0 for d in dims):
                product = math.prod(dims)
                if MAX_ELEMENTS < product and product * 8 < 2**63:
                    return False
    if name == "descent_tensor_linspace" and args[3] > MAX_ELEMENTS:
        return False
    if name == "descent_trainer_fit" and args[3] > MAX_TRAINING_WORK:
        return False
    if name == "descent_trainer_restarts" and max(args[1], 1) * args[5] > MAX_TRAINING_WORK:
        return False
    if name == "descent_trainer_range_test" and args[4] > MAX_TRAINING_WORK:
        return False
    if name == "descent_tensor_arange":
        start, stop, step = args[1:4]
        if step != 0 and all(math.isfinite(v) for v in (start, stop, step)):
            if (stop - start) / step > MAX_ELEMENTS:
                return False
    return True


HUGE_EMPTY = [i for i, shape in enumerate(TENSOR_SHAPES) if 0 in shape and max(shape) > 2**30]


def sweep():
    """A systematic batch: every function with every tensor argument set to one empty tensor
    with huge other extents (code that sizes a buffer by one extent without looking at the
    element count dies here), and each int32 argument (dtype, activation, reduction, flag...)
    run through 0..5."""
    from descent import _ffi
    calls = []
    for name, _restype, argtypes in _ffi.FUNCTIONS:
        kinds = _kinds(argtypes)
        if "u64" not in kinds:
            continue
        for dtype in (0, 1):
            for shape in HUGE_EMPTY:
                for code in range(6) if "i32" in kinds else [1]:
                    fill = {"i32": code, "i64": 1, "f64": 0.5, "ptr": "zeros", "callback": "ok", "path": "save",
                            "u64": _tensor(shape, 0, dtype)}
                    args = [fill[kind] for kind in kinds]
                    if plausible(name, argtypes, args):
                        calls.append((name, args))
    return calls


def generate(batch):
    """The deterministic list of (function name, args) of one batch (the last one is `sweep`)."""
    from descent import _ffi
    if batch == BATCHES - 1:
        return sweep()
    rows = [(name, argtypes) for name, _restype, argtypes in _ffi.FUNCTIONS]
    rng = random.Random(f"{SEED}:{batch}")
    calls = []
    while len(calls) < CALLS_PER_BATCH:
        # Rounds over the whole table in a fresh random order, so every function gets about
        # CALLS_PER_BATCH / len(rows) calls and sees state left by every other function.
        rng.shuffle(rows)
        for name, argtypes in rows:
            kinds = _kinds(argtypes)
            for _attempt in range(50):
                args = _arguments(rng, name, kinds)
                if plausible(name, argtypes, args):
                    calls.append((name, args))
                    break
    return calls[:CALLS_PER_BATCH]


# ------------------------------------------------------------------------------------------
# Buffers and fixtures (used in the child)
# ------------------------------------------------------------------------------------------
def _pristine(token, handles=None):
    n = BUF_LEN + SLACK
    if token == "small":
        return struct.pack(f"<{SMALL_LEN + SLACK}q", *([3, 4, 2, 1, 0, 5, 2, 1] * 4)[:SMALL_LEN + SLACK])
    if token == "zeros":
        return bytes(n * 8)
    if token == "ints":
        return struct.pack(f"<{n}q", *[(i % 5) + 1 for i in range(n)])
    if token == "labels01":  # class labels 0 and 1 (the fixture graphs have two classes)
        return struct.pack(f"<{n}q", *[(i * 7 // 3) % 2 for i in range(n)])
    if token == "ramp":
        return struct.pack(f"<{n}q", *[3 * i + 1 for i in range(n)])
    if token == "adv_i64":
        pattern = [2**62, 2**63 - 1, -2**63, -1, 0, 2**31, 7, -5]
        return struct.pack(f"<{n}q", *[pattern[i % len(pattern)] for i in range(n)])
    if token == "adv_f64":
        pattern = [math.nan, math.inf, -math.inf, -1.0, 1e308, 0.5, 5e-324, 0.0, 1e-300]
        return struct.pack(f"<{n}d", *[pattern[i % len(pattern)] for i in range(n)])
    if token == "rates":
        return struct.pack(f"<{n}d", *([0.1, 1e-3, 0.5, 1.0] * (n // 4)))
    if token == "ones_f32":
        return struct.pack(f"<{2 * n}f", *([1.0, -2.0, 0.25, 3.0] * (n // 2)))
    if token in HANDLE_BUFFERS:
        values = handles[token] if handles else [0]
        return struct.pack(f"<{n}Q", *[values[i % len(values)] for i in range(n)])
    raise AssertionError(token)


def guarded_buffer(size):
    """A zeroed ctypes buffer of `size` bytes whose last byte is followed by an inaccessible page:
    a call that runs past the end faults right there (the harness names that call) instead of
    overwriting the child's heap and crashing some later call."""
    page = mmap.PAGESIZE
    span = -(-size // page) * page
    region = mmap.mmap(-1, span + page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(region))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    if libc.mprotect(base + span, page, 0) != 0:  # PROT_NONE
        raise OSError(ctypes.get_errno(), "mprotect of a fuzz buffer's guard page failed")
    return (ctypes.c_char * size).from_buffer(region, span - size)  # keeps `region` alive


class Fixtures:
    """Live objects of every kind, rebuilt whenever a *_free call may have freed one."""

    def __init__(self, tmpdir):
        from descent import _ffi
        self.lib = _ffi.lib
        self.tmpdir = tmpdir
        self.buffers = {}
        for token in BUFFERS:
            size = (SMALL_LEN + SLACK) * 8 if token == "small" else (BUF_LEN + SLACK) * 8
            self.buffers[token] = guarded_buffer(size)
        self.owned = []
        self.scratch = (ctypes.c_double * 64)()
        raw = ctypes.CDLL(_ffi.library_path)
        self.raw = {}
        for function, restype, argtypes in _ffi.FUNCTIONS:
            if restype == _ffi.STATUS:
                bound = getattr(raw, function)
                bound.restype, bound.argtypes = ctypes.c_int32, argtypes
                self.raw[function] = bound
        self._count, self._dtype = ctypes.c_int64(), ctypes.c_int32()
        self._count_ref, self._dtype_ref = ctypes.byref(self._count), ctypes.byref(self._dtype)
        self.build()
        self._callbacks = {}

    def _call(self, name, *args):
        try:
            getattr(self.lib, name)(*args)
            return True
        except Exception:  # a descent status: setup tolerates it
            return False

    def _new(self, name, *args):
        out = ctypes.c_uint64(0)
        self._call(name, *args, ctypes.byref(out))
        self.owned.append(out.value)
        return out.value

    def build(self):
        for handle in self.owned:
            for free in ("descent_tensor_free", "descent_optimizer_free", "descent_schedule_free",
                         "descent_plateau_free", "descent_trainer_free", "descent_loader_free", "descent_graph_free"):
                self._call(free, handle)
        self.owned = []
        self.tensors = []
        for copy in range(COPIES):
            for dtype in (1, 2):
                for i, shape in enumerate(TENSOR_SHAPES):
                    dims = (ctypes.c_int64 * max(1, len(shape)))(*shape)
                    made = self._new("descent_tensor_random_normal", dtype, len(shape), dims, 1000 * copy + i, 0.0, 1.0)
                    self.tensors.append(made)
        adversarial = struct.pack("<5d", math.nan, math.inf, -1e308, 0.0, 5e-324)
        dims = (ctypes.c_int64 * 1)(5)
        self.tensors.append(self._new("descent_tensor_from_buffer", 2, 1, dims, adversarial, 5))
        self.variances = [self._new("descent_tensor_full", dtype, 1, (ctypes.c_int64 * 1)(4), 1.0) for dtype in (1, 2)]
        freed = self._new("descent_tensor_zeros", 2, 0, None)
        self._call("descent_tensor_free", freed)
        self.freed = freed
        # One optimizer per rule, each with its own parameters (a (3,4) float32 and a (5,) float64)
        # and matching gradients, so steps, state and checkpoints do real work.
        self.optimizers, self.params = [], []
        for rule in range(1, 11):
            params = [self._new("descent_tensor_random_normal", 1, 2, (ctypes.c_int64 * 2)(3, 4), rule, 0.0, 1.0),
                      self._new("descent_tensor_random_normal", 2, 1, (ctypes.c_int64 * 1)(5), rule, 0.0, 1.0)]
            grads = [self._new("descent_tensor_random_normal", 1, 2, (ctypes.c_int64 * 2)(3, 4), 100 + rule, 0.0, 1.0),
                     self._new("descent_tensor_random_normal", 2, 1, (ctypes.c_int64 * 1)(5), 100 + rule, 0.0, 1.0)]
            optimizer = self._new("descent_optimizer_new", rule)
            group = ctypes.c_int64(0)
            self._call("descent_optimizer_add_group", optimizer, (ctypes.c_uint64 * 2)(*params), 2, ctypes.byref(group))
            self._call("descent_optimizer_set_grads", optimizer, (ctypes.c_uint64 * 2)(*grads), 2)
            self.optimizers.append(optimizer)
            self.params.extend(params + grads)
        self.optimizer_empty = self._new("descent_optimizer_new", 5)
        milestones = (ctypes.c_int64 * 3)(2, 5, 9)
        self.schedules = [
            self._new("descent_schedule_new_constant", 0.1),
            self._new("descent_schedule_new_cosine", 0.1, 10, 0.0),
            self._new("descent_schedule_new_multi_step", 0.1, milestones, 3, 0.5),
            self._new("descent_schedule_new_one_cycle", 0.1, 100, 0.3, 0, 25.0, 1e4, 0),
            self._new("descent_schedule_new_cosine_warm_restarts", 0.1, 3, 2, 0.0),
        ]
        inner = (ctypes.c_uint64 * 2)(self.schedules[0], self.schedules[1])
        self.schedules.append(self._new("descent_schedule_new_sequential", inner, 2, (ctypes.c_int64 * 1)(4)))
        # max_lr 1e-3: the graph optimizers' lr (Adam's default), so a trainer agrees to be driven by it.
        self.schedules.append(self._new("descent_schedule_new_one_cycle_momentum", 1e-3, 100, 0.3, 0, 25.0, 1e4, 0,
                                        0.85, 0.95))
        assert len(self.schedules) == MOMENTUM_SCHEDULE + 1
        self.plateaus = [self._new("descent_plateau_new", 0.1, 0, 0.5, 2, 1e-4, 0, 1, 0.0, 1e-8),
                         self._new("descent_plateau_new", 0.1, 1, 0.1, 0, 0.0, 1, 0, 1e-3, 0.0)]
        self.build_graphs()
        everything = self.tensors + self.optimizers + self.schedules + self.plateaus + [self.freed, 0, 12345] + \
            self.graphs + self.loaders + self.trainers
        self.handle_lists = {
            "handles": everything,
            "tensors": self.tensors,
            "same_tensor": [self.tensors[4]],
            "params": self.params,
            "schedules": self.schedules,
        }
        self.pristine = {token: _pristine(token, self.handle_lists) for token in BUFFERS}
        self.write_checkpoints()

    def build_graphs(self):
        """Per dtype: a small classifier graph (nodes GRAPH_NODES) with inputs bound, an Adam
        optimizer over its dense layer, a loader over the same samples and a trainer, so the graph
        and training functions have objects to succeed on."""
        self.graphs, self.graph_x, self.graph_optimizers, self.loaders, self.trainers = [], [], [], [], []
        self.graph_params = {}
        # The params are views of one region per graph (w, b, gamma, beta back to back), as the
        # Python MLP allocates them, so descent_graph_param_buffer has a region to return.
        self.param_regions = []
        self.labels = (ctypes.c_int64 * GRAPH_ROWS)(*[(i * 7 // 3) % 2 for i in range(GRAPH_ROWS)])
        for dtype in (1, 2):
            def tensor(seed, *shape):
                return self._new("descent_tensor_random_normal", dtype, len(shape),
                                 (ctypes.c_int64 * len(shape))(*shape), seed, 0.0, 1.0)
            x, y = tensor(1, GRAPH_ROWS, 3), tensor(2, GRAPH_ROWS, 2)
            ctype, itemsize = (ctypes.c_float, 4) if dtype == 1 else (ctypes.c_double, 8)
            source = random.Random(dtype)
            region = (ctype * 12)(*[source.gauss(0.0, 1.0) for _ in range(12)])
            self.param_regions.append(region)

            def view(offset, *shape):
                return self._new("descent_tensor_wrap", dtype, len(shape), (ctypes.c_int64 * len(shape))(*shape),
                                 ctypes.byref(region, offset * itemsize), math.prod(shape))
            w, b, gamma, beta = view(0, 2, 3), view(6, 2), view(8, 2), view(10, 2)
            graph = self._new("descent_graph_new", dtype)
            node = ctypes.c_int64()
            built = [
                ("descent_graph_input", graph, 2, (ctypes.c_int64 * 2)(-1, 3), ctypes.byref(node)),
                ("descent_graph_labels", graph, ctypes.byref(node)),
                ("descent_graph_param", graph, w, 1, ctypes.byref(node)),
                ("descent_graph_param", graph, b, 1, ctypes.byref(node)),
                ("descent_graph_dense", graph, 0, 2, 3, 0, 0.0, ctypes.byref(node)),
                ("descent_graph_cost", graph, 5, 4, 1, 0, 0.0, ctypes.byref(node)),
                ("descent_graph_param", graph, gamma, 1, ctypes.byref(node)),
                ("descent_graph_param", graph, beta, 1, ctypes.byref(node)),
                ("descent_graph_batchnorm", graph, 4, 6, 7, 0.1, 1e-5, ctypes.byref(node)),
                ("descent_graph_dropout", graph, 8, 0.5, 99, ctypes.byref(node)),
                ("descent_graph_reduce", graph, 0, 9, 0, ctypes.byref(node)),
                ("descent_graph_input", graph, 2, (ctypes.c_int64 * 2)(-1, 2), ctypes.byref(node)),
                ("descent_graph_cost", graph, 2, 4, 11, 0, 0.0, ctypes.byref(node)),
            ]
            for index, (name, *args) in enumerate(built):
                ok = self._call(name, *args)
                assert ok and node.value == index, (name, node.value, index)
            for param, kind in ((2, 5), (3, 100), (6, 101), (7, 100)):   # he_normal, zeros, ones, zeros
                assert self._call("descent_graph_param_init", graph, param, kind, 1.0)
            assert self._call("descent_graph_set_input", graph, 0, x)
            assert self._call("descent_graph_set_input", graph, 11, y)
            assert self._call("descent_graph_set_labels", graph, 1, self.labels, GRAPH_ROWS)
            optimizer = self._new("descent_optimizer_new", 5)
            self._call("descent_optimizer_add_group", optimizer, (ctypes.c_uint64 * 2)(w, b), 2, None)
            loader = self._new("descent_loader_new", x, 0, self.labels, GRAPH_ROWS, 4, 1, 7)
            trainer = self._new("descent_trainer_new", graph, optimizer, GRAPH_NODES["loss"])
            assert self._call("descent_trainer_set_nodes", trainer, 0, 1, 4)
            assert graph and optimizer and loader and trainer
            self.graphs.append(graph)
            self.graph_x.append(x)
            self.graph_optimizers.append(optimizer)
            self.loaders.append(loader)
            self.trainers.append(trainer)
            self.graph_params[graph] = [w, b, gamma, beta]
            self.params.extend([w, b])
        self.optimizer_params = {opt: self.params[4 * i:4 * i + 2] for i, opt in enumerate(self.optimizers)}
        for graph, optimizer in zip(self.graphs, self.graph_optimizers):
            self.optimizer_params[optimizer] = self.graph_params[graph][:2]

    def write_checkpoints(self):
        """A valid Adam checkpoint, and damaged copies whose length and checksum are re-sealed so
        they get past the checksum into the parser."""
        path = os.path.join(self.tmpdir, "valid")
        if not os.path.exists(path):
            self._call("descent_optimizer_save", self.optimizers[4], path.encode(), 1)
        with open(path, "rb") as handle:
            valid = handle.read()
        self.valid_checkpoint = valid
        rng = random.Random(SEED)
        payload = valid[32:]
        words = [2**31 - 1, 2**32 - 1, 2**63 - 1, 2**64 - 1, 0, 9, 8, 1, 2**62, 0x7FF8000000000000]
        self.corrupt = []
        for i in range(16):
            body = bytearray(payload)
            if i % 4 == 3:
                body = body[:rng.randrange(len(body))]
            for _ in range(1 + i % 3):
                at = rng.randrange(max(1, len(body) - 8))
                width = rng.choice([4, 8])
                value = rng.choice(words) & ((1 << (8 * width)) - 1)
                body[at:at + width] = value.to_bytes(width, "little")[:len(body) - at]
            self.corrupt.append(_seal(valid[:16], bytes(body)))

    def sacrificial(self, name, handle):
        """A fresh object of the same kind as `handle` for a *_free call to free instead, so the
        fixtures outlive the batch (freeing them would reset every object's accumulated state)."""
        if handle not in self.owned:
            return handle
        if handle in self.optimizers or handle == self.optimizer_empty:
            return self._new("descent_optimizer_new", 1)
        if handle in self.schedules:
            return self._new("descent_schedule_new_constant", 0.5)
        if handle in self.plateaus:
            return self._new("descent_plateau_new", 0.1, 0, 0.5, 2, 1e-4, 0, 1, 0.0, 1e-8)
        if handle in self.graphs:
            return self._new("descent_graph_new", 1)
        if handle in self.loaders:
            return self._new("descent_loader_new", self.graph_x[0], 0, self.labels, GRAPH_ROWS, 4, 1, 7)
        if handle in self.trainers:
            return self._new("descent_trainer_new", self.graphs[0], self.graph_optimizers[0], GRAPH_NODES["loss"])
        return self._new("descent_tensor_clone", handle)

    def resolve(self, kind, argtype, value):
        if kind == "u64":
            what, index = value
            if what == "tensor":
                pool = self.tensors + self.params
                return pool[index % len(pool)]
            if what == "freed":
                return self.freed
            if what == "optimizer":
                return self.optimizers[index % len(self.optimizers)]
            if what == "optimizer_empty":
                return self.optimizer_empty
            if what == "schedule":
                return self.schedules[index % len(self.schedules)]
            if what == "plateau":
                return self.plateaus[index % len(self.plateaus)]
            if what in ("graph", "loader", "trainer", "graph_optimizer", "graph_x", "variance"):
                pool = {"graph": self.graphs, "loader": self.loaders, "trainer": self.trainers,
                        "graph_optimizer": self.graph_optimizers, "graph_x": self.graph_x,
                        "variance": self.variances}[what]
                return pool[index % len(pool)]
            if what == "junk":
                return random.Random(index).getrandbits(64)
            if what == "zero":
                return 0
            return index
        if kind == "ptr":
            if value is None:
                return None
            buffer = self.buffers[value]
            ctypes.memmove(buffer, self.pristine[value], len(self.pristine[value]))
            if argtype is ctypes.c_void_p:
                return ctypes.c_void_p(ctypes.addressof(buffer))
            return ctypes.cast(buffer, argtype)
        if kind == "path":
            if value is None:
                return None
            if value in ISA_NAMES:  # the kernel paths descent_set_isa / descent_isa_available name
                return value.encode()
            if value == "":
                return b""
            if value == "missing_dir":
                return os.path.join(self.tmpdir, "no", "such", "dir", "x").encode()
            if value == "directory":
                return self.tmpdir.encode()
            if value == "not_utf8":
                return os.path.join(self.tmpdir.encode(), b"bad-\xff\xfe.ckpt")
            path = os.path.join(self.tmpdir, value)
            if value == "valid":
                _write(path, self.valid_checkpoint)
            elif value == "junk":
                _write(path, bytes(random.Random(7).getrandbits(8) for _ in range(300)))
            elif value.startswith("corrupt"):
                _write(path, self.corrupt[int(value[7:])])
            return path.encode()
        if kind == "callback":
            return argtype() if value is None else self.callback(value, argtype)
        return value

    # -- the unchanged-on-failure oracle ---------------------------------------------------------
    def fingerprint(self, name, kinds, args):
        """{what: bytes} for every object `name(args)` could change: the tensors, optimizers,
        plateaus, graphs, loaders and trainers it names (directly or through a handle array, up to
        its count), what those hold (an optimizer's params, a trainer's graph and optimizer).
        Schedules are immutable; pointer buffers are compared with their pristine bytes instead."""
        objects = []
        for index, (kind, arg) in enumerate(zip(kinds, args)):
            if kind == "u64" and isinstance(arg, tuple) and arg[0] != "raw":
                objects.append((arg[0], self.resolve("u64", None, arg)))
            elif kind == "ptr" and arg in HANDLE_BUFFERS and arg != "schedules":
                counts = [args[i] for i in COUNT_ARGS.get(name, []) if i != index]
                listed = self.handle_lists[arg][:max(0, min(counts + [8]))]
                objects += [(self.kind_of(handle), handle) for handle in listed]
        prints, seen = {}, set()
        while objects:
            what, handle = objects.pop()
            if handle in seen or what in ("schedule", "freed", "junk", "zero"):
                continue
            seen.add(handle)
            label = f"{what} {handle:#x}"
            if what in ("tensor", "graph_x", "variance"):
                prints[label] = self.tensor_print(handle)
            elif what in ("optimizer", "optimizer_empty", "graph_optimizer"):
                prints[label] = self.optimizer_print(handle)
                objects += [("tensor", param) for param in self.optimizer_params.get(handle, [])]
            elif what == "plateau":
                prints[label] = self.plateau_print(handle)
            elif what == "graph":
                prints.update({f"{label} {part}": value for part, value in self.graph_print(handle).items()})
                objects += [("tensor", param) for param in self.graph_params.get(handle, [])]
            elif what == "loader":
                prints[label] = self.loader_print(handle)
            elif what == "trainer":
                prints[label] = self.trainer_print(handle)
                index = self.trainers.index(handle) if handle in self.trainers else None
                if index is not None:
                    objects += [("graph", self.graphs[index]), ("graph_optimizer", self.graph_optimizers[index])]
        return prints

    def kind_of(self, handle):
        for what, pool in (("optimizer", self.optimizers), ("plateau", self.plateaus), ("schedule", self.schedules),
                           ("graph", self.graphs), ("loader", self.loaders), ("trainer", self.trainers)):
            if handle in pool:
                return what
        return "tensor" if handle and handle != self.freed else "freed"

    def _query(self, name, *args):
        """The status of a read-only query (part of the fingerprint: a query that starts failing
        after a call means the call changed something). Through a raw binding: no exception is
        made for a failing status, so the oracle stays cheap."""
        return self.raw[name](*args).to_bytes(4, "little", signed=True)

    def tensor_print(self, handle):
        # No function changes a tensor's dtype or shape: its elements are what a call can change.
        count, dtype = self._count, self._dtype
        count.value, dtype.value = -1, -1
        status = self._query("descent_tensor_count", handle, self._count_ref) + \
            self._query("descent_tensor_dtype", handle, self._dtype_ref)
        if not 0 < count.value <= 64:
            return status + struct.pack("<qi", count.value, dtype.value)
        scratch = self.scratch
        status += self._query("descent_tensor_copy_to", handle, dtype.value, scratch, count.value)
        return status + ctypes.string_at(scratch, count.value * (4 if dtype.value == 1 else 8))

    def optimizer_print(self, handle):
        lib, scratch = self.lib, self.scratch
        rule, groups, params = ctypes.c_int32(), ctypes.c_int64(), ctypes.c_int64()
        step, policy, value, present = ctypes.c_int64(), ctypes.c_int32(), ctypes.c_double(), ctypes.c_int32()
        parts = [self._query("descent_optimizer_counts", handle, ctypes.byref(rule), ctypes.byref(groups),
                             ctypes.byref(params)),
                 self._query("descent_optimizer_step_count", handle, ctypes.byref(step)),
                 self._query("descent_optimizer_nonfinite_policy", handle, ctypes.byref(policy)),
                 struct.pack("<iqqqi", rule.value, groups.value, params.value, step.value, policy.value)]
        for group in range(-1, min(groups.value, 3)):
            for key in range(1, 14):
                value.value = 0.0
                parts.append(self._query("descent_optimizer_get_hyper", handle, group, key, ctypes.byref(value)))
                parts.append(struct.pack("<d", value.value))
            if group >= 0:
                parts.append(self._query("descent_optimizer_mu_product", handle, group, ctypes.byref(value)))
                parts.append(struct.pack("<d", value.value))
        for param in range(min(params.value, 8)):
            for slot in range(3):
                present.value = -1
                parts.append(self._query("descent_optimizer_state_present", handle, param, slot, ctypes.byref(present)))
                if present.value == 1:
                    for dtype in (1, 2):
                        ctypes.memset(scratch, 0, ctypes.sizeof(scratch))
                        status = self._query("descent_optimizer_state_get", handle, param, slot, dtype, scratch, 64)
                        parts += [status, bytes(scratch)]
        lib  # noqa: B018
        return b"|".join(parts)

    def plateau_print(self, handle):
        best, lr = ctypes.c_double(), ctypes.c_double()
        bad, cooldown, updates = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        parts = [self._query("descent_plateau_state", handle, ctypes.byref(best), ctypes.byref(bad),
                             ctypes.byref(cooldown), ctypes.byref(updates)),
                 self._query("descent_plateau_lr", handle, ctypes.byref(lr))]
        return b"|".join(parts + [struct.pack("<dqqqd", best.value, bad.value, cooldown.value, updates.value,
                                              lr.value)])

    def graph_print(self, handle):
        nodes, params = ctypes.c_int64(), ctypes.c_int64()
        scratch = self.scratch
        parts = {"nodes": b"|".join([self._query("descent_graph_node_count", handle, ctypes.byref(nodes)),
                                     self._query("descent_graph_param_count", handle, ctypes.byref(params)),
                                     struct.pack("<qq", nodes.value, params.value)])}
        # Not the gradient buffer: it is scratch, like node values (the header: a step failing
        # after its backward leaves the gradients it wrote there).
        if handle in self.graphs:
            dtype = self.graphs.index(handle) + 1
            ctypes.memset(scratch, 0, ctypes.sizeof(scratch))
            half = ctypes.cast(ctypes.byref(scratch, 256), ctypes.c_void_p)
            parts["running statistics"] = self._query("descent_graph_running_stats", handle, GRAPH_NODES["bn"], dtype,
                                                      scratch, half, 2, 0) + bytes(scratch)
        return parts

    def loader_print(self, handle):
        batches, count, indices = ctypes.c_int64(), ctypes.c_int64(), (ctypes.c_int64 * 64)()
        parts = [self._query("descent_loader_batch_count", handle, ctypes.byref(batches))]
        for batch in range(min(batches.value, 4)):
            parts.append(self._query("descent_loader_batch_indices", handle, batch, indices, 64, ctypes.byref(count)))
            parts.append(bytes(indices))
        return b"|".join(parts + [struct.pack("<q", batches.value)])

    def trainer_print(self, handle):
        epoch = ctypes.c_int64()
        return self._query("descent_trainer_epoch", handle, ctypes.byref(epoch)) + struct.pack("<q", epoch.value)

    def callback(self, token, kind):
        """A C callback of type `kind` (kept alive for the child's lifetime)."""
        if (token, kind) in self._callbacks:
            return self._callbacks[(token, kind)]
        lib = self.lib

        if kind in (_ffi_module().STEP_FN, _ffi_module().EPOCH_FN):
            # descent_trainer_fit's callbacks: "ok" goes on, "nan" asks to stop, others abort.
            def progress(*_args):
                return {"ok": 0, "nan": 1, "scale_x": 0}.get(token, 12)
            made = kind(progress)
            self._callbacks[(token, kind)] = made
            return made

        def body(context, x, out):
            if token == "error":
                return 12
            try:
                if token == "scale_x":
                    lib.descent_tensor_scale(x, 2.0)
                if token == "free_x":
                    lib.descent_tensor_free(x)
            except Exception:  # a descent status from the nested call
                pass
            if out:
                out[0] = {"nan": math.nan, "inf": math.inf}.get(token, 1.5)
            return 0

        made = kind(body)
        self._callbacks[(token, kind)] = made
        return made


def _ffi_module():
    from descent import _ffi
    return _ffi


def _write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)


def _fnv1a64(data):
    value = 0xcbf29ce484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return value


def _seal(head16, payload):
    return head16 + struct.pack("<QQ", len(payload), _fnv1a64(payload)) + payload


def describe(name, args):
    shown = []
    for arg in args:
        if isinstance(arg, tuple):
            shown.append(f"{arg[0]}[{arg[1]}]" if arg[0] != "raw" else hex(arg[1]))
        else:
            shown.append(repr(arg))
    return f"{name}({', '.join(shown)})"


# ------------------------------------------------------------------------------------------
# The child
# ------------------------------------------------------------------------------------------
def child(batch, log_path, only=None):
    # A safety net under the filters in `plausible`: an allocation of more than a few GiB fails
    # (a typed OutOfMemoryError from the library) instead of paging the machine to death.
    fuzz_harness.cap_address_space(CHILD_ADDRESS_SPACE)
    import descent
    from descent import _ffi
    rows = {name: list(zip(_kinds(argtypes), argtypes)) for name, _r, argtypes in _ffi.FUNCTIONS}
    trap_at = int(os.environ.get("DESCENT_FUZZ_SELF_TEST_TRAP", "-1"))
    hang_at = int(os.environ.get("DESCENT_FUZZ_SELF_TEST_HANG", "-1"))
    mutate_at = int(os.environ.get("DESCENT_FUZZ_SELF_TEST_MUTATE", "-1"))
    overrun_at = int(os.environ.get("DESCENT_FUZZ_SELF_TEST_OVERRUN", "-1"))
    # DESCENT_FUZZ_ONLY="i,j,...": make only these calls of the batch (to narrow a crash down).
    only_set = {int(i) for i in os.environ["DESCENT_FUZZ_ONLY"].split(",")} if os.environ.get("DESCENT_FUZZ_ONLY") \
        else None
    calls = generate(batch)
    with tempfile.TemporaryDirectory() as tmpdir:
        fixtures = Fixtures(tmpdir)
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        misbehaviour = []
        counts, succeeded = {}, {}
        checked, slowest = [0], [0.0, ""]
        for index, (name, args) in enumerate(calls):
            if only is not None and index != only:
                continue
            if only_set is not None and index not in only_set:
                if index % 2000 == 1999:
                    fixtures.build()  # as the full batch does
                continue
            os.write(log, f"{index}\t{describe(name, args)}\n".encode())
            if index == trap_at:  # the harness's own test: die like a Swift trap
                os.kill(os.getpid(), 4)
            if index == overrun_at:  # ... or write one byte past a buffer, as a lying count would
                small = fixtures.buffers["small"]
                ctypes.memset(ctypes.addressof(small) + len(small), 0, 1)
            if index == hang_at:  # ... or hang inside a call
                time.sleep(3600)
            kinds = [kind for kind, _argtype in rows[name]]
            watched = index % ORACLE_EVERY == batch % ORACLE_EVERY and oracle_applies(name, kinds, args)
            before = fixtures.fingerprint(name, kinds, args) if watched else None
            values = [fixtures.resolve(kind, argtype, arg) for (kind, argtype), arg in zip(rows[name], args)]
            if name.endswith("_free") and values:
                values[0] = fixtures.sacrificial(name, values[0])
            started = time.perf_counter()
            try:
                if index == mutate_at:  # the oracle's own test: change the first argument, then fail
                    _ffi.lib.descent_tensor_scale(values[0], 2.0)
                    raise descent.errors.InvalidArgumentError("self-test", status="DESCENT_ERR_INVALID_ARGUMENT")
                result = getattr(_ffi.lib, name)(*values)
                succeeded[name] = succeeded.get(name, 0) + 1
                if name == "descent_status_string" and not result:
                    misbehaviour.append(f"{describe(name, args)} returned NULL")
            except descent.errors.DescentError as error:
                if not error.message:
                    misbehaviour.append(f"{describe(name, args)} failed with an empty message: {error!r}")
                if watched:
                    changed = [what for what, value in fixtures.fingerprint(name, kinds, args).items()
                               if before.get(what) != value]
                    changed += [f"{token} buffer" for kind, token in zip(kinds, args)
                                if kind == "ptr" and token is not None and token not in HANDLE_BUFFERS
                                and bytes(fixtures.buffers[token]) != fixtures.pristine[token]]
                    if changed:
                        misbehaviour.append(f"{describe(name, args)} failed ({error.status}: {error.message[:160]}) "
                                            f"but changed {', '.join(sorted(set(changed)))}")
                    checked[0] += 1
            except Exception as error:  # anything else is the package misbehaving
                misbehaviour.append(f"{describe(name, args)} raised {type(error).__name__}: {error}")
            elapsed = time.perf_counter() - started
            if elapsed > slowest[0]:
                slowest[:] = [elapsed, describe(name, args)]
            counts[name] = counts.get(name, 0) + 1
            if index % 2000 == 1999:
                fixtures.build()  # a callback may have freed a fixture: start over now and then
        fuzz_harness.finish_log(log, counts, succeeded, misbehaviour, checked=checked[0], slowest=slowest)


def oracle_applies(name, kinds, args):
    """Whether the unchanged-on-failure oracle watches this call: every call, except those whose
    callback changes the library's objects itself (scale_x, free_x: the caller's doing), frees
    (they succeed or do nothing) and descent_trainer_fit / _restarts, whose header says a failure
    mid-training leaves the params as last updated (an error from a callback or a later epoch)."""
    if name.endswith("_free") or name in ("descent_trainer_fit", "descent_trainer_restarts"):
        return False
    return not any(kind == "callback" and arg in ("scale_x", "free_x") for kind, arg in zip(kinds, args))


# ------------------------------------------------------------------------------------------
# The tests (parent side)
# ------------------------------------------------------------------------------------------
def run_batch(batch, extra_env=None):
    """Runs one batch; returns (its report, list of failure descriptions)."""
    return fuzz_harness.run_batch(__file__, batch, extra_env=extra_env)


def _results():
    return fuzz_harness.all_batches(__file__, BATCHES)


def pytest_generate_tests(metafunc):
    if "batch" in metafunc.fixturenames:
        metafunc.parametrize("batch", range(BATCHES))


# Functions that never succeed in the fuzz, each with the reason (none today: every function has a
# fixture or recipe that makes it succeed, so its success path is fuzzed too).
NEVER_SUCCEED = {}


def test_no_call_crashes_hangs_or_misbehaves(batch):
    """Misbehaving includes the oracle's findings: a call that failed but changed an object it
    touched (see Fixtures.fingerprint) or wrote into a buffer."""
    _report, failures = _results()[batch]
    assert not failures, "\n".join(failures[:20])


def test_every_ffi_function_was_fuzzed():
    from descent import _ffi
    if any(failures for _report, failures in _results().values()):
        return  # the crash is reported by the batch test; its counts are missing
    totals = fuzz_harness.totals(_results(), "counts")
    missing = [name for name, _r, _a in _ffi.FUNCTIONS if totals.get(name, 0) < 20]
    assert not missing, f"fuzzed fewer than 20 times: {missing}"


def test_every_ffi_function_succeeds_sometimes():
    """A function that always fails has its success path (the deep code) never fuzzed."""
    from descent import _ffi
    if any(failures for _report, failures in _results().values()):
        return
    succeeded = fuzz_harness.totals(_results(), "succeeded")
    never = sorted(name for name, _r, _a in _ffi.FUNCTIONS if not succeeded.get(name) and name not in NEVER_SUCCEED)
    assert not never, f"{len(never)} functions never succeeded (add a fixture or recipe): {never}"
    stale = [name for name in NEVER_SUCCEED if succeeded.get(name)]
    assert not stale, f"these succeed now; drop them from NEVER_SUCCEED: {stale}"


def test_the_oracle_watched_many_failing_calls():
    checked = sum(report.get("checked", 0) for report, _f in _results().values())
    assert checked > 50_000, checked


def test_the_slowest_call_is_far_below_the_stall_limit():
    """The hang detector's limit (fuzz_harness.STALL_SECONDS without a new call) against the
    slowest call measured in this run."""
    seconds, call = fuzz_harness.slowest_call(_results())
    assert seconds < fuzz_harness.STALL_SECONDS / fuzz_harness.STALL_MARGIN, \
        f"{call} took {seconds:.1f} s; a hang is {fuzz_harness.STALL_SECONDS} s without progress"


def test_generation_is_deterministic_and_filters_caller_lies():
    first, second = generate(0), generate(0)
    assert first == second
    from descent import _ffi
    argtypes = {name: a for name, _r, a in _ffi.FUNCTIONS}
    for name, args in first:
        assert plausible(name, argtypes[name], args)
        for index in COUNT_ARGS.get(name, []):
            kinds = _kinds(argtypes[name])
            pointers = [a for k, a in zip(kinds, args) if k == "ptr" and a is not None]
            if args[index] > BUF_LEN:
                assert not pointers, (name, args)


def test_a_crashing_call_is_detected_and_named():
    """The harness itself: a child that dies like a Swift trap (SIGILL) at call 37 is reported
    with that call's function and arguments, replayed alone, and not counted as a pass."""
    name, args = generate(0)[37]
    _report, failures = run_batch(0, extra_env={"DESCENT_FUZZ_SELF_TEST_TRAP": "37"})
    assert len(failures) == 1
    assert "returncode -4" in failures[0]
    assert describe(name, args) in failures[0]
    assert "crashes on its own too" in failures[0]


def test_a_call_overrunning_a_buffer_dies_at_that_call():
    """The guard pages: one byte written past a fuzz buffer faults at once (SIGSEGV) and the
    harness names that call, instead of the corrupted heap crashing a later call."""
    name, args = generate(0)[53]
    _report, failures = run_batch(0, extra_env={"DESCENT_FUZZ_SELF_TEST_OVERRUN": "53"})
    assert len(failures) == 1
    assert "returncode -11" in failures[0]
    assert describe(name, args) in failures[0]


def test_a_range_test_longer_than_its_buffers_is_filtered():
    """The call behind the stress branch's batch-3 SIGSEGV: a range test of 4096 steps writing its
    rates into the 32-element small buffer (the header: `steps` doubles each) is the caller's
    fault, so the generator does not make it."""
    from descent import _ffi
    argtypes = next(a for n, _r, a in _ffi.FUNCTIONS if n == "descent_trainer_range_test")
    lying = [("trainer", 0), ("loader", 0), 1e-4, 1.0, 4096, 0.9, 4.0, "small", "zeros", "zeros", "zeros", "zeros"]
    assert not plausible("descent_trainer_range_test", argtypes, lying)
    assert plausible("descent_trainer_range_test", argtypes, lying[:4] + [SMALL_LEN] + lying[5:])
    for batch in range(BATCHES - 1):
        for name, args in generate(batch):
            if name == "descent_trainer_range_test":
                assert args[4] <= min(_capacity(a) for a in args[7:10]), args


def test_a_hanging_call_is_detected_by_the_stall_limit():
    """A child that stops logging (a call that never returns) is reported as hung at that call,
    after the stall limit and not after a whole-batch timeout."""
    name, args = generate(0)[41]
    started = time.monotonic()
    report, failure = fuzz_harness.run_logged_batch(__file__, 0, extra_env={"DESCENT_FUZZ_SELF_TEST_HANG": "41"},
                                                    stall=3)
    assert report is None and "hung (nothing logged for 3 s)" in failure and describe(name, args) in failure
    assert time.monotonic() - started < 30


def oracle_self_test_index(batch):
    """A watched call of `batch` (descent_tensor_add on a small fixture tensor) where
    DESCENT_FUZZ_SELF_TEST_MUTATE changes that tensor and fails the call."""
    def small(token):  # a fixture tensor with elements (scaling an empty one changes nothing)
        return isinstance(token, tuple) and token[0] == "tensor" and token[1] < COPIES * 2 * len(TENSOR_SHAPES) \
            and 0 < math.prod(TENSOR_SHAPES[token[1] % len(TENSOR_SHAPES)]) <= 64
    return next(i for i, (name, args) in enumerate(generate(batch))
                if i % ORACLE_EVERY == batch % ORACLE_EVERY and name == "descent_tensor_add" and small(args[0]))


def test_a_failing_call_that_changes_an_object_is_reported():
    """The oracle itself: at the self-test index the child scales a watched tensor argument and
    then fails the call; the batch reports it as a failure that changed that tensor."""
    calls = generate(0)
    at = oracle_self_test_index(0)
    _report, failures = run_batch(0, extra_env={"DESCENT_FUZZ_SELF_TEST_MUTATE": str(at)})
    assert len(failures) == 1 and failures[0].startswith(describe(*calls[at]) + " failed (DESCENT_ERR_INVALID_ARGUMENT")
    assert "but changed tensor" in failures[0]


if __name__ == "__main__":
    child(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
