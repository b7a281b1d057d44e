"""Helpers for the test cells of the assignments.

Test cells call student functions through `call_student` and compare what comes back with
`compare`. Both give messages that say which output is wrong and which are right, e.g.
"lstm_backward: dWh differs from the reference (max abs diff 3.1e-01); dx, dh0, dWx, db match".

What the helpers guard against (see autograder/README.md for the threat model):
- a graded function that calls the rnncore reference, directly, through an alias, getattr, a
  partial or a copied code object: every Python frame entered during the call is checked, and a
  frame whose code lives in the rnncore package fails the test with a `[grader] reference-call`
  line that the autograder collects into report.json; an audit hook (which cannot be removed)
  notices a function that switches the watching profiler off or imports rnncore while tested;
- numpy, builtins or these helpers replaced at run time: `call_student` compares them with a
  snapshot taken when this module was imported (in the locked first cell, before any student code);
- hard-coded answers: hidden tests draw their inputs from `fresh_rng()`, seeded at grading time;
- warnings: they are caught and reported on stdout, because nbgrader fails a test cell with any stderr.
"""
import builtins
import os
import secrets
import sys
import warnings

import numpy as np

import rnncore

_RNNCORE_DIR = os.path.dirname(os.path.abspath(rnncore.__file__))
MARK = "[grader]"

# Objects a submission might replace to make tests pass; checked before every student call.
_WATCHED = {
    "numpy": (np, ["allclose", "isclose", "array_equal", "abs", "max", "asarray", "ndarray", "testing", "linalg"]),
    "numpy.testing": (np.testing, ["assert_allclose", "assert_array_equal"]),
    "builtins": (builtins, ["isinstance", "len", "abs", "max", "min", "print", "AssertionError", "getattr",
                            "setattr", "type", "__import__", "round", "float", "tuple", "zip", "all", "any"]),
    "sys": (sys, ["setprofile", "getprofile", "settrace", "modules"]),
}
_SNAPSHOT = {(mod, attr): getattr(obj, attr) for mod, (obj, attrs) in _WATCHED.items() for attr in attrs}


class ReferenceCallError(AssertionError):
    """A graded function called into the rnncore reference package."""


class TamperingError(AssertionError):
    """numpy, builtins or the test helpers were replaced at run time."""


def report(kind, detail):
    """Print a line the autograder collects into report.json."""
    print(f"{MARK} {kind}: {detail}", flush=True)


def fresh_rng():
    """A generator seeded at grading time, and its seed (printed on failure to reproduce a case)."""
    seed = secrets.randbelow(2 ** 32)
    return np.random.default_rng(seed), seed


def check_environment():
    """Raise TamperingError if numpy, builtins, sys hooks or these helpers were replaced."""
    changed = [f"{mod}.{attr}" for (mod, attr), orig in _SNAPSHOT.items()
               if getattr(_WATCHED[mod][0], attr, None) is not orig]
    this = sys.modules.get(__name__)
    for name in ("call_student", "compare", "check_environment", "check_gradients", "fresh_rng"):
        if this is None or getattr(this, name, None) is not _OWN[name]:
            changed.append(f"{__name__}.{name}")
    if changed:
        report("tampering", ", ".join(changed))
        raise TamperingError(f"these were replaced at run time: {', '.join(changed)}; "
                             "tests cannot trust them, so this test scores no points")


def _is_reference(code):
    return os.path.abspath(code.co_filename).startswith(_RNNCORE_DIR + os.sep)


def _install_audit_hook():
    """An audit hook (it cannot be removed) that notes hook swaps and reference imports during student calls.

    Returns (start, stop): start() begins a watch; stop() ends it and returns what was seen.
    """
    watching, seen = [False], []

    def hook(event, args):
        if not watching[0]:
            return
        if event in ("sys.setprofile", "sys.settrace"):
            seen.append(f"{event}()")
        elif event == "import" and args and str(args[0]).split(".")[0] in ("rnncore", "gc", "ctypes"):
            seen.append(f"import {args[0]}")

    sys.addaudithook(hook)

    def start():
        watching[0] = True
        seen.clear()

    def stop():
        watching[0] = False
        return list(seen)
    return start, stop


