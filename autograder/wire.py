"""What may cross between the grader and a graded kernel: plain values, as JSON.

Both sides use this module: the trusted grader (autograder.remote) and the code it runs inside the
student's kernel (autograder.kernel_server). A value on the wire is JSON whose only objects are

    null, true/false, numbers, strings                   themselves
    {"t": "array", "npy": base64}                         a numpy array, as .npy bytes (never pickled)
    {"t": "scalar", "npy": base64}                        a numpy scalar (a 0-d .npy)
    {"t": "tuple" | "list", "items": [...]}
    {"t": "dict", "items": [[key, value], ...]}           string keys only
    {"t": "generator", "state": {...}}                    a numpy Generator (PCG64), by its state
    {"t": "float", "repr": "nan" | "inf" | "-inf"}
    {"t": "handle", "id": n}                              an object that stays in the kernel
    {"t": "callback", "id": n}                            an object that stays in the grader

Anything else is turned into a handle by the side that owns it (`opaque(value) -> id`), so a
function's `cache` stays in the kernel and a test's lambda stays in the grader. Decoding is strict:
an unknown shape, an object array, a non-string key or too deep a nesting is a WireError.
"""
import base64
import io
import math

import numpy as np

MAX_DEPTH = 32
ARRAY_KINDS = "biufcU"        # bool, integers, floats, complex, str: never object or raw bytes


class WireError(ValueError):
    """A value that may not cross the boundary (or a malformed message)."""


def encode(value, opaque, depth=0):
    """Plain JSON for `value`; values that are not plain become {"t": kind, "id": opaque(value)}.

    opaque(value) -> (kind, id), kind being "handle" or "callback" depending on the side.
    """
    if depth > MAX_DEPTH:
        raise WireError("the value is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if type(value) is int:
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"t": "float", "repr": repr(value)}
    if isinstance(value, np.ndarray) and value.dtype.kind in ARRAY_KINDS:
        return {"t": "array", "npy": _npy(value)}
    if isinstance(value, np.generic) and np.asarray(value).dtype.kind in ARRAY_KINDS:
        return {"t": "scalar", "npy": _npy(np.asarray(value))}
    if type(value) in (tuple, list):
        return {"t": type(value).__name__, "items": [encode(v, opaque, depth + 1) for v in value]}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"t": "dict", "items": [[k, encode(v, opaque, depth + 1)] for k, v in value.items()]}
    if type(value) is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
        return {"t": "generator", "state": value.bit_generator.state}
    kind, ident = opaque(value)
    return {"t": kind, "id": ident}


def decode(data, resolve, depth=0):
    """The value for wire data; resolve(kind, id) gives the object behind a handle or callback."""
    if depth > MAX_DEPTH:
        raise WireError("the value is nested too deeply")
    if data is None or isinstance(data, (bool, str, int)):
        return data
    if type(data) is float:
        return data
    if type(data) is not dict:
        raise WireError(f"unexpected {type(data).__name__} on the wire")
    kind = data.get("t")
    if kind == "array":
        return _array(data.get("npy"))
    if kind == "scalar":
        return _array(data.get("npy"))[()]
    if kind in ("tuple", "list"):
        items = [decode(v, resolve, depth + 1) for v in _list(data.get("items"))]
        return tuple(items) if kind == "tuple" else items
    if kind == "dict":
        pairs = _list(data.get("items"))
        if not all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in pairs):
            raise WireError("a dict on the wire must be a list of [string key, value] pairs")
        return {k: decode(v, resolve, depth + 1) for k, v in pairs}
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
        return resolve(kind, data["id"])
    raise WireError(f"unknown value kind {kind!r} on the wire")


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _array(text):
    if type(text) is not str:
        raise WireError("an array on the wire must be base64 .npy text")
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
