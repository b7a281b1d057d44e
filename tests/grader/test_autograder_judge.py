"""The trust boundary: test code in the grader, the student's functions in a kernel, plain values between.

These tests start a plain (unsandboxed) IPython kernel, run the student's cells in it, and judge
test-cell sources with autograder.judge through autograder.remote, as the worker does.
"""
import time
from textwrap import dedent

import pytest
from jupyter_client.manager import KernelManager

from autograder.judge import verdict as judge
from autograder.judge import remote
from autograder.kernel import wire

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
calls_seen = []
def records(*args, **kwargs):
    calls_seen.append(len(args) + len(kwargs))
    return len(calls_seen)
def probe_callback(fn):
    """What the student's code can reach through a function of the test."""
    found = {}
    for name in ["__self__", "__closure__", "__globals__", "__dict__", "__code__", "function", "inits"]:
        try:
            found[name] = repr(getattr(fn, name))[:80]
        except AttributeError:
            pass
    return found
def probe_object(obj):
    found = {}
    for name in ["inits", "__dict__", "function", "_secret", "init"]:
        try:
            found[name] = repr(getattr(obj, name))[:80]
        except AttributeError:
            pass
    return found
def exploit(optimizer, path):
    """The held-out attack: an object array from the test's init, then its tofile."""
    array = optimizer.init([None])
    array.fill("owned")
    array.tofile(path)
    return "written"
def hands_back_itself(fn):
    return fn(records)
def passes_own(fn, which):
    own = {"function": records, "object": object(), "object array": np.array([object()]), "class": Cache,
           "nested": {"a": [1, (2, records)]}}[which]
    return fn(own)
def calls_with(fn, value):
    return fn(value)
def returns_the_callback(fn):
    return fn
def raises_with_object(x):
    class Rich(ValueError):
        def __init__(self):
            super().__init__("rich error")
            self.payload = object()
    raise Rich()
def catches(fn):
    try:
        fn(1.0)
    except Exception as err:
        return [type(err).__name__, str(err), sorted(k for k in vars(err) if not k.startswith("__"))]
    return "no error"
def big_list(n):
    return list(range(n))
def count(items):
    return len(items)
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
        ["import numpy as np\nfrom autograder.testing import call_student, callback, callback_object, compare, check_gradients"])
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
    verdict = run_test(kernel, dedent('''\
                                   rng = np.random.default_rng(0)
                                   x, W, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2)), rng.standard_normal(2)
                                   out, cache = call_student(dense_forward, x, W, b)
                                   assert not isinstance(cache, tuple), 'an object cache must stay in the kernel'
                                   check_gradients('dense_backward', dense_forward, dense_backward, (x, W, b), ['x', 'W', 'b'], rng.standard_normal((3, 2)))
                                   '''))
    assert verdict.passed, verdict.message


def test_a_change_in_place_fails_the_call_and_never_reaches_the_graders_inputs(kernel):
    """Does a function that changes its argument in place fail, leaving the test's own array untouched?"""
    verdict = run_test(kernel, dedent('''\
                                   x = np.ones(3)
                                   try:
                                       call_student(scale_in_place, x)
                                   except AssertionError as err:
                                       assert 'changed its input in place' in str(err), err
                                       assert np.array_equal(x, np.ones(3)), x
                                   else:
                                       raise AssertionError('not noticed')
                                   '''))
    assert verdict.passed, verdict.message


GD = dedent("""\
    class GD:
        def __init__(self):
            self.inits = 0
        def init(self, theta):
            self.inits += 1
            return {'t': 0} if not isinstance(theta, list) else np.array(theta, dtype=object)
        def step(self, theta, grad_fn, state):
            return theta - 0.4 * grad_fn(theta), {'t': state['t'] + 1}
    opt = GD()
    """)


def test_the_functions_a_test_offers_are_called_back(kernel):
    """Can the student's code call the methods and the gradient function a test offers, and only those?"""
    verdict = run_test(kernel, GD + "theta = call_student(minimize, callback_object(init=opt.init, step=opt.step), "
                                    "callback(lambda v: 2 * v), np.array(3.0), 5)\n"
                                    "assert opt.inits == 1 and abs(float(theta) - 0.00096) < 1e-12, (opt.inits, theta)")
    assert verdict.passed, verdict.message


def test_an_object_the_test_did_not_offer_never_reaches_the_kernel(kernel):
    """Is an object, a bare function or a class of the grader refused before anything is sent?"""
    for value in ["opt", "lambda v: v", "GD", "np.linalg", "{'f': opt.init}", "[1, opt]"]:
        verdict = run_test(kernel, GD + f"before = call_student(records)\ncall_student(records, {value})")
        assert not verdict.passed and verdict.message.startswith("NotOffered: the test tried to pass"), (value, verdict.message)
    after = run_test(kernel, "n = call_student(records)\nprint(n)")
    assert after.passed and after.printed.strip() == str(7), after.printed   # one call per value above, plus this one


