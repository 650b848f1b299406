"""Messages users read (Reliability issue, "sharp edges"): every rejected call raises one typed
exception whose message names what was expected and how to get it, and changes nothing."""
import numpy as np
import pytest

import descent
from descent import optim, schedules


def snapshot(opt, params):
    state = opt.state_dict()
    return [p.copy() for p in params], opt.step_count, repr(state)


# ---- params that cannot be updated in place -------------------------------------------------
@pytest.mark.parametrize("make, problem, remedy", [
    (lambda: np.zeros(8)[::2], "is not C-contiguous", "np.ascontiguousarray(x)"),
    (lambda: np.asfortranarray(np.zeros((3, 4))), "is not C-contiguous", "np.ascontiguousarray(x)"),
    (lambda: np.zeros((4, 3)).T, "is not C-contiguous", "np.ascontiguousarray(x)"),
    (lambda: _readonly(np.zeros(3)), "is read-only", "x = x.copy()"),
])
@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_a_param_that_cannot_be_updated_in_place_says_why_and_how(cls, make, problem, remedy):
    bad = make()
    with pytest.raises(descent.InvalidArgumentError) as caught:
        cls([np.zeros(2), bad])
    message = str(caught.value)
    assert f"param_groups[0]['params'][1] {problem}" in message
    assert "in place" in message and remedy in message
    assert "descent.tensor()" not in message and "wrap()" not in message


def _readonly(array):
    array.flags.writeable = False
    return array


def test_add_param_group_names_the_new_group_and_changes_nothing():
    w = np.ones(3)
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    opt.step([np.ones(3)])
    before = snapshot(opt, [w])
    with pytest.raises(descent.InvalidArgumentError, match=r"param_groups\[1\]\['params'\]\[0\] is read-only"):
        opt.add_param_group({"params": [_readonly(np.zeros(2))]})
    assert len(opt.param_groups) == 1 and opt.counts()[1:] == (1, 1)
    after = snapshot(opt, [w])
    np.testing.assert_array_equal(after[0][0], before[0][0])
    assert after[1:] == before[1:]


def test_a_param_of_another_dtype_names_it():
    with pytest.raises(descent.DTypeError, match=r"param_groups\[0\]\['params'\]\[0\] is int64; params must be "
                                                 r"float32 or float64"):
        optim.Adam([np.zeros(3, np.int64)])
    with pytest.raises(TypeError, match=r"param_groups\[0\]\['params'\]\[0\] must be a numpy array"):
        optim.Adam([[0.0, 1.0]])


def test_functional_state_that_cannot_be_updated_in_place_names_its_role():
    x, gamma, beta = np.ones((3, 4)), np.ones(4), np.zeros(4)
    running_mean = np.zeros(8)[::2]
    with pytest.raises(descent.InvalidArgumentError, match="running_mean is not C-contiguous: it is updated in "
                                                           "place") as caught:
        descent.batchnorm_forward_train(x, gamma, beta, running_mean, np.ones(4))
    assert "wrap()" not in str(caught.value)
    np.testing.assert_array_equal(running_mean, 0)


# ---- checkpoints and state_dicts of another rule ----------------------------------------------
def test_a_checkpoint_of_another_rule_names_both_rules(tmp_path):
    adam = optim.Adam([np.zeros(3)])
    adam.step([np.ones(3)])
    adam.save(tmp_path / "adam.ckpt")
    w = np.ones(3)
    sgd = optim.SGD([w], lr=0.1, momentum=0.9)
    sgd.step([np.ones(3)])
    before = snapshot(sgd, [w])
    with pytest.raises(descent.InvalidArgumentError) as caught:
        sgd.load(tmp_path / "adam.ckpt")
    message = str(caught.value)
    assert "holds the state of the Adam rule, this optimizer's rule is SGD" in message
    assert " a adam" not in message and "sgd" not in message
    after = snapshot(sgd, [w])
    np.testing.assert_array_equal(after[0][0], before[0][0])
    assert after[1:] == before[1:]


def test_a_checkpoint_of_another_dtype_names_dtypes_not_codes(tmp_path):
    optim.Adam([np.zeros(3)]).save(tmp_path / "f64.ckpt")
    with pytest.raises(descent.ShapeError) as caught:
        optim.Adam([np.zeros(3, np.float32)]).load(tmp_path / "f64.ckpt")
    message = str(caught.value)
    assert "param 0 is float64 with shape (3,), this optimizer's is float32 with shape (3,)" in message
    assert "dtype 2" not in message and "dtype 1" not in message


