"""The trust boundary: test code in the grader, the student's functions in a kernel, plain values between.

These tests start a plain (unsandboxed) IPython kernel, run the student's cells in it, and judge
test-cell sources with autograder.judge through autograder.remote, as the worker does.
"""
import time

import pytest
from jupyter_client.manager import KernelManager

from autograder import judge, remote, wire

STUDENT = '''
import numpy as np
def sigmoid(x):
    return 1 / (1 + np.exp(-x))
class Cache:
    def __init__(self, x, W):
        self.x, self.W = x, W
def dense_forward(x, W, b):
    return x @ W + b, Cache(x, W)
def dense_backward(dout, cache):
    x, W = cache.x, cache.W
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)
def scale_in_place(x):
    x *= 2
    return x.sum()
def minimize(optimizer, grad_fn, theta, steps):
    state = optimizer.init(theta)
    for _ in range(steps):
        theta, state = optimizer.step(theta, grad_fn, state)
    return theta
def returns_object_array(x):
    return np.array([object()])
def spins(x):
    while True:
        pass
def fakes_a_timeout(x):
    raise KeyboardInterrupt("FORGED")
'''


@pytest.fixture(scope="module")
def kernel():
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    client = km.blocking_client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    client.execute_interactive(STUDENT, timeout=60)
    yield km, client
    client.stop_channels()
    km.shutdown_kernel(now=True)


def run_test(kernel, source, namespace=None, timeout=20):
    km, client = kernel
    channel = remote.connect(km.get_connection_info())
    connection = remote.Remote(channel, km.interrupt_kernel, km.is_alive)
    connection.deadline = time.monotonic() + timeout
    namespace = namespace if namespace is not None else judge.trusted_namespace(
        ["import numpy as np\nfrom autograder.testing import call_student, compare, check_gradients"])
    try:
        return judge.judge("test_x", source, namespace, connection)
    finally:
        channel.stop_channels()


def test_a_correct_function_passes_and_a_wrong_expectation_fails(kernel):
    """Is the verdict the grader's comparison of the student's value with its own expectation?"""
    ok = run_test(kernel, "x = np.linspace(-3, 3, 7)\ncompare('sigmoid', (call_student(sigmoid, x),), (1 / (1 + np.exp(-x)),), ['s'])")
    assert ok.passed, ok.message
    bad = run_test(kernel, "compare('sigmoid', (call_student(sigmoid, np.zeros(3)),), (np.ones(3),), ['s'])")
    assert not bad.passed and "s differs from the reference" in bad.message


def test_a_cache_stays_in_the_kernel_and_comes_back_for_backward(kernel):
    """Does a forward's cache come back as a handle that backward accepts, with gradients checked here?"""
    verdict = run_test(kernel, "rng = np.random.default_rng(0)\nx, W, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)\n"
                               "out, cache = call_student(dense_forward, x, W, b)\n"
                               "assert not isinstance(cache, tuple), 'an object cache must stay in the kernel'\n"
                               "check_gradients('dense_backward', dense_forward, dense_backward, (x, W, b), ['x', 'W', 'b'], rng.standard_normal((3, 2)))")
    assert verdict.passed, verdict.message


def test_a_change_in_place_fails_the_call_and_never_reaches_the_graders_inputs(kernel):
    """Does a function that changes its argument in place fail, leaving the test's own array untouched?"""
    verdict = run_test(kernel, "x = np.ones(3)\ntry:\n    call_student(scale_in_place, x)\nexcept AssertionError as err:\n"
                               "    assert 'changed its input in place' in str(err), err\n"
                               "    assert np.array_equal(x, np.ones(3)), x\nelse:\n    raise AssertionError('not noticed')")
    assert verdict.passed, verdict.message


