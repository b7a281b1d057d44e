"""Helpers for the test cells of the assignments: call a student's function, compare what it returned.

The same test cell runs in two places:
- in the student's JupyterLab (and nbgrader's Validate), where the helpers are plain self-checks:
  `call_student(fn, ...)` calls the function, `compare` and `check_gradients` check the results;
- in grading, where the test cell runs in the trusted grader process and the student's names are
  bound to objects whose calls run in the sandboxed kernel (autograder.judge.remote). There,
  `call_student(fn, ...)` is a remote call and the checks run in the grader, out of the student's reach.
So the helpers only use what both places offer: numpy and the standard library.

Messages say which output is wrong and which are right, e.g.
"lstm_backward: dWh differs from the reference (max abs diff 3.1e-01); dx, dh0, dWx and db match".
Hidden tests draw their inputs from `fresh_rng()`, seeded at grading time, so answers cannot be
hard-coded. Failures point at the student's code, not at these helpers (`__tracebackhide__`).

A test may hand the student's code a function of its own (a gradient to follow, an optimizer to
drive) only by offering it explicitly: `callback(fn)` for a function, `callback_object(init=...,
step=...)` for an object with named methods. In grading these are the only things of the grader
the student's code can reach, and only by calling them with plain values (numbers, arrays, strings,
tuples, lists, dicts) and getting plain values back; any other object a test passes is refused.
"""
import secrets
import warnings

import numpy as np


def fresh_rng():
    """A generator seeded at grading time, and its seed (printed on failure to reproduce a case)."""
    seed = secrets.randbelow(2 ** 32)
    return np.random.default_rng(seed), seed


class Callback:
    """A function of the test that the student's code may call (see `callback`)."""

    __slots__ = ("function",)

    def __init__(self, function):
        if not callable(function):
            raise TypeError(f"callback() takes a function, got {type(function).__name__}")
        self.function = function

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def __repr__(self):
        return f"<callback {getattr(self.function, '__name__', 'of the test')}>"


class CallbackObject:
    """An object of the test whose named methods (and nothing else) the student's code may call."""

    def __init__(self, methods):
        for name, method in methods.items():
            if not name.isidentifier() or name.startswith("_"):
                raise ValueError(f"callback_object(): {name!r} is not a public method name")
            object.__setattr__(self, name, Callback(method))

    def __setattr__(self, name, value):
        raise AttributeError("a callback_object cannot be changed")

    def __repr__(self):
        return f"<callback object with {', '.join(sorted(vars(self)))}>"


def callback(function):
    """Offer `function` to the student's code: call_student(step, theta, callback(lambda x: 2 * x), state)."""
    return Callback(function)


def callback_object(**methods):
    """Offer an object with these methods to the student's code: callback_object(init=opt.init, step=opt.step)."""
    return CallbackObject(methods)


