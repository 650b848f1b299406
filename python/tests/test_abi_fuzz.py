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

Arguments that would be the caller's fault (a count larger than the buffer passed with it) or
that ask for gigabytes by design (a linspace of 2^31 points) are filtered out (see
``plausible``), and a child's address space is capped as a safety net. Every buffer ends at an
inaccessible page, so a call that reads or writes past one dies at that call (and is named)
instead of corrupting the child's heap for a later call to crash on.
"""
import ctypes
import math
import mmap
import os
import random
import struct
import sys
import tempfile

import fuzz_harness

SEED = 20261121
CALLS_PER_BATCH = 12000
# `make stress` scales the fuzz with DESCENT_FUZZ_CALLS (python/tests/stress_abi_fuzz.py): enough
# random batches of the same generator for that many calls, plus the systematic sweep (the last).
BATCHES = math.ceil(int(os.environ["DESCENT_FUZZ_CALLS"]) / CALLS_PER_BATCH) + 1 \
    if os.environ.get("DESCENT_FUZZ_CALLS") else 24
# DESCENT_FUZZ_CHECK_UNCHANGED=1: every rejected call must leave the objects it was given as they
# were (see `Observer`).
CHECK_UNCHANGED = os.environ.get("DESCENT_FUZZ_CHECK_UNCHANGED") == "1"
# Calls documented to leave partial effects when they fail, and callbacks that change the objects
# themselves (the caller's doing): not held to the changed-on-reject check.
PARTIAL_ON_FAILURE = {"descent_trainer_fit", "descent_trainer_restarts"}
MUTATING_CALLBACKS = {"scale_x", "free_x"}
CHILD_TIMEOUT = 120  # seconds; a hang is reported like a crash
BUF_LEN = 4096       # elements of the large buffers (8 bytes each)
SMALL_LEN = 16       # elements of the small buffer
SLACK = 16           # extra elements behind every buffer (e.g. piecewise values need count + 1)

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
    # rates/losses/smoothed hold `steps` doubles each: without this entry a range test of 4096
    # steps wrote 32 KiB past the 32-element buffer and a later call (descent_optimizer_save in
    # batch 3) died with SIGSEGV in the child's corrupted heap.
    "descent_trainer_range_test": [4],
}
CHILD_ADDRESS_SPACE = 8 << 30  # bytes of virtual memory a child may map
MAX_ELEMENTS = 2**24  # the most elements a call may allocate by design (128 MiB of float64)

TENSOR_SHAPES = [(), (0,), (1,), (5,), (3, 4), (4, 3), (1, 1), (0, 3), (3, 0), (2, 3, 4), (12,), (3, 3), (4,), (3,),
                 # Empty tensors with huge other extents: products of extents overflow, counts do not.
                 (0, 2**40), (2**40, 0), (0, 2**31 + 1), (2**31 + 1, 0), (3, 0, 2**40), (2**62, 0, 2**62)]
COPIES = 6  # distinct tensors of each dtype and shape (outputs must not alias inputs)
# COPIES x both dtypes x every shape, one non-finite (5,), 10 optimizers x (2 params + 2 grads).
POOL_TENSORS = COPIES * 2 * len(TENSOR_SHAPES) + 1 + 40
BUFFERS = ["small", "zeros", "ints", "ramp", "adv_i64", "adv_f64", "ones_f32", "rates",
           "handles", "tensors", "same_tensor", "params", "schedules"]
HANDLE_BUFFERS = {"handles", "tensors", "same_tensor", "params", "schedules"}
RELATED_SHAPES = [4, 5, 11, 12, 13, 10, 3]  # (3,4) (4,3) (3,3) (4,) (3,) (12,) (5,): matmul, dense, losses
PATHS = [None, "", "missing_dir", "save", "valid", "directory", "junk", "not_utf8"] + [f"corrupt{i}" for i in range(16)]
CALLBACKS = [None, "ok", "error", "nan", "inf", "scale_x", "free_x"]


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


def _recipes(d):
    """Valid calls (by the header's rules) for functions whose tensors must agree in several
    shapes at once, which random choices almost never hit; the fuzz mutates them from there.
    Shapes by index: 3 (5,), 4 (3,4), 5 (4,3), 11 (3,3), 12 (4,), 13 (3,). A stale recipe (a
    changed signature) only makes calls that fail, and is caught by the length check below."""
    def t(shape, copy=0):
        return _tensor(shape, copy, d)
    return {
        "descent_tensor_matmul": [t(4), t(5), 0, 0, 1.0, 0.5, t(11)],
        "descent_dense_forward": [t(4), t(4, 1), t(13), 3, 0.01, t(11), t(11, 1)],
        "descent_dense_backward": [t(4), t(4, 1), t(11), t(11, 1), 1, 0.01, t(4, 2), t(13), t(4, 3)],
        "descent_batchnorm_forward_train": [t(4), t(12), t(12, 1), t(12, 2), t(12, 3), 0.1, 1e-5, t(4, 1),
                                            t(12, 4), t(12, 5)],
        "descent_batchnorm_backward": [t(4), t(12), t(12, 4), t(12, 5), t(4, 2), t(4, 3), t(12, 1), t(12, 2)],
        "descent_batchnorm_forward_infer": [t(4), t(12), t(12, 1), t(12, 2), t(12, 3), 1e-5, t(4, 1)],
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
        # The training fixtures (Fixtures.build_training): nodes 0 x, 1 t, 2 w, 3 b, 4 dense, 5 loss.
        "descent_trainer_step_batch": [("trainer", 0), ("loader", 0), 0, "zeros", "zeros", "zeros"],
        "descent_trainer_evaluate": [("trainer", 0), ("loader", 0), "zeros", "zeros"],
        "descent_trainer_fit": [("trainer", 0), ("loader", 0), ("zero", 0), 2, 1, 0.0, 1, None, None, None,
                                "zeros", 2, "zeros", 6, "zeros"],
        "descent_trainer_restarts": [("trainer", 0), 2, ("raw", 42), ("loader", 0), ("zero", 0), 1, 0, 0.0,
                                     "zeros", "zeros", "zeros"],
        "descent_trainer_range_test": [("trainer", 0), ("loader", 0), 1e-4, 1.0, 5, 0.9, 4.0, "zeros", "zeros",
                                       "zeros", "zeros", "zeros"],
        "descent_trainer_step": [("trainer", 0), "zeros", "zeros"],
        "descent_graph_forward": [("graph", 0), 4, 2, "zeros", 48, "zeros"],
        "descent_graph_backward": [("graph", 0), 5, "zeros"],
        "descent_optimizer_state_set": [("optimizer", 4), 1, 1, 2, "rates", 5],
        "descent_optimizer_load": [("optimizer", 4), "valid"],
        "descent_schedule_new_sequential": ["schedules", 2, "ramp", "zeros"],
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
            for free in ("descent_trainer_free", "descent_loader_free", "descent_graph_free",
                         "descent_tensor_free", "descent_optimizer_free", "descent_schedule_free",
                         "descent_plateau_free"):
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
        freed = self._new("descent_tensor_zeros", 2, 0, None)
        self._call("descent_tensor_free", freed)
        self.freed = freed
        # One optimizer per rule, each with its own parameters (a (3,4) float32 and a (5,) float64)
        # and matching gradients, so steps, state and checkpoints do real work.
        self.optimizers, self.params, self.optimizer_tensors = [], [], {}
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
            self.optimizer_tensors[optimizer] = params + grads
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
        self.plateaus = [self._new("descent_plateau_new", 0.1, 0, 0.5, 2, 1e-4, 0, 1, 0.0, 1e-8),
                         self._new("descent_plateau_new", 0.1, 1, 0.1, 0, 0.0, 1, 0, 1e-3, 0.0)]
        self.build_training()
        everything = self.tensors + self.optimizers + self.schedules + self.plateaus + self.graphs + self.loaders + \
            self.trainers + [self.freed, 0, 12345]
        self.handle_lists = {
            "handles": everything,
            "tensors": self.tensors,
            "same_tensor": [self.tensors[4]],
            "params": self.params,
            "schedules": self.schedules,
        }
        self.pristine = {token: _pristine(token, self.handle_lists) for token in BUFFERS}
        self.write_checkpoints()

    def build_training(self):
        """A graph (float64: x (-1, 3) -> dense(w, b) sigmoid -> MSE against t (-1, 4)), a
        shuffling loader of 12 samples (batches of 4), and a trainer with SGD over w and b; node
        ids 0 .. 5, so small int64 arguments name real nodes."""
        i64 = ctypes.c_int64
        node = i64(0)
        w = self._new("descent_tensor_random_normal", 2, 2, (i64 * 2)(4, 3), 7, 0.0, 0.5)
        b = self._new("descent_tensor_zeros", 2, 1, (i64 * 1)(4))
        graph = self._new("descent_graph_new", 2)
        nodes = []
        for name, args in (("descent_graph_input", (2, (i64 * 2)(-1, 3))), ("descent_graph_input", (2, (i64 * 2)(-1, 4))),
                           ("descent_graph_param", (w, 1)), ("descent_graph_param", (b, 1))):
            self._call(name, graph, *args, ctypes.byref(node))
            nodes.append(node.value)
        self._call("descent_graph_dense", graph, nodes[0], nodes[2], nodes[3], 1, 0.0, ctypes.byref(node))
        nodes.append(node.value)
        self._call("descent_graph_cost", graph, 2, nodes[4], nodes[1], 0, 0.0, ctypes.byref(node))
        nodes.append(node.value)
        optimizer = self._new("descent_optimizer_new", 1)
        self._call("descent_optimizer_add_group", optimizer, (ctypes.c_uint64 * 2)(w, b), 2, None)
        trainer = self._new("descent_trainer_new", graph, optimizer, nodes[5])
        self._call("descent_trainer_set_nodes", trainer, nodes[0], nodes[1], -1)
        self.training_inputs = self._new("descent_tensor_random_normal", 2, 2, (i64 * 2)(12, 3), 8, 0.0, 1.0)
        self.training_targets = self._new("descent_tensor_random_uniform", 2, 2, (i64 * 2)(12, 4), 9, 0.0, 1.0)
        loader = self._new("descent_loader_new", self.training_inputs, self.training_targets, None, 0, 4, 1, 5)
        self.graphs, self.loaders, self.trainers = [graph], [loader], [trainer]
        self.graph_nodes, self.training_optimizer = nodes, optimizer
        self.optimizer_tensors[optimizer] = [w, b]
        self.params.extend([w, b, self.training_inputs, self.training_targets])

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
        if handle in self.graphs:
            return self._new("descent_graph_new", 2)
        if handle in self.loaders:
            return self._new("descent_loader_new", self.training_inputs, self.training_targets, None, 0, 4, 1, 5)
        if handle in self.trainers:
            return self._new("descent_trainer_new", self.graphs[0], self.training_optimizer, self.graph_nodes[-1])
        if handle in self.plateaus:
            return self._new("descent_plateau_new", 0.1, 0, 0.5, 2, 1e-4, 0, 1, 0.0, 1e-8)
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
            if what in ("graph", "loader", "trainer"):
                pool = {"graph": self.graphs, "loader": self.loaders, "trainer": self.trainers}[what]
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

    def callback(self, token, kind):
        """A C callback of type `kind` (kept alive for the child's lifetime)."""
        if (token, kind) in self._callbacks:
            return self._callbacks[(token, kind)]
        lib = self.lib

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
class Observer:
    """The changed-on-reject check: the observable state of every object a call is given (handles
    passed directly; the first HANDLES_PER_LIST of each handle array; an optimizer's params, grads,
    hyper-parameters, counters and state slots; a schedule's values; a plateau's state), taken
    before the call and compared after it when the call was rejected. Snapshots are cached until a
    call succeeds (which may change anything)."""

    HANDLES_PER_LIST = 16

    def __init__(self, fixtures):
        self.fixtures = fixtures
        self.lib = fixtures.lib
        self.cache = {}

    def _q(self, name, *args):
        try:
            getattr(self.lib, name)(*args)
            return True
        except Exception:  # a descent status: the handle is not of this kind, or a bad query
            return False

    def involved(self, kinds, args, values):
        handles = []
        for kind, arg, value in zip(kinds, args, values):
            if kind == "u64":
                handles.append(value)
            elif kind == "ptr" and arg in HANDLE_BUFFERS:
                seen = []
                for handle in self.fixtures.handle_lists[arg]:
                    if handle not in seen:
                        seen.append(handle)
                    if len(seen) == self.HANDLES_PER_LIST:
                        break
                handles.extend(seen)
        return list(dict.fromkeys(handles))

    def before(self, handles):
        for handle in handles:
            if handle not in self.cache:
                self.cache[handle] = self.snapshot(handle)

    def changed(self, handles):
        """What changed: one short description per object whose snapshot differs."""
        moved = []
        for handle in handles:
            now, then = self.snapshot(handle), self.cache.get(handle)
            if now != then:
                kind = (then or now or ("?",))[0]
                detail = ""
                if then and now and len(then) == len(now):
                    at = next(i for i in range(len(now)) if now[i] != then[i])
                    detail = f": field {at} {str(then[at])[:60]} -> {str(now[at])[:60]}"
                moved.append(f"a {kind}{detail}")
        return moved

    def forget(self):
        self.cache.clear()

    def tensor(self, handle):
        i32, i64 = ctypes.c_int32(), ctypes.c_int64()
        if not self._q("descent_tensor_dtype", handle, ctypes.byref(i32)):
            return None
        dtype = i32.value
        self._q("descent_tensor_rank", handle, ctypes.byref(i64))
        rank = i64.value
        shape = (ctypes.c_int64 * max(rank, 1))()
        self._q("descent_tensor_shape", handle, shape, max(rank, 1))
        self._q("descent_tensor_count", handle, ctypes.byref(i64))
        count = i64.value
        data = b""
        if 0 < count <= 1 << 16:
            buffer = (ctypes.c_char * (count * (4 if dtype == 1 else 8)))()
            self._q("descent_tensor_copy_to", handle, dtype, ctypes.c_void_p(ctypes.addressof(buffer)), count)
            data = bytes(buffer)
        return ("tensor", dtype, tuple(shape[:rank]), count, data)

    def snapshot(self, handle):
        made = self.tensor(handle)
        if made is not None:
            return made
        lib_q, byref = self._q, ctypes.byref
        rule, groups, params = ctypes.c_int32(), ctypes.c_int64(), ctypes.c_int64()
        if lib_q("descent_optimizer_counts", handle, byref(rule), byref(groups), byref(params)):
            i32, i64, f64 = ctypes.c_int32(), ctypes.c_int64(), ctypes.c_double()
            state = [rule.value, groups.value, params.value]
            state.append(lib_q("descent_optimizer_step_count", handle, byref(i64)) and i64.value)
            state.append(lib_q("descent_optimizer_nonfinite_policy", handle, byref(i32)) and i32.value)
            for group in range(min(groups.value, 8)):
                for key in range(1, 14):
                    state.append(struct.pack("<d", f64.value) if lib_q("descent_optimizer_get_hyper", handle, group, key, byref(f64)) else None)
                state.append(struct.pack("<d", f64.value) if lib_q("descent_optimizer_mu_product", handle, group, byref(f64)) else None)
            tensors = self.fixtures.optimizer_tensors.get(handle, [])
            for index, tensor in enumerate(tensors[:2]):  # its params, in registration order
                seen = self.tensor(tensor)
                for slot in range(3):
                    if not lib_q("descent_optimizer_state_present", handle, index, slot, byref(i32)):
                        state.append(None)
                        continue
                    state.append(i32.value)
                    if i32.value == 1 and seen is not None:
                        buffer = (ctypes.c_char * max(1, len(seen[4])))()
                        lib_q("descent_optimizer_state_get", handle, index, slot, seen[1],
                              ctypes.c_void_p(ctypes.addressof(buffer)), seen[3])
                        state.append(bytes(buffer))
            state.extend(self.tensor(tensor) for tensor in tensors)  # params and grads
            return ("optimizer", tuple(state))
        f64 = ctypes.c_double()
        if lib_q("descent_schedule_value", handle, 0, byref(f64)):
            values = []
            for step in (0, 1, 7, 100, 10**6):
                values.append(struct.pack("<d", f64.value) if lib_q("descent_schedule_value", handle, step, byref(f64)) else None)
            return ("schedule", tuple(values))
        best, bad, cooldown, updates = ctypes.c_double(), ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        if lib_q("descent_plateau_state", handle, byref(best), byref(bad), byref(cooldown), byref(updates)):
            lib_q("descent_plateau_lr", handle, byref(f64))
            return ("plateau", struct.pack("<dd", best.value, f64.value), bad.value, cooldown.value, updates.value)
        i64, i64b = ctypes.c_int64(), ctypes.c_int64()
        if lib_q("descent_graph_node_count", handle, byref(i64)):
            lib_q("descent_graph_param_count", handle, byref(i64b))
            return ("graph", i64.value, i64b.value)
        if lib_q("descent_trainer_epoch", handle, byref(i64)):
            return ("trainer", i64.value)
        if lib_q("descent_loader_batch_count", handle, byref(i64)):
            indices = (ctypes.c_int64 * 64)()
            lib_q("descent_loader_batch_indices", handle, 0, indices, 64, byref(i64b))
            return ("loader", i64.value, tuple(indices[:max(0, min(i64b.value, 64))]))
        return ("not a live object",)


def child(batch, log_path, only=None):
    # A safety net under the filters in `plausible`: an allocation of more than a few GiB fails
    # (a typed OutOfMemoryError from the library) instead of paging the machine to death.
    fuzz_harness.cap_address_space(CHILD_ADDRESS_SPACE)
    import descent
    from descent import _ffi
    rows = {name: list(zip(_kinds(argtypes), argtypes)) for name, _r, argtypes in _ffi.FUNCTIONS}
    trap_at = int(os.environ.get("DESCENT_FUZZ_SELF_TEST_TRAP", "-1"))
    overrun_at = int(os.environ.get("DESCENT_FUZZ_SELF_TEST_OVERRUN", "-1"))
    calls = generate(batch)
    plant_change = os.environ.get("DESCENT_FUZZ_SELF_TEST_CHANGE") == "1"
    # DESCENT_FUZZ_ONLY="i,j,...": make only these calls of the batch (to narrow a crash down).
    only_set = {int(i) for i in os.environ["DESCENT_FUZZ_ONLY"].split(",")} if os.environ.get("DESCENT_FUZZ_ONLY") else None
    checked_rejections = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        fixtures = Fixtures(tmpdir)
        observer = Observer(fixtures) if CHECK_UNCHANGED or plant_change else None
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        misbehaviour = []
        counts, succeeded = {}, {}
        for index, (name, args) in enumerate(calls):
            if only is not None and index != only:
                continue
            os.write(log, f"{index}\t{describe(name, args)}\n".encode())
            if index == trap_at:  # the harness's own test: die like a Swift trap
                os.kill(os.getpid(), 4)
            if index == overrun_at:  # ... or write one byte past a buffer, as a lying count would
                small = fixtures.buffers["small"]
                ctypes.memset(ctypes.addressof(small) + len(small), 0, 1)
            values = [fixtures.resolve(kind, argtype, arg) for (kind, argtype), arg in zip(rows[name], args)]
            if name.endswith("_free") and values:
                values[0] = fixtures.sacrificial(name, values[0])
            kinds = [kind for kind, _argtype in rows[name]]
            watched = []
            exempt = name in PARTIAL_ON_FAILURE or bool(MUTATING_CALLBACKS.intersection(
                arg for arg in args if isinstance(arg, str)))
            if observer and exempt:
                observer.forget()  # whatever it does, even failing, may change what it was given
            elif observer:
                watched = observer.involved(kinds, args, values)
                observer.before(watched)
            if only_set is not None and index not in only_set:
                if index % 2000 == 1999:
                    fixtures.build()
                continue
            try:
                result = getattr(_ffi.lib, name)(*values)
                succeeded[name] = succeeded.get(name, 0) + 1
                if name == "descent_status_string" and not result:
                    misbehaviour.append(f"{describe(name, args)} returned NULL")
                if observer:
                    observer.forget()  # a successful call may change anything it was given
            except descent.errors.DescentError as error:
                if not error.message:
                    misbehaviour.append(f"{describe(name, args)} failed with an empty message: {error!r}")
                if watched:
                    if plant_change and index % 1000 == 999:  # the harness's own test
                        tensors = [h for h in watched if observer.tensor(h) is not None and observer.tensor(h)[3] > 0]
                        if tensors:
                            fixtures._call("descent_tensor_scale", tensors[0], 2.0)
                    moved = observer.changed(watched)
                    if moved:
                        checked_rejections["changed"] = checked_rejections.get("changed", 0) + 1
                        misbehaviour.append(f"{describe(name, args)} was rejected ({error.message}) but changed "
                                            f"{len(moved)} of the objects it was given ({'; '.join(moved)})")
                        observer.forget()
                    checked_rejections["checked"] = checked_rejections.get("checked", 0) + 1
            except Exception as error:  # anything else is the package misbehaving
                misbehaviour.append(f"{describe(name, args)} raised {type(error).__name__}: {error}")
            counts[name] = counts.get(name, 0) + 1
            if index % 2000 == 1999:
                fixtures.build()  # a callback may have freed a fixture: start over now and then
                if observer:
                    observer.forget()
        counts["__rejections_checked__"] = checked_rejections.get("checked", 0)
        fuzz_harness.finish_log(log, counts, succeeded, misbehaviour)


# ------------------------------------------------------------------------------------------
# The tests (parent side)
# ------------------------------------------------------------------------------------------
def run_batch(batch, extra_env=None):
    """Runs one batch; returns (per-target counts, list of failure descriptions)."""
    return fuzz_harness.run_batch(__file__, batch, CHILD_TIMEOUT, extra_env=extra_env)


def _results():
    return fuzz_harness.all_batches(__file__, BATCHES, CHILD_TIMEOUT)


def pytest_generate_tests(metafunc):
    if "batch" in metafunc.fixturenames:
        metafunc.parametrize("batch", range(BATCHES))


def test_no_call_crashes_hangs_or_misbehaves(batch):
    _counts, failures = _results()[batch]
    assert not failures, "\n".join(failures[:20])


def test_every_ffi_function_was_fuzzed():
    from descent import _ffi
    totals = {}
    for counts, _failures in _results().values():
        for name, count in counts.items():
            totals[name] = totals.get(name, 0) + count
    if any(failures for _counts, failures in _results().values()):
        return  # the crash is reported by the batch test; its counts are missing
    missing = [name for name, _r, _a in _ffi.FUNCTIONS if totals.get(name, 0) < 20]
    assert not missing, f"fuzzed fewer than 20 times: {missing}"


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


def test_a_call_overrunning_a_buffer_dies_at_that_call():
    """The guard pages: one byte written past a fuzz buffer faults at once (SIGSEGV) and the
    harness names that call, instead of the corrupted heap crashing a later call."""
    name, args = generate(0)[53]
    _counts, failures = run_batch(0, extra_env={"DESCENT_FUZZ_SELF_TEST_OVERRUN": "53"})
    assert len(failures) == 1
    assert "returncode -11" in failures[0]
    assert describe(name, args) in failures[0]


def test_a_range_test_longer_than_its_buffers_is_filtered():
    """The call behind batch 3's SIGSEGV: a range test of 4096 steps writing its rates into the
    32-element small buffer (the header: `steps` doubles each) is the caller's fault, not made."""
    from descent import _ffi
    argtypes = next(a for n, _r, a in _ffi.FUNCTIONS if n == "descent_trainer_range_test")
    lying = [("trainer", 0), ("loader", 0), 1e-4, 1.0, 4096, 0.9, 4.0, "small", "zeros", "zeros", "zeros", "zeros"]
    assert not plausible("descent_trainer_range_test", argtypes, lying)
    assert plausible("descent_trainer_range_test", argtypes, lying[:4] + [SMALL_LEN] + lying[5:])
    for batch in range(BATCHES - 1):
        for name, args in generate(batch):
            if name == "descent_trainer_range_test":
                assert args[4] <= min(_capacity(a) for a in args[7:10]), args


def test_a_crashing_call_is_detected_and_named():
    """The harness itself: a child that dies like a Swift trap (SIGILL) at call 37 is reported
    with that call's function and arguments, replayed alone, and not counted as a pass."""
    name, args = generate(0)[37]
    _counts, failures = run_batch(0, extra_env={"DESCENT_FUZZ_SELF_TEST_TRAP": "37"})
    assert len(failures) == 1
    assert "returncode -4" in failures[0]
    assert describe(name, args) in failures[0]
    assert "crashes on its own too" in failures[0]


if __name__ == "__main__":
    child(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
