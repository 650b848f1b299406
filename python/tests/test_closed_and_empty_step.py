"""Sharp edge from the Reliability issue: ``opt.step()`` on an optimizer whose own ``grads`` were
never filled used to run on zeros (the step count rose and weight decay shrank the params
silently); it is an error that says how to pass gradients, and nothing changes.
"""
import numpy as np
import pytest

import descent
from descent import optim


def test_step_without_gradients_is_an_error_that_says_how_to_pass_them():
    param = np.ones(3)
    opt = optim.SGD([param], lr=0.1, weight_decay=0.5)
    with pytest.raises(descent.InvalidArgumentError) as caught:
        opt.step()
    message = str(caught.value)
    assert "opt.step([" in message and "opt.grads" in message
    assert opt.step_count == 0
    assert np.array_equal(param, np.ones(3))            # no silent weight decay on zeros
    # After explicit gradients, step() still has nothing of its own to use.
    opt.step(np.full(3, 2.0))
    after = param.copy()
    with pytest.raises(descent.InvalidArgumentError):
        opt.step()
    assert opt.step_count == 1 and np.array_equal(param, after)
    opt.close()


def test_step_with_the_filled_optimizer_owned_grads_still_works():
    param = np.ones(3)
    opt = optim.SGD([param], lr=0.1, weight_decay=0.5)
    opt.grads[0][...] = [1.0, 2.0, 3.0]
    assert opt.step() is True
    # PyTorch's SGD with L2 decay: g += wd * W; W -= lr * g.
    expected = 1.0 - 0.1 * (np.array([1.0, 2.0, 3.0]) + 0.5 * 1.0)
    np.testing.assert_allclose(param, expected, rtol=1e-15, atol=0)
    opt.zero_grad()                                      # filled with zeros on purpose: allowed
    opt.step()
    assert opt.step_count == 2
    opt.close()