def test_the_tests_own_objects_are_called_back(kernel):
    """Can the student's code call an optimizer object and a gradient function that live in the grader?"""
    verdict = run_test(kernel, "class GD:\n    def __init__(self):\n        self.inits = 0\n    def init(self, theta):\n        self.inits += 1\n        return {'t': 0}\n"
                               "    def step(self, theta, grad_fn, state):\n        return theta - 0.4 * grad_fn(theta), {'t': state['t'] + 1}\n"
                               "opt = GD()\ntheta = call_student(minimize, opt, lambda v: 2 * v, np.array(3.0), 5)\n"
                               "assert opt.inits == 1 and abs(float(theta) - 0.00096) < 1e-12, (opt.inits, theta)")
    assert verdict.passed, verdict.message


def test_floating_point_errors_keep_their_type(kernel):
    """Does np.errstate in the test reach the student's code, and FloatingPointError come back as such?"""
    verdict = run_test(kernel, "try:\n    with np.errstate(over='raise'):\n        call_student(sigmoid, np.array([-1000.0]))\n"
                               "    raise AssertionError('no error')\nexcept FloatingPointError as err:\n    assert 'overflow' in str(err)")
    assert verdict.passed, verdict.message


def test_values_that_are_not_plain_are_refused(kernel):
    """Is an object array returned by the student's code refused rather than compared?"""
    verdict = run_test(kernel, "out = call_student(returns_object_array, 1)\nassert not isinstance(out, np.ndarray), 'an object array crossed'")
    assert verdict.passed, verdict.message                 # it stays in the kernel as a handle


def test_kernel_hooks_cannot_change_a_verdict(kernel):
    """With every shell trick installed in the kernel, does a wrong function still fail?"""
    km, client = kernel
    client.execute_interactive(
        "ip = get_ipython()\nip.ast_node_interactivity = 'all'\n"
        "ip.events.register('post_run_cell', lambda result: setattr(result, 'error_in_exec', None))\n"
        "ip.set_custom_exc((Exception,), lambda *a, **k: None)\n"
        "import autograder.testing\nautograder.testing.compare = lambda *a, **k: None\nnp.allclose = lambda *a, **k: True\n"
        "def relu(x):\n    return x", timeout=30)
    verdict = run_test(kernel, "compare('relu', (call_student(relu, np.array([-1.0, 2.0])),), (np.array([0.0, 2.0]),), ['relu(x)'])")
    assert not verdict.passed and "relu(x) differs" in verdict.message


def test_a_function_that_runs_past_the_limit_is_interrupted(kernel):
    """Is a spinning function interrupted at the deadline, failing only its test, with the kernel still usable?"""
    started = time.monotonic()
    verdict = run_test(kernel, "call_student(spins, 1)", timeout=2)
    assert verdict.timed_out and not verdict.passed and time.monotonic() - started < 15
    assert run_test(kernel, "assert float(call_student(sigmoid, 0.0)) == 0.5").passed


def test_the_wire_refuses_malformed_values():
    """Are pickled objects, object arrays and unknown kinds refused when decoding?"""
    with pytest.raises(wire.WireError):
        wire.decode({"t": "pickle", "data": ""}, lambda kind, ident: None)
    with pytest.raises(wire.WireError):
        wire.decode({"t": "array", "npy": "bm90IG5weQ=="}, lambda kind, ident: None)
    nested = wire.encode([1] * 3, lambda v: ("handle", 1))
    assert wire.decode(nested, lambda kind, ident: None) == [1, 1, 1]
    deep = 1
    for _ in range(wire.MAX_DEPTH + 5):
        deep = {"t": "list", "items": [deep]}
    with pytest.raises(wire.WireError):
        wire.decode(deep, lambda kind, ident: None)


def test_a_forged_interrupt_is_an_error_not_a_timeout(kernel):
    """Does a function raising KeyboardInterrupt itself fail its test without being reported as a timeout?"""
    verdict = run_test(kernel, "call_student(fakes_a_timeout, 1)")
    assert not verdict.passed and not verdict.timed_out and "KeyboardInterrupt" in verdict.message