@pytest.mark.parametrize("drop_the_name", [False, True])
def test_an_adam_state_dict_loaded_into_sgd_says_it_came_from_adam(drop_the_name):
    adam = optim.Adam([np.zeros(3)])
    adam.step([np.ones(3)])
    saved = adam.state_dict()
    assert saved["optimizer"] == "Adam"
    if drop_the_name:  # a state_dict from before the entry existed: the settings give it away
        del saved["optimizer"]
    w = np.ones(3)
    sgd = optim.SGD([w], lr=0.1, momentum=0.9)
    sgd.step([np.ones(3)])
    before = snapshot(sgd, [w])
    with pytest.raises(descent.InvalidArgumentError) as caught:
        sgd.load_state_dict(saved)
    message = str(caught.value)
    assert "unknown entry" not in message
    if drop_the_name:
        assert "which SGD does not have; the state_dict comes from another rule's optimizer (Adam or AdamW)" in message
    else:
        assert "the state_dict was made by Adam (its 'optimizer' entry), this optimizer is SGD" in message
    after = snapshot(sgd, [w])
    np.testing.assert_array_equal(after[0][0], before[0][0])
    assert after[1:] == before[1:]


def test_a_foreign_state_entry_names_the_rules_that_keep_it():
    sgd = optim.SGD([np.zeros(3)], momentum=0.9)
    saved = sgd.state_dict()
    del saved["optimizer"]
    saved["state"][0]["exp_avg"] = np.zeros(3)
    with pytest.raises(descent.InvalidArgumentError) as caught:
        sgd.load_state_dict(saved)
    assert str(caught.value).startswith(
        "state of param 0 has entry 'exp_avg', which SGD does not keep (its state: 'momentum_buffer'); the "
        "state_dict comes from another rule's optimizer (Adam, AdamW, Adamax, NAdam, RAdam or Lion)")


def test_a_subclass_reports_its_rule_and_loads_its_rules_state():
    class MyAdam(optim.Adam):
        pass
    source = MyAdam([np.zeros(3)])
    source.step([np.ones(3)])
    assert source.state_dict()["optimizer"] == "Adam"
    target = optim.Adam([np.zeros(3)])
    target.load_state_dict(source.state_dict())
    assert target.step_count == 1


@pytest.mark.parametrize("name", [5, None, ["Adam"]])
def test_the_optimizer_entry_must_be_a_name(name):
    opt = optim.Adam([np.zeros(3)])
    saved = opt.state_dict()
    saved["optimizer"] = name
    with pytest.raises(TypeError, match=r"state_dict\['optimizer'\] must name the rule that made it"):
        opt.load_state_dict(saved)


# ---- scheduler and step arguments ----------------------------------------------------------
def test_lr_scheduler_with_a_number_names_what_it_expected():
    opt = optim.SGD([np.zeros(3)], lr=0.5)
    with pytest.raises(TypeError) as caught:
        schedules.LRScheduler(opt, 0.1)
    message = str(caught.value)
    assert message.startswith("schedule must be a descent.schedules.Schedule (for every group) or a list of them")
    assert "got float 0.1 (a fixed rate is schedules.constant(0.1))" in message
    assert "not iterable" not in message
    assert opt.param_groups[0]["lr"] == 0.5


def test_lr_scheduler_with_an_uncalled_factory_says_to_call_it():
    opt = optim.SGD([np.zeros(3)], lr=0.5)
    with pytest.raises(TypeError, match=r"got the function cosine_annealing \(call it to make a Schedule"):
        schedules.LRScheduler(opt, schedules.cosine_annealing)
    with pytest.raises(TypeError, match=r"schedule\[0\] must be a descent.schedules.Schedule"):
        schedules.LRScheduler(opt, [0.1])
    assert opt.param_groups[0]["lr"] == 0.5


@pytest.mark.parametrize("call, match", [
    (lambda: schedules.sequential(schedules.constant(0.1), [1]), "schedules must be a list"),
    (lambda: schedules.sequential([schedules.constant(0.1), 0.5], [1]), r"schedules\[1\] must be a descent"),
    (lambda: schedules.sequential([schedules.constant(0.1), schedules.constant(0.2)], 5), "milestones must be a list"),
    (lambda: schedules.with_warmup(0.1, 5), "schedule must be a descent.schedules.Schedule"),
])
def test_schedule_composites_name_what_they_expected(call, match):
    with pytest.raises(TypeError, match=match):
        call()


@pytest.mark.parametrize("grads", [1.0, "grad", 3, {0: np.ones(3)}, descent.tensor([1.0, 2.0, 3.0])])
def test_step_with_something_that_is_not_gradients_names_what_it_expected(grads):
    w = np.ones(3)
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(TypeError, match=r"step\(\) takes the gradients as a list of numpy arrays, one per param"):
        opt.step(grads)
    np.testing.assert_array_equal(w, 1.0)
    assert opt.step_count == 0


