"""ctypes releases the GIL around calls: concurrent use from Python threads must be safe."""
import threading

import numpy as np

import descent


def test_concurrent_create_update_free():
    shared = descent.ones((64, 64))
    failures = []

    def work(seed):
        try:
            for i in range(200):
                t = descent.random_normal((64, 64), seed * 1000 + i)
                expected = t.numpy() + 1.0
                t.axpy_(1.0, shared)
                if not np.array_equal(t.numpy(), expected):
                    failures.append("wrong result")
                product = descent.matmul(t, shared)
                if product.shape != (64, 64):
                    failures.append("wrong shape")
                t.close()
                product.close()
        except Exception as error:  # noqa: BLE001 - collected and reported below
            failures.append(repr(error))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_closing_from_another_thread_while_in_use_is_safe():
    big = descent.random_normal((2000, 200), 5)
    other = descent.random_normal((200, 2000), 6)
    errors = []

    def multiply():
        for _ in range(5):
            try:
                descent.matmul(big, other)
            except descent.InvalidHandleError:
                return
            except Exception as error:  # noqa: BLE001
                errors.append(repr(error))

    thread = threading.Thread(target=multiply)
    thread.start()
    big.close()
    other.close()
    thread.join()
    assert errors == []


def test_forked_child_can_still_run_large_parallel_work():
    """The worker pool's threads do not survive fork(); a child must run large work inline
    instead of waiting forever for workers it does not have."""
    import os
    import signal

    from descent import optim

    big = np.zeros(2_000_000)
    opt = optim.SGD([big], lr=1.0)
    opt.step([np.ones_like(big)])            # starts the pool in the parent
    pid = os.fork()
    if pid == 0:                             # child: same step, must finish
        try:
            opt.step([np.ones_like(big)])
            os._exit(0 if big[0] == -2.0 and big[-1] == -2.0 else 1)
        except BaseException:
            os._exit(2)
    for _ in range(600):                     # up to 60 s
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        import time
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("the forked child hung in a parallel step")
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    assert big[0] == -1.0                    # the parent's array saw only its own step
