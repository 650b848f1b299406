"""Regressions found by the header audit: places where the code did not do what descent.h says.

1. descent_optimizer_set_grads: "DESCENT_ERR_INVALID_ARGUMENT (a grad is a param or a state
   tensor)" -- a gradient that was ANOTHER param (or overlapped one) was accepted, and the step
   then read a gradient it was writing.
2. descent_optimizer_set_hyper: "On failure nothing changed" -- an allocation failure part-way
   through a group left the slots allocated so far behind.
3. descent_optimizer_load: a file whose param lacked a state slot its settings need loaded fine,
   and every later step silently skipped that param (the kernels need the slot).
"""
import ctypes
import struct

import numpy as np
import pytest

import descent
from descent import optim
from descent._ffi import lib

RULE_SGD = 1
HYPER_MOMENTUM = 2
FLOAT64 = 2


# ---- 1. set_grads rejects a gradient that is another param --------------------------------------

def test_grad_that_is_another_param_is_rejected():
    w1, w2 = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    opt = optim.SGD([w1, w2], lr=0.1, momentum=0.9)
    good = [np.ones(3), np.ones(3)]
    opt.step(good)
    before = (w1.copy(), w2.copy(), opt.state_dict())
    with pytest.raises(descent.InvalidArgumentError, match="shares memory with param 1"):
        opt.step([w2, np.ones(3)])       # grad 0 is param 1's memory
    with pytest.raises(descent.InvalidArgumentError, match="shares memory with param 0"):
        opt.step([np.ones(3), w1[:]])    # a view of param 0 (another array object, same memory)
    np.testing.assert_array_equal(w1, before[0])
    np.testing.assert_array_equal(w2, before[1])
    after = opt.state_dict()
    assert after["state"][0]["step"] == before[2]["state"][0]["step"] == 1
    np.testing.assert_array_equal(after["state"][0]["momentum_buffer"], before[2]["state"][0]["momentum_buffer"])
    # The previous binding stays usable.
    opt.step(good)
    assert opt.step_count == 2
    opt.close()


def test_grad_overlapping_a_param_partially_is_rejected():
    memory = np.zeros(8)
    w = memory[:4]                       # param: elements 0..3
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(descent.InvalidArgumentError, match="shares memory with param 0"):
        opt.step([memory[2:6]])          # grad: elements 2..5 (same shape, overlapping)
    np.testing.assert_array_equal(memory, np.zeros(8))
    assert opt.step_count == 0
    opt.step([np.ones(4)])               # a disjoint gradient is fine
    np.testing.assert_allclose(w, -0.1 * np.ones(4), rtol=0, atol=0)
    opt.close()


# ---- 2. set_hyper allocates all-or-nothing ----------------------------------------------------

def _handle(function, *args):
    out = ctypes.c_uint64()
    function(*args, ctypes.byref(out))
    return out.value


def test_set_hyper_allocation_failure_leaves_no_state_behind():
    # One buffer: a small param at its start, and a huge wrapped param claiming 2^61 bytes from
    # its middle upward (so the two never overlap, whatever the allocator's addresses). The
    # library never touches the huge param's memory here: only its state allocation is tried.
    buffer = np.zeros(16)
    small = buffer[:4]
    huge_shape = (ctypes.c_int64 * 1)(1 << 58)   # 2^61 bytes of float64: no allocation can succeed
    t_small = descent.wrap(small)
    t_huge = _handle(lib.descent_tensor_wrap, FLOAT64, 1, huge_shape, buffer[8:].ctypes.data, 1 << 58)
    opt = _handle(lib.descent_optimizer_new, RULE_SGD)
    try:
        params = (ctypes.c_uint64 * 2)(t_small.handle, t_huge)
        lib.descent_optimizer_add_group(opt, params, 2, None)   # momentum 0: no state slot yet
        with pytest.raises(descent.OutOfMemoryError):
            lib.descent_optimizer_set_hyper(opt, 0, HYPER_MOMENTUM, 0.9)  # slot for small, then huge
        present, value = ctypes.c_int32(-1), ctypes.c_double(-1)
        lib.descent_optimizer_state_present(opt, 0, 0, ctypes.byref(present))
        assert present.value == 0        # small's momentum buffer was not left allocated
        lib.descent_optimizer_state_present(opt, 1, 0, ctypes.byref(present))
        assert present.value == 0
        lib.descent_optimizer_get_hyper(opt, 0, HYPER_MOMENTUM, ctypes.byref(value))
        assert value.value == 0.0
    finally:
        lib.descent_optimizer_free(opt)
        lib.descent_tensor_free(t_huge)
        t_small.close()


# ---- 3. load refuses a file that lacks a needed state slot -------------------------------------