def test_attributes_of_the_tests_functions_are_out_of_reach(kernel):
    """Does the student's code find no attribute at all on an offered function or object?"""
    verdict = run_test(kernel, GD + dedent('''\
                                   found = call_student(probe_callback, callback(opt.init))
                                   assert found == {}, found
                                   found = call_student(probe_object, callback_object(init=opt.init))
                                   assert set(found) == {'init'} and 'function of the test' in found['init'], found
                                   '''))
    assert verdict.passed, verdict.message


def test_a_callback_result_that_is_not_plain_fails_the_test_and_writes_nothing(kernel, tmp_path):
    """The held-out attack: an object array returned by a test's method, then tofile. Is it refused?"""
    target = tmp_path / "gradebook.db"
    target.write_text("grades")
    verdict = run_test(kernel, GD + f"call_student(exploit, callback_object(init=opt.init), {str(target)!r})")
    assert not verdict.passed and "CallbackFault" in verdict.message and "cannot be sent" in verdict.message, verdict.message
    assert target.read_text() == "grades"


def test_callback_arguments_must_be_plain(kernel):
    """Does the student's code passing its own objects (a function, a class) to a test's function fail the test?"""
    assert run_test(kernel, "assert call_student(calls_with, callback(lambda v: v + 1), 1) == 2").passed
    for which in ["function", "object", "object array", "class", "nested"]:
        verdict = run_test(kernel, f"call_student(passes_own, callback(lambda v: 1), {which!r})")
        assert not verdict.passed and "CallbackFault" in verdict.message, (which, verdict.message)


def test_a_callback_handed_back_is_the_tests_own(kernel):
    """May the student's code hand an offered function back to the test (as minimize hands grad_fn to step)?"""
    verdict = run_test(kernel, "f = callback(lambda v: 2 * v)\nassert call_student(calls_with, callback(lambda g: g(4.0)), f) == 8.0")
    assert verdict.passed, verdict.message
    verdict = run_test(kernel, "call_student(returns_the_callback, callback(lambda v: v))")
    assert not verdict.passed and "only plain values come back" in verdict.message, verdict.message


def test_exceptions_cross_as_a_type_name_and_a_message(kernel):
    """Do errors cross the boundary only as a builtin type and text, in both directions?"""
    verdict = run_test(kernel, dedent('''\
                                   try:
                                       call_student(raises_with_object, 1)
                                   except Exception as err:
                                       assert type(err).__name__ == 'StudentError' and 'raised Rich: rich error' in str(err), repr(err)
                                       assert not hasattr(err, 'payload')
                                   else:
                                       raise AssertionError('no error')
                                   '''))
    assert verdict.passed, verdict.message
    verdict = run_test(kernel, dedent('''\
                                   class Fancy(KeyError):
                                       payload = object()
                                   def fails(x):
                                       raise Fancy('from the test')
                                   got = call_student(catches, callback(fails))
                                   assert got == ['RuntimeError', "'from the test'", []], got
                                   '''))
    assert verdict.passed, verdict.message


def test_values_are_bounded_in_both_directions(kernel):
    """Are too many items refused, whether the student's code returns them or a test sends them?"""
    verdict = run_test(kernel, f"call_student(big_list, {wire.MAX_ITEMS + 10})")
    assert not verdict.passed and "items" in verdict.message, verdict.message
    verdict = run_test(kernel, f"call_student(count, list(range({wire.MAX_ITEMS + 10})))")
    assert not verdict.passed and "items" in verdict.message, verdict.message
    assert run_test(kernel, "assert call_student(count, list(range(1000))) == 1000").passed


def test_floating_point_errors_keep_their_type(kernel):
    """Does np.errstate in the test reach the student's code, and FloatingPointError come back as such?"""
    verdict = run_test(kernel, dedent('''\
                                   try:
                                       with np.errstate(over='raise'):
                                           call_student(sigmoid, np.array([-1000.0]))
                                       raise AssertionError('no error')
                                   except FloatingPointError as err:
                                       assert 'overflow' in str(err)
                                   '''))
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
        wire.decode({"t": "pickle", "data": ""}, wire.refuse)
    with pytest.raises(wire.WireError):
        wire.decode({"t": "array", "npy": "bm90IG5weQ=="}, wire.refuse)
    nested = wire.encode([1] * 3, wire.refuse)
    assert wire.decode(nested, wire.refuse) == [1, 1, 1]
    with pytest.raises(wire.WireError):
        wire.encode([object()], wire.refuse)
    deep = 1
    for _ in range(wire.MAX_DEPTH + 5):
        deep = {"t": "list", "items": [deep]}
    with pytest.raises(wire.WireError):
        wire.decode(deep, wire.refuse)
    with pytest.raises(wire.WireError):
        wire.decode({"t": "callbacks", "methods": {"__init__": 1}}, lambda item: item)


def test_a_forged_interrupt_is_an_error_not_a_timeout(kernel):
    """Does a function raising KeyboardInterrupt itself fail its test without being reported as a timeout?"""
    verdict = run_test(kernel, "call_student(fakes_a_timeout, 1)")
    assert not verdict.passed and not verdict.timed_out and "KeyboardInterrupt" in verdict.message