def call_student(fn, *args, name=None, **kwargs):
    """fn(*args, **kwargs); numpy warnings it emits are reported on stdout as `note: ...` lines.

    Warnings never fail a test (nbgrader fails a test cell that writes to stderr); they are a hint.
    """
    __tracebackhide__ = True
    name = name or getattr(fn, "__name__", "the function")
    if not callable(fn):
        raise AssertionError(f"{name} is not a function (got {type(fn).__name__})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    for w in caught[:3]:
        print(f"note: {name} emitted {w.category.__name__}: {w.message}")
    return result


def _describe(names):
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def compare(fn_name, got, expected, names, rtol=1e-6, atol=1e-9, seed=None):
    """Compare the outputs of a student function with the reference, output by output.

    got, expected: tuples of outputs (arrays or numbers); names: one name per output.
    Raises AssertionError naming every wrong output and every right one.
    """
    __tracebackhide__ = True
    if isinstance(got, list) and len(names) > 1:
        got = tuple(got)                                  # several outputs returned as a list: fine
    if not isinstance(got, tuple):
        got = (got,)
    if len(got) != len(expected):
        raise AssertionError(f"{fn_name} returned {len(got)} values; expected {len(expected)} "
                             f"({', '.join(names)})")
    wrong, right = [], []
    for name, g, e in zip(names, got, expected):
        e = np.asarray(e)
        try:
            g = np.asarray(g, dtype=float)
        except (TypeError, ValueError):
            wrong.append(f"{name} is not numeric (got {type(g).__name__})")
            continue
        if g.shape != e.shape:
            wrong.append(f"{name} has shape {g.shape}, expected {e.shape}")
        elif not np.allclose(g, e, rtol=rtol, atol=atol):
            wrong.append(f"{name} differs from the reference (max abs diff {np.max(np.abs(g - e)):.1e})")
        else:
            right.append(name)
    if wrong:
        tail = f"; {_describe(right)} match" if right else ""
        again = f" [inputs seeded with {seed}]" if seed is not None else ""
        raise AssertionError(f"{fn_name}: {'; '.join(wrong)}{tail}{again}")


def rel_error(a, b):
    """Norm-relative error |a - b| / (|a| + |b|) (0 when both are 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


DIRECTIONS = 3             # random directions per argument in check_gradients


def directional_derivatives(forward, args, k, dout, directions, h=1e-5):
    """Centred differences of L = sum(forward(*args)[0] * dout) along each direction v in `directions`,
    moving args[k] only: (L(x + h v) - L(x - h v)) / 2h, one number per direction (float64)."""
    calls = [(*args[:k], args[k] + step * v, *args[k + 1:]) for v in directions for step in (h, -h)]
    if hasattr(forward, "call_many"):                     # a student's function in grading: one request for all
        outs = forward.call_many([(c, {}) for c in calls], select=0)
    else:
        outs = [forward(*c)[0] for c in calls]
    outs = [np.asarray(o, dtype=float) for o in outs]
    return np.array([np.sum((outs[2 * j] - outs[2 * j + 1]) * dout) / (2 * h) for j in range(len(directions))])


def check_gradients(fn_name, forward, backward, args, names, dout, tol=1e-6, seed=None):
    """Check a student's backward pass against centred differences of the student's forward.

    forward(*args) -> (out, ..., cache); backward(dout, cache) -> one gradient per argument.
    For each float64 array argument x the gradient g = dL/dx (L = sum(out * dout)) must agree with
    the centred differences of L along a few random directions v: <g, v> = (L(x + hv) - L(x - hv)) / 2h.
    A wrong entry of g changes <g, v> for almost every v, so this checks all of g with a handful of
    forward calls instead of two per entry. Raises AssertionError naming the wrong gradients.
    """
    __tracebackhide__ = True
    outputs = call_student(forward, *args, name=fn_name.replace("backward", "forward"))
    grads = call_student(backward, dout, outputs[-1], name=fn_name)
    if not isinstance(grads, tuple) or len(grads) != len(args):
        raise AssertionError(f"{fn_name} must return a tuple of {len(args)} gradients ({', '.join(names)})")
    wrong, right = [], []
    for k, (name, arg) in enumerate(zip(names, args)):
        if not (isinstance(arg, np.ndarray) and arg.dtype == np.float64):
            continue
        grad = np.asarray(grads[k], dtype=float)
        if grad.shape != arg.shape:
            wrong.append(f"d{name} has shape {grad.shape}, expected {arg.shape}")
            continue
        directions = np.random.default_rng(k).standard_normal((DIRECTIONS, *arg.shape))
        numeric = directional_derivatives(forward, args, k, dout, directions)
        analytic = np.array([np.sum(grad * v) for v in directions])
        if rel_error(numeric, analytic) > tol:
            wrong.append(f"d{name} disagrees with the numerical gradient (relative error {rel_error(numeric, analytic):.1e})")
        else:
            right.append(f"d{name}")
    if wrong:
        tail = f"; {_describe(right)} match" if right else ""
        again = f" [inputs seeded with {seed}]" if seed is not None else ""
        raise AssertionError(f"{fn_name}: {'; '.join(wrong)}{tail}{again}")
