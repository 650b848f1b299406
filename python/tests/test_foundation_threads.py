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