def _fnv1a64(data):
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return value


def _drop_slot(path, slot):
    """Rewrites a one-param, no-params-stored checkpoint without state slot `slot` (valid checksum)."""
    raw = open(path, "rb").read()
    flags = struct.unpack_from("<I", raw, 12)[0]
    assert flags == 0
    payload = bytearray(raw[32:])
    offset = 4 + 4 + 8
    keys = struct.unpack_from("<I", payload, offset)[0]
    offset += 4 + 12 * keys                       # defaults
    groups = struct.unpack_from("<q", payload, offset)[0]
    offset += 8 + groups * (12 * keys + 8 + 8)    # groups
    params = struct.unpack_from("<q", payload, offset)[0]
    assert params == 1
    offset += 8
    _, dtype, rank = struct.unpack_from("<qii", payload, offset)
    offset += 16
    extents = struct.unpack_from("<%dq" % rank, payload, offset)
    offset += 8 * rank
    mask_at = offset
    mask = struct.unpack_from("<I", payload, mask_at)[0]
    assert mask & (1 << slot)
    size = int(np.prod(extents)) * (8 if dtype == 2 else 4)
    start = mask_at + 4 + size * bin(mask & ((1 << slot) - 1)).count("1")
    del payload[start:start + size]
    struct.pack_into("<I", payload, mask_at, mask & ~(1 << slot))
    header = bytearray(raw[:32])
    struct.pack_into("<QQ", header, 16, len(payload), _fnv1a64(bytes(payload)))
    with open(path, "wb") as file:
        file.write(bytes(header) + bytes(payload))


def test_load_rejects_a_checkpoint_missing_a_needed_slot(tmp_path):
    w = np.array([1.0, -2.0, 0.5])
    source = optim.Adam([w], lr=0.1)
    source.step([np.array([0.1, 0.2, 0.3])])
    path = str(tmp_path / "adam.ckpt")
    source.save(path)
    _drop_slot(path, 1)                           # exp_avg_sq, which Adam always needs

    target_w = np.array([7.0, 8.0, 9.0])
    target = optim.Adam([target_w], lr=0.2)
    target.step([np.array([1.0, 1.0, 1.0])])
    before = (target_w.copy(), target.state_dict())
    with pytest.raises(descent.CorruptFileError, match="exp_avg_sq"):
        target.load(path)
    np.testing.assert_array_equal(target_w, before[0])
    after = target.state_dict()
    assert after["state"][0]["step"] == 1
    np.testing.assert_array_equal(after["state"][0]["exp_avg"], before[1]["state"][0]["exp_avg"])
    np.testing.assert_array_equal(after["state"][0]["exp_avg_sq"], before[1]["state"][0]["exp_avg_sq"])
    assert target.param_groups[0]["lr"] == 0.2
    source.close()
    target.close()


def test_load_still_accepts_the_untouched_checkpoint(tmp_path):
    w = np.array([1.0, -2.0, 0.5])
    source = optim.Adam([w], lr=0.1)
    source.step([np.array([0.1, 0.2, 0.3])])
    path = str(tmp_path / "adam.ckpt")
    source.save(path)
    target = optim.Adam([np.zeros(3)], lr=0.2)
    target.load(path)
    np.testing.assert_array_equal(target.state_dict()["state"][0]["exp_avg_sq"],
                                  source.state_dict()["state"][0]["exp_avg_sq"])
    source.close()
    target.close()


def test_failed_add_param_group_leaves_the_defaults_alone():
    """A group that fails to add must not change the optimizer's defaults (in C or Python), and
    a successful add with overrides must not make its overrides the new defaults either."""
    import ctypes
    from descent import _ffi, optim

    w = np.zeros(4)
    opt = optim.Adam([w], lr=1e-3)

    def c_default(key):
        value = ctypes.c_double()
        _ffi.lib.descent_optimizer_get_hyper(opt.handle, -1, optim.HYPER[key], ctypes.byref(value))
        return value.value

    with pytest.raises(descent.DTypeError):
        opt.add_param_group({"params": [np.zeros(3, dtype=np.int64)], "lr": 0.5})
    with pytest.raises(descent.InvalidArgumentError):
        opt.add_param_group({"params": [np.zeros(3)], "lr": -1.0})
    assert c_default("lr") == 1e-3 and opt.defaults["lr"] == 1e-3
    opt.add_param_group({"params": [np.zeros(3)], "lr": 0.25})
    assert c_default("lr") == 1e-3
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 0.25]


def test_invalid_defaults_are_rejected_at_construction():
    from descent import optim

    with pytest.raises(descent.InvalidArgumentError):
        optim.SGD([{"params": [np.zeros(2)], "lr": 0.1}], lr=-1.0)