# ---- every public entry point checks its arguments (the API fuzzer's "raised from inside" oracle
# found 91 places where Python or NumPy raised instead: "'float' object is not iterable", "The
# truth value of an array ... is ambiguous", "could not convert string to float") -----------------
X34 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)


@pytest.mark.parametrize("call, error, match", [
    (lambda: optim.Adam([np.zeros(3)], amsgrad=np.ones(3)), TypeError, "amsgrad must be True or False, got ndarray"),
    (lambda: optim.SGD([np.zeros(3)], momentum_form=[1]), descent.InvalidArgumentError,
     "momentum_form must be one of 'pytorch', 'ema', 'cs231n', got list"),
    (lambda: optim.SGD(3.0), TypeError, "params must be a list of arrays or group dicts"),
    (lambda: optim.SGD([np.zeros(3)]).add_param_group(np.zeros(3)), TypeError, "a param group must be a dict"),
    (lambda: optim.SGD([np.zeros(3)]).save(3), TypeError, "path must be a str, bytes or os.PathLike file path"),
    (lambda: setattr(optim.SGD([np.zeros(3)]), "nonfinite", np.zeros(2)), descent.InvalidArgumentError,
     "nonfinite must be one of 'raise', 'skip', 'proceed', got ndarray"),
    (lambda: descent.functional.adam(np.zeros(3), np.ones(3), np.zeros(3), np.zeros(3), None, 1, betas=0.9),
     TypeError, r"betas must be a pair \(beta1, beta2\), got float 0.9"),
    (lambda: descent.functional.sgd(np.zeros(3), np.ones(3), None, 1, maximize=np.ones(2)), TypeError,
     "maximize must be True or False"),
    (lambda: descent.functional.sgd(np.zeros(3), np.ones(3), None, 1, lr="0.1"), TypeError,
     "lr must be a real number, got str '0.1'"),
    (lambda: descent.dense_forward(np.ones((5, 4)), X34, np.zeros(3), "leaky_relu", "x"), TypeError,
     "negative_slope must be a real number"),
    (lambda: descent.sse_loss(np.ones(3), np.ones(3), with_grad=np.ones(3)), TypeError,
     "with_grad must be True or False"),
    (lambda: descent.tensor([[1.0, 2.0], [3.0]]), descent.ShapeError, "data must be a rectangular array of numbers"),
    (lambda: descent.tensor(["a", "b"], dtype=np.float64), TypeError, "data must be an array of numbers"),
    (lambda: descent.zeros(np.array(2)), descent.ShapeError, "shape must be an int or a sequence of ints"),
    (lambda: descent.init_weights((3, 2), "he_normal", "mean"), TypeError, "seed must be an integer, got str"),
    (lambda: descent.BatchNorm(3, eps=...), TypeError, "eps must be a real number, got ellipsis"),
    (lambda: descent.BatchNorm(1j), TypeError, "features must be an integer, got complex"),
    (lambda: descent.Graph(np.array(2.5)), descent.DTypeError, "dtype must be a dtype"),
    (lambda: descent.DataLoader(np.ones((4, 3)), seed={}), TypeError, "seed must be an integer, got dict"),
    (lambda: descent.fit(descent.MLP([3, 2]), optim.SGD(descent.MLP([3, 2]).parameters()), np.ones((4, 3)),
                         min_delta="x"), TypeError, "min_delta must be a real number"),
    (lambda: descent.lr_range_test(descent.MLP([3, 2]), optim.SGD(descent.MLP([3, 2]).parameters()),
                                   np.ones((4, 3)), steps=-3), descent.InvalidArgumentError,
     r"steps must be an int in \[2, "),
    (lambda: descent.schedules.multi_step(0.1, lambda: 0), TypeError, "milestones must be a list of ints"),
    (lambda: descent.schedules.piecewise_constant(3, [0.1]), TypeError, "boundaries must be a list of ints"),
    (lambda: descent.format_sweep([(0.1,)]), TypeError, r"rows must hold \(step_size, loss\) pairs"),
    (lambda: descent.MLP([3, 2]).load_state_dict(3), TypeError, "state must be a dict from state_dict"),
    (lambda: descent.MLP([3, 2]).predict(np.ones((2, 3)), batch_size="all"), TypeError,
     "batch_size must be an integer"),
    (lambda: descent.error_for_status([1], "boom"), TypeError, "code must be an int status code"),
])
def test_arguments_are_checked_and_named(call, error, match):
    with pytest.raises(error, match=match):
        call()
