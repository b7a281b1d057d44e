"""The grader's side door into a graded kernel: call the student's functions on the grader's inputs.

This module runs INSIDE the sandboxed kernel, which the student controls completely, so nothing it
does is trusted: it only carries values. For each test cell the grader (autograder.judge.remote) starts one
session, an execute_request of `serve()`, and then talks to it through the kernel's stdin channel:
every prompt the kernel sends is a message {"kind": "reply" | "callback", ...}, every answer the
grader types in is the next request:

    {"op": "lookup", "names": [...]}                   what these names are in the notebook
    {"op": "call", "target": id, "args": [...], "kwargs": {...}, "errstate": {...}}
    {"op": "call_many", "target": id, "calls": [[args, kwargs], ...], "select": k, "errstate": {...}}
    {"op": "getattr", "target": id, "name": "..."}
    {"op": "stop"}                                     end of the test cell: every handle is dropped

Values are encoded with autograder.kernel.wire. Objects the grader cannot receive (a `cache`, a class, a
function) stay here as handles. The only things of the grader's that reach this side are the
functions a test offers explicitly (`autograder.testing.callback`, `callback_object`): calling one
sends a "callback" prompt with plain arguments, and the grader answers with a plain value or an
error. They have no attributes. After a call, every argument the function changed in place is
reported, so that the grader can fail a function that changes its inputs.
"""
import builtins
import io
import json
import sys
import traceback
import warnings
from contextlib import redirect_stdout

import numpy as np

from . import wire

MAX_NOTES = 3
MAX_PRINTED = 2000

_objects = {}             # handle id -> object of the notebook
_ids = {}                 # id(object) -> handle id, so one object keeps one handle
_ask = builtins.input     # the kernel's input(): a prompt to the grader on the stdin channel, its answer back


class Callback:
    """A function a test offered to the student's code; calling it asks the grader (plain values only)."""

    __slots__ = ("_ident",)

    def __init__(self, ident):
        self._ident = ident

    def __call__(self, *args, **kwargs):
        return _ask_grader({"op": "call", "target": self._ident,
                            "args": _encode(list(args)), "kwargs": _encode(kwargs)})

    def __repr__(self):
        return f"<function of the test #{self._ident}>"


class CallbackObject:
    """An object a test offered: its named methods are callbacks, and it has nothing else."""

    __slots__ = ("_methods",)

    def __init__(self, methods):
        self._methods = {name: Callback(ident) for name, ident in methods.items()}

    def __getattr__(self, name):
        if name.startswith("_") or name not in self._methods:
            raise AttributeError(f"the test's object offers only {', '.join(sorted(self._methods))}")
        return self._methods[name]

    def __repr__(self):
        return f"<object of the test with {', '.join(sorted(self._methods))}>"


def _ask_grader(request):
    answer = json.loads(_ask(json.dumps({"kind": "callback", **request})))
    if not answer.get("ok"):
        error = answer.get("error", {})
        kind = getattr(builtins, str(error.get("type")), RuntimeError)
        if not (isinstance(kind, type) and issubclass(kind, Exception)):
            kind = RuntimeError
        raise kind(error.get("message", ""))
    return _decode(answer["value"])


def _opaque(value):
    if type(value) is Callback:                     # the grader's own function, going back
        return {"t": "callback", "id": value._ident}
    if type(value) is CallbackObject:
        return {"t": "callbacks", "methods": {name: c._ident for name, c in value._methods.items()}}
    if id(value) not in _ids:
        _ids[id(value)] = len(_objects) + 1
        _objects[len(_objects) + 1] = value
    return {"t": "handle", "id": _ids[id(value)]}


def _resolve(data):
    if data["t"] == "callback":
        return Callback(data["id"])
    if data["t"] == "callbacks":
        return CallbackObject(data["methods"])
    if data["id"] not in _objects:
        raise wire.WireError(f"no object #{data['id']} in the kernel")
    return _objects[data["id"]]


def _encode(value):
    return wire.encode(value, _opaque)


def _decode(data):
    return wire.decode(data, _resolve)


def _where(exc):
    """file:line of the innermost frame of the student's code in a traceback."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return f"line {frames[-1].lineno} in {frames[-1].name}" if frames else ""


def _call(fn, args, kwargs, errstate):
    """Call fn; return (result, printed text, warning notes); exceptions propagate."""
    printed = io.StringIO()
    with warnings.catch_warnings(record=True) as caught, np.errstate(**errstate), redirect_stdout(printed):
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    notes = [f"{w.category.__name__}: {w.message}" for w in caught[:MAX_NOTES]]
    return result, printed.getvalue()[:MAX_PRINTED], notes


def _changed_in_place(wire_args, args):
    """The names (positions or keywords) of the arguments whose content the call changed.

    A numpy Generator is meant to advance when it is used: it is not an in-place change.
    """
    return [key for key, before in wire_args
            if not (isinstance(before, dict) and before.get("t") == "generator") and _encode(args[key]) != before]


def handle(request):
    op = request.get("op")
    if op == "lookup":
        found = {name: _encode(sys.modules["__main__"].__dict__[name]) for name in request["names"]
                 if name in sys.modules["__main__"].__dict__}
        return {"ok": True, "found": found}
    target = _resolve({"t": "handle", "id": request["target"]})
    if op == "getattr":
        return {"ok": True, "value": _encode(getattr(target, request["name"]))}
    errstate = {k: v for k, v in request.get("errstate", {}).items() if k in ("over", "under", "divide", "invalid")}
    if op == "call_many":
        results, notes = [], []
        for args, kwargs in request["calls"]:
            result, _, more = _call(target, _decode(args), _decode(kwargs), errstate)
            results.append(result[request["select"]] if request.get("select") is not None else result)
            notes += more
        return {"ok": True, "value": _encode(results), "notes": notes[:MAX_NOTES]}
    args, kwargs = _decode(request["args"]), _decode(request["kwargs"])
    positional = [(k, v) for k, v in enumerate(request["args"]["items"])]
    named = [(k, v) for k, v in request["kwargs"]["items"]]
    result, printed, notes = _call(target, args, kwargs, errstate)
    return {"ok": True, "value": _encode(result), "printed": printed, "notes": notes,
            "changed": _changed_in_place(positional, args) + _changed_in_place(named, kwargs)}


def _answer(request):
    """The reply to one request; the student's exceptions (and interrupts) become error replies."""
    try:
        return handle(request)
    except BaseException as exc:
        return {"ok": False, "error": {"type": type(exc).__name__, "message": str(exc)[:MAX_PRINTED],
                                       "where": _where(exc)}}


def serve():
    """One session of the grader (a test cell): answer requests until it says stop."""
    answer = {"ok": True, "ready": True}
    try:
        while True:
            try:
                prompt = json.dumps({"kind": "reply", **answer})
            except (TypeError, ValueError) as exc:
                prompt = json.dumps({"kind": "reply", "ok": False,
                                     "error": {"type": "WireError", "message": str(exc)[:300], "where": ""}})
            request = json.loads(_ask(prompt))
            if request.get("op") == "stop":
                return
            answer = _answer(request)
    finally:
        _objects.clear()
        _ids.clear()
