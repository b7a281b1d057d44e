"""What may cross between the grader and a graded kernel: plain values, as JSON.

Both sides use this module: the trusted grader (autograder.judge.remote) and the code it runs inside the
student's kernel (autograder.kernel.server). A value on the wire is JSON whose only objects are

    null, true/false, numbers, strings                   themselves
    {"t": "array", "npy": base64}                         a numpy array, as .npy bytes (never pickled)
    {"t": "scalar", "npy": base64}                        a numpy scalar (a 0-d .npy)
    {"t": "tuple" | "list", "items": [...]}
    {"t": "dict", "items": [[key, value], ...]}           string keys only
    {"t": "generator", "state": {...}}                    a numpy Generator (PCG64), by its state
    {"t": "float", "repr": "nan" | "inf" | "-inf"}
    {"t": "handle", "id": n}                              an object that stays in the kernel
    {"t": "callback", "id": n}                            a function a test offered (it stays in the grader)
    {"t": "callbacks", "methods": {name: id, ...}}        an object of named callbacks a test offered

Everything else is the business of the side that owns it: `encode` asks `opaque(value)` for the
wire form of a value that is not plain, and `opaque` either names it (a kernel object becomes a
handle; a test's explicit `callback(...)` becomes a callback) or raises WireError. Decoding is
strict: an unknown shape, an object array, a non-string key, too deep a nesting, too many items or
too many bytes is a WireError. `Budget` bounds one value in both directions.
"""
import base64
import io
import math

import numpy as np

MAX_DEPTH = 32
MAX_ITEMS = 200_000            # numbers, strings, arrays and containers in one value
MAX_BYTES = 256 * 2 ** 20      # array and string bytes in one value
ARRAY_KINDS = "biufcU"         # bool, integers, floats, complex, str: never object or raw bytes


class WireError(ValueError):
    """A value that may not cross the boundary (or a malformed message)."""


class Budget:
    """What one value may still hold: items and bytes (the depth is checked on the way down)."""

    def __init__(self, items=MAX_ITEMS, nbytes=MAX_BYTES):
        self.items, self.bytes = items, nbytes

    def take(self, nbytes=0):
        self.items -= 1
        self.bytes -= nbytes
        if self.items < 0:
            raise WireError(f"the value holds more than {MAX_ITEMS} items")
        if self.bytes < 0:
            raise WireError(f"the value holds more than {MAX_BYTES // 2 ** 20} MB")


def encode(value, opaque, depth=0, budget=None):
    """Plain JSON for `value`; a value that is not plain becomes opaque(value) (which may raise WireError)."""
    budget = budget or Budget()
    if depth > MAX_DEPTH:
        raise WireError("the value is nested too deeply")
    if value is None or isinstance(value, bool):
        budget.take()
        return value
    if type(value) is str:
        budget.take(len(value))
        return value
    if type(value) is int:
        budget.take()
        return value
    if type(value) is float:
        budget.take()
        return value if math.isfinite(value) else {"t": "float", "repr": repr(value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS:
        budget.take(value.nbytes)
        return {"t": "array", "npy": _npy(value)}
    if isinstance(value, np.generic) and np.asarray(value).dtype.kind in ARRAY_KINDS:
        budget.take(value.nbytes)
        return {"t": "scalar", "npy": _npy(np.asarray(value))}
    if type(value) in (tuple, list):
        budget.take()
        return {"t": type(value).__name__, "items": [encode(v, opaque, depth + 1, budget) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        budget.take()
        return {"t": "dict", "items": [[k, encode(v, opaque, depth + 1, budget)] for k, v in value.items()]}
    if type(value) is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
        budget.take()
        return {"t": "generator", "state": value.bit_generator.state}
    budget.take()
    return opaque(value)                                  # may raise: then nothing of the value is sent


def decode(data, resolve, depth=0, budget=None):
    """The value for wire data; resolve(data) gives the object behind a handle, callback or callbacks
    (and raises WireError for what the receiving side does not accept)."""
    budget = budget or Budget()
    if depth > MAX_DEPTH:
        raise WireError("the value is nested too deeply")
    if data is None or isinstance(data, (bool, int, float)):
        budget.take()
        return data
    if type(data) is str:
        budget.take(len(data))
        return data
    if type(data) is not dict:
        raise WireError(f"unexpected {type(data).__name__} on the wire")
    budget.take()
    kind = data.get("t")
    if kind == "array":
        return _array(data.get("npy"), budget)
    if kind == "scalar":
        return _array(data.get("npy"), budget)[()]
    if kind in ("tuple", "list"):
        items = [decode(v, resolve, depth + 1, budget) for v in _list(data.get("items"))]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        pairs = _list(data.get("items"))
        if not all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in pairs):
            raise WireError("a dict on the wire must be a list of [string key, value] pairs")
        return {k: decode(v, resolve, depth + 1, budget) for k, v in pairs}
    if kind == "float":
        if data.get("repr") not in ("nan", "inf", "-inf"):
            raise WireError("unknown special float")
        return float(data["repr"])
    if kind == "generator":
        generator = np.random.Generator(np.random.PCG64())
        try:
            generator.bit_generator.state = data.get("state")
        except (TypeError, ValueError, KeyError) as exc:
            raise WireError(f"not a PCG64 state: {exc}") from None
        return generator
    if kind in ("handle", "callback") and type(data.get("id")) is int:
        return resolve(data)
    if kind == "callbacks" and type(data.get("methods")) is dict and all(
            type(k) is str and k.isidentifier() and not k.startswith("_") and type(v) is int
            for k, v in data["methods"].items()):
        return resolve(data)
    raise WireError(f"unknown value kind {str(kind)[:40]!r} on the wire")


def refuse(value):
    """An `opaque` for values that must be plain: every value that is not is refused."""
    raise WireError(f"a {type(value).__name__} is not a plain value (numbers, strings, arrays, "
                    "tuples, lists and dicts of them)")


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _array(text, budget):
    if type(text) is not str:
        raise WireError("an array on the wire must be base64 .npy text")
    budget.take(len(text) * 3 // 4)
    try:
        array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise WireError(f"not a plain .npy array ({str(exc)[:120]})") from None
    if array.dtype.kind not in ARRAY_KINDS:
        raise WireError(f"arrays of dtype {array.dtype} cannot be graded")
    return array


def _list(items):
    if type(items) is not list:
        raise WireError("expected a list on the wire")
    return items