_watch_start, _watch_stop = _install_audit_hook()


def call_student(fn, *args, name=None, **kwargs):
    """Call a student's function and return its result.

    Fails (no points for the test) if the call enters the rnncore reference, swaps the profiler
    that watches for it, or if the test environment was tampered with. Warnings are reported
    on stdout instead of stderr.
    """
    name = name or getattr(fn, "__name__", "the function")
    check_environment()
    if not callable(fn):
        raise AssertionError(f"{name} is not a function (got {type(fn).__name__})")
    seen = []

    def profiler(frame, event, arg):
        if event == "call" and not seen and _is_reference(frame.f_code):
            seen.append(f"{frame.f_code.co_filename.rsplit(os.sep, 1)[-1]}:{frame.f_code.co_name}")

    previous = sys.getprofile()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sys.setprofile(profiler)
        _watch_start()
        try:
            result = fn(*args, **kwargs)
        finally:
            still_watching = sys.getprofile() is profiler
            events = _watch_stop()
            sys.setprofile(previous)
    for w in caught[:3]:
        print(f"note: {name} emitted {w.category.__name__}: {w.message}")
    if seen:
        report("reference-call", f"{name} -> rnncore {seen[0]}")
        raise ReferenceCallError(f"{name} calls the rnncore reference ({seen[0]}): "
                                 "write it with numpy; this test scores no points")
    if events or not still_watching:
        what = ", ".join(events) or "the profiler was removed"
        report("tampering", f"{name} used {what}")
        raise TamperingError(f"{name} used {what} while being tested; this test scores no points")
    check_environment()
    return result


def _describe(names):
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def compare(fn_name, got, expected, names, rtol=1e-6, atol=1e-9, seed=None):
    """Compare the outputs of a student function with the reference, output by output.

    got, expected: tuples of outputs (arrays or numbers); names: one name per output.
    Raises AssertionError naming every wrong output and every right one.
    """
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


def check_gradients(fn_name, forward, backward, args, names, dout, tol=1e-6, seed=None):
    """Check a student's backward pass against centred differences of the student's forward.

    forward(*args) -> (out, ..., cache); backward(dout, cache) -> one gradient per argument.
    Only floating arguments are checked. Raises AssertionError naming the wrong gradients.
    """
    outputs = call_student(forward, *args, name=fn_name.replace("backward", "forward"))
    grads = call_student(backward, dout, outputs[-1], name=fn_name)
    if not isinstance(grads, tuple) or len(grads) != len(args):
        raise AssertionError(f"{fn_name} must return a tuple of {len(args)} gradients ({', '.join(names)})")
    wrong, right = [], []
    for k, (name, arg) in enumerate(zip(names, args)):
        if not (isinstance(arg, np.ndarray) and arg.dtype == np.float64):
            continue
        f_k = lambda v, k=k: forward(*args[:k], v, *args[k + 1:])[0]
        numeric = rnncore.numeric_gradient(f_k, arg, dout)
        grad = np.asarray(grads[k], dtype=float)
        if grad.shape != numeric.shape:
            wrong.append(f"d{name} has shape {grad.shape}, expected {numeric.shape}")
        elif rnncore.rel_error(numeric, grad) > tol:
            wrong.append(f"d{name} disagrees with the numerical gradient "
                         f"(relative error {rnncore.rel_error(numeric, grad):.1e})")
        else:
            right.append(f"d{name}")
    if wrong:
        tail = f"; {_describe(right)} match" if right else ""
        again = f" [inputs seeded with {seed}]" if seed is not None else ""
        raise AssertionError(f"{fn_name}: {'; '.join(wrong)}{tail}{again}")


_OWN = {name: globals()[name] for name in
        ("call_student", "compare", "check_environment", "check_gradients", "fresh_rng")}
