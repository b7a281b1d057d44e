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

Partial credit: a test that checks several independent things gives each its share of the cell's
points with `parts()`:

    with parts() as part:
        with part("values", 5):
            ...checks...
        with part("stable for large |x|", 3):
            ...checks...

A failing part does not stop the others. At the end of the block the cell fails, naming every part
and whether it passed, unless all passed; in grading, the cell then scores its points times the
weight of the parts that passed over the total (nbgrader's partial credit), and the feedback lists them.

One function's test must not cost the points of another's: a backward test judges the backward
against the reference's gradients when grading (`check_gradients(..., expected=...)`), so a wrong
forward whose cache is right costs nothing here; when a test had to use another of the student's
functions and that one is wrong, the failure says so (`uses=` of compare and check_gradients).
"""
import secrets
import warnings
from contextlib import contextmanager

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


def _differences(names, got, expected, rtol, atol):
    """([what is wrong], [names that match]) of outputs compared one by one with the expected ones."""
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
        elif not np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):   # nan matches only an expected nan
            wrong.append(f"{name} differs from the reference (max abs diff {np.max(np.abs(g - e)):.1e})")
        else:
            right.append(name)
    return wrong, right


def _as_tuple(value, count):
    if isinstance(value, list) and count > 1:
        return tuple(value)                               # several outputs returned as a list: fine
    return value if isinstance(value, tuple) else (value,)


def _seeded(seed):
    return f" [inputs seeded with {seed}]" if seed is not None else ""


def used_wrong(uses, rtol=1e-6, atol=1e-9):
    """Notes on other functions of the student's that this test relies on and that are wrong themselves.

    uses: {function name: (what the student's function returned, what the reference returns)} for
    inputs the test gave it (tuples of outputs, or single outputs), or a function without arguments
    that returns that pair: it is called only here, when the test has failed, so that a function the
    student has not written (it raises) costs nothing to a test that passes. Returns "" when all are right.
    """
    __tracebackhide__ = True
    notes = []
    for name, pair in (uses or {}).items():
        try:
            got, expected = pair() if callable(pair) else pair
            wrong = not agrees(got, expected, rtol, atol)
        except Exception as exc:
            if type(exc).__name__ in FATAL:
                raise
            wrong = True
        if wrong:
            notes.append(f". Note: your {name} is wrong on these inputs, and this test relies on it: "
                         f"fix {name} first (see its own test)")
    return "".join(notes)


def agrees(got, expected, rtol=1e-6, atol=1e-9):
    """Do the outputs `got` match `expected` (tuples of arrays or numbers, or single ones), as compare judges?"""
    expected = _as_tuple(expected, 2)
    got = _as_tuple(got, len(expected))
    return len(got) == len(expected) and not _differences([""] * len(expected), got, expected, rtol, atol)[0]


def compare(fn_name, got, expected, names, rtol=1e-6, atol=1e-9, seed=None, uses=None):
    """Compare the outputs of a student function with the reference, output by output.

    got, expected: tuples of outputs (arrays or numbers); names: one name per output.
    uses: {name: (got, expected) or a function returning it} of other student functions the test relied on
    (see used_wrong).
    Raises AssertionError naming every wrong output and every right one.
    """
    __tracebackhide__ = True
    got = _as_tuple(got, len(names))
    if len(got) != len(expected):
        raise AssertionError(f"{fn_name} returned {len(got)} values; expected {len(expected)} "
                             f"({', '.join(names)})")
    wrong, right = _differences(names, got, expected, rtol, atol)
    if wrong:
        tail = f"; {_describe(right)} match" if right else ""
        raise AssertionError(f"{fn_name}: {'; '.join(wrong)}{tail}{_seeded(seed)}{used_wrong(uses, rtol, atol)}")


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


def _numeric_differences(forward, args, names, grads, dout, tol):
    """([what disagrees], [what agrees]) of the gradients against centred differences of `forward`."""
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
        error = rel_error(numeric, analytic)
        if not error <= tol:
            wrong.append(f"d{name} disagrees with the numerical gradient (relative error {error:.1e})")
        else:
            right.append(f"d{name}")
    return wrong, right


def check_gradients(fn_name, forward, backward, args, names, dout, tol=1e-6, seed=None, expected=None,
                    forward_expected=None, forward_name=None, uses=None):
    """Check a student's backward pass: against centred differences of the student's forward, or
    (`expected`, in grading) against the reference's gradients.

    forward(*args) -> (out, ..., cache); backward(dout, cache) -> one gradient per argument.
    Without `expected`, for each float64 array argument x the gradient g = dL/dx (L = sum(out * dout))
    must agree with the centred differences of L along a few random directions v:
    <g, v> = (L(x + hv) - L(x - hv)) / 2h. A wrong entry of g changes <g, v> for almost every v, so
    this checks all of g with a handful of forward calls instead of two per entry.
    expected: the reference's gradients for these args and dout (one per argument). The backward,
    given the student's own cache, must then return them: a forward whose outputs are wrong but whose
    cache is right costs nothing here. The numerical check only adds to the message: whether the
    backward is the gradient of the student's forward, and (forward_expected: the reference forward's
    first output) whether the forward is the culprit; uses: other functions the backward relies on
    (as for compare).
    Raises AssertionError naming the wrong gradients.
    """
    __tracebackhide__ = True
    forward_name = forward_name or fn_name.replace("backward", "forward")
    outputs = call_student(forward, *args, name=forward_name)
    grads = call_student(backward, dout, outputs[-1], name=fn_name)
    if isinstance(grads, list):
        grads = tuple(grads)
    if not isinstance(grads, tuple) or len(grads) != len(args):
        raise AssertionError(f"{fn_name} must return a tuple of {len(args)} gradients ({', '.join(names)})")
    if expected is None:
        wrong, right = _numeric_differences(forward, args, names, grads, dout, tol)
        if wrong:
            tail = f"; {_describe(right)} match" if right else ""
            raise AssertionError(f"{fn_name}: {'; '.join(wrong)}{tail} (the numerical gradient is that of your "
                                 f"{forward_name}: if {forward_name} is wrong, fix it first){_seeded(seed)}")
        return
    graded = [k for k, arg in enumerate(args) if isinstance(arg, np.ndarray) and arg.dtype == np.float64]
    wrong, right = _differences([f"d{names[k]}" for k in graded], [grads[k] for k in graded],
                                [expected[k] for k in graded], 1e-6, 1e-9)
    if not wrong:
        return
    tail = f"; {_describe(right)} match" if right else ""
    note = ""
    if forward_expected is not None:
        note = used_wrong({forward_name: (outputs[0], forward_expected)})
        if note:
            note += f"; {fn_name} was given its cache"
            try:
                if not _numeric_differences(forward, args, names, grads, dout, tol)[0]:
                    note += f", and your {fn_name} is the gradient of your {forward_name}"
            except Exception:                             # the forward cannot even be differentiated: say nothing
                pass
    raise AssertionError(f"{fn_name}: {'; '.join(wrong)}{tail}{_seeded(seed)}{note}{used_wrong(uses)}")


# --- partial credit -------------------------------------------------------------------------------------
FATAL = ("KernelGone", "CallTimeout")       # the grader's own: a dead or stuck kernel ends the test, not a part


class PartsFailed(AssertionError):
    """Not every part of a test passed. `parts`: (name, weight, passed, message) of every part, in order."""

    def __init__(self, message, parts):
        super().__init__(message)
        self.parts = parts


def _failure_text(exc):
    message = str(exc).strip()
    if isinstance(exc, AssertionError) or getattr(exc, "from_student", False):
        return message or f"{type(exc).__name__} (a check failed)"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def describe_parts(parts):
    """One line per part: ✔ or ✘, its name, its weight and, for a failed one, why."""
    total = sum(w for _, w, _, _ in parts)
    earned = sum(w for _, w, ok, _ in parts if ok)
    lines = [f"parts passed: {sum(ok for _, _, ok, _ in parts)} of {len(parts)} (weight {earned:g} of {total:g})"]
    for name, weight, ok, message in parts:
        lines.append(f"{'✔' if ok else '✘'} {name} ({weight:g})" + ("" if ok else f": {message}"))
    return "\n".join(lines)


class _Parts:
    """The `part` of a `with parts() as part:` block."""

    def __init__(self):
        self.results = []
        self.first_error = None             # the exception of the first failed part (its traceback shows where)
        self.not_written = 0                # parts that failed with NotImplementedError (the stub of the release)

    @contextmanager
    def __call__(self, name, weight=1):
        if weight <= 0:
            raise ValueError(f"part {name!r}: the weight must be positive, got {weight}")
        if any(name == known for known, _, _, _ in self.results):
            raise ValueError(f"two parts are named {name!r}")
        try:
            yield
        except Exception as exc:
            if type(exc).__name__ in FATAL:
                raise
            self.results.append((name, weight, False, _failure_text(exc)))
            self.first_error = self.first_error or exc
            self.not_written += isinstance(exc, NotImplementedError)
        else:
            self.results.append((name, weight, True, ""))


@contextmanager
def parts():
    """Independent sub-checks of one test, each worth its weight (see the module docstring)."""
    __tracebackhide__ = True
    collected = _Parts()
    yield collected
    if not collected.results:
        return
    summary = describe_parts(collected.results)
    if all(ok for _, _, ok, _ in collected.results):
        print(summary)
        return
    if collected.not_written == len(collected.results):   # nothing written yet: say just that, as any other test
        raise collected.first_error
    raise PartsFailed(summary, list(collected.results)) from collected.first_error
