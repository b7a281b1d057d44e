"""Wrong implementations of a graded function, made from the right one (for `python -m autograder audit`).

The audit puts them into otherwise perfect submissions and grades those with the real grader: a test
that gives full points to one of them has a hole. Each is a wrapper around the reference answer that
distorts what it returns, or what it is given:

    zeros       every value 0                       mean        every array filled with its own mean
    echo        the first input array, resized      scramble    transposed and reshaped back (or reversed)
    lookup      the values the visible tests expect, for their inputs (row by row in a batch); 0 elsewhere
    first-call  the right answer on the first call only, zeros after
    perturb, negate, scale, nan   one output changed a little, its sign flipped, doubled, NaN
    shift       every output changed (the cascade check: does another function's test notice?)
    ignore      one argument ignored: a mask is all True, an optional argument is None
    code        the reference's code with one change (autograder.audit writes it: an axis moved)

What a function returns is a tree of tuples, lists and dicts whose leaves are arrays and numbers
("values"). The last element of what a `*_forward` function returns is its cache; no mutant
touches it: a wrong forward is one whose outputs are wrong, and the test of its backward must not
depend on them.

numpy and the standard library only: a mutant submission carries this module's source in a cell of its own
(`autograder.course.audit.mutants_cell`), since the sandboxed kernel sees no grader code but kernel/ and testing.py.
"""
import base64
import io
import json

import numpy as np

OUTPUT_KINDS = ("zeros", "mean", "echo", "scramble", "lookup", "first-call")
LEAF_KINDS = ("perturb", "negate", "scale", "nan")


# --- values: the leaves of what a function returns ------------------------------------------------------
def _is_leaf(value):
    return isinstance(value, (bool, int, float, np.ndarray, np.generic)) and not (
        isinstance(value, np.ndarray) and value.dtype == object)


def leaves(value):
    """The values of a tree of tuples, lists and dicts, depth first (dicts in their own order)."""
    if _is_leaf(value):
        return [value]
    if isinstance(value, (tuple, list)):
        return [leaf for item in value for leaf in leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    return []


def rebuild(value, new):
    """`value` with its leaves replaced, in order, by the items of the iterator `new`."""
    if _is_leaf(value):
        return next(new)
    if isinstance(value, tuple):
        return tuple(rebuild(item, new) for item in value)
    if isinstance(value, list):
        return [rebuild(item, new) for item in value]
    if isinstance(value, dict):
        return {key: rebuild(item, new) for key, item in value.items()}
    return value


def split_cache(out, forward):
    """(values, cache): a forward's cache is the last element of the tuple it returns."""
    if forward and isinstance(out, tuple) and len(out) >= 2:
        return out[:-1], (out[-1],)
    return out, ()


def join_cache(values, cache):
    return values + cache if cache else values


# --- one leaf, distorted ----------------------------------------------------------------------------------
def _first_array(args):
    for leaf in leaves(list(args)):
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f" and leaf.size:
            return leaf
    return None


def _cast(x, like):
    """x with the type (Python number, numpy scalar or array) and dtype of `like`."""
    if isinstance(like, bool):
        return bool(np.asarray(x).flat[0]) if np.size(x) else False
    if isinstance(like, (int, float)):
        return type(like)(np.asarray(x).flat[0]) if np.size(x) else type(like)(0)
    return np.asarray(x).astype(np.asarray(like).dtype).reshape(np.shape(like))


def distort(kind, x, args=()):
    """One value changed by `kind` (a new object; x itself is never changed)."""
    a = np.array(x)                                  # a copy
    if a.dtype == bool:
        if kind == "zeros":
            return _cast(np.zeros_like(a), x)
        if kind == "mean":
            return _cast(np.full_like(a, a.mean() >= 0.5 if a.size else False), x)
        if kind in ("scramble",):
            return _cast(_scramble(a), x)
        return _cast(~a, x)                          # perturb, negate, scale, nan, shift: every entry flipped
    integer = a.dtype.kind in "iu"
    if kind == "zeros":
        new = np.zeros_like(a)
    elif kind == "mean":
        new = np.full_like(a, np.round(a.mean()) if integer else a.mean()) if a.size else a
    elif kind == "echo":
        source = _first_array(args)
        new = np.resize(source, a.shape) if source is not None else np.zeros_like(a)
        new = np.round(new) if integer else new
    elif kind == "scramble":
        new = _scramble(a)
    elif kind == "perturb":
        new = a + 1 if integer else a + 1e-3 * (np.abs(a) + 0.1)
    elif kind == "negate":
        new = -a
    elif kind == "scale":
        new = 2 * a if not integer else 2 * a + 1
    elif kind == "nan":
        new = np.full_like(a, -1) if integer else np.full_like(a, np.nan)
    elif kind == "shift":
        new = a + 1 if integer else 1.5 * a + 0.25
    else:
        raise ValueError(f"unknown kind of wrong value: {kind}")
    return _cast(new, x)


def _scramble(a):
    """Same shape, same entries, another arrangement: the last two axes swapped (transposed, then reshaped
    back), or, when one of them has length 1, the entries in reverse order."""
    if a.ndim >= 2 and a.shape[-1] > 1 and a.shape[-2] > 1:
        return np.swapaxes(a, -1, -2).reshape(a.shape).copy()
    return a.ravel()[::-1].reshape(a.shape).copy()


# --- the table of the lookup mutant: the visible tests' calls and the answers they expect -----------------
WILDCARD = {"any": True}                             # an argument the table does not record (a test's callback)


def pack(value):
    """A tree of plain values as text (JSON, its arrays in a base64 .npz): what a mutant cell carries."""
    arrays = []

    def encode(v):
        if isinstance(v, np.ndarray) or isinstance(v, np.generic):
            arrays.append(np.asarray(v))
            return {"array": len(arrays) - 1}
        if isinstance(v, (bool, int, float, str)) or v is None:
            return v
        if isinstance(v, tuple):
            return {"tuple": [encode(i) for i in v]}
        if isinstance(v, list):
            return [encode(i) for i in v]
        if isinstance(v, dict):
            return {"dict": [[encode(k), encode(i)] for k, i in v.items()]}
        return WILDCARD
    tree = encode(value)
    buffer = io.BytesIO()
    np.savez(buffer, *arrays)
    return json.dumps({"tree": tree, "npz": base64.b64encode(buffer.getvalue()).decode()})


def unpack(text):
    data = json.loads(text)
    with np.load(io.BytesIO(base64.b64decode(data["npz"])), allow_pickle=False) as npz:
        arrays = [npz[f"arr_{k}"] for k in range(len(npz.files))]

    def decode(v):
        if isinstance(v, list):
            return [decode(i) for i in v]
        if isinstance(v, dict):
            if "array" in v:
                return arrays[v["array"]]
            if "tuple" in v:
                return tuple(decode(i) for i in v["tuple"])
            if "dict" in v:
                return {decode(k): decode(i) for k, i in v["dict"]}
            return WILDCARD
        return v
    return decode(data["tree"])


def _equal(recorded, given):
    if recorded == WILDCARD if isinstance(recorded, dict) else False:
        return True
    if isinstance(recorded, np.ndarray) or isinstance(given, np.ndarray):
        try:
            return np.shape(recorded) == np.shape(given) and np.array_equal(recorded, given)
        except (TypeError, ValueError):
            return False
    if isinstance(recorded, (tuple, list)) and isinstance(given, (tuple, list)):
        return len(recorded) == len(given) and all(_equal(r, g) for r, g in zip(recorded, given))
    if isinstance(recorded, dict) and isinstance(given, dict):
        return set(recorded) == set(given) and all(_equal(recorded[k], given[k]) for k in recorded)
    try:
        return bool(recorded == given)
    except (TypeError, ValueError):
        return False


def _batch(args):
    """The batch size of a call: the first dimension of its first array argument (None without one)."""
    for value in args:
        if isinstance(value, np.ndarray) and value.ndim >= 1:
            return value.shape[0]
    return None


def _row_matches(recorded, given, m, n, Nr, N):
    """Does row n of the call `given` match row m of the recorded call (other arguments equal as a whole)?"""
    for r, g in zip(recorded, given):
        if (isinstance(r, np.ndarray) and isinstance(g, np.ndarray) and r.ndim >= 1 and g.ndim == r.ndim
                and r.shape[0] == Nr and g.shape[0] == N and r.shape[1:] == g.shape[1:]):
            if not np.array_equal(r[m], g[n]):
                return False
        elif not _equal(r, g):
            return False
    return True


def lookup(table, args, kwargs, reference_out, forward):
    """What the visible tests expect for this call, row by row; 0 where no visible call says."""
    values, cache = split_cache(reference_out, forward)
    for recorded_args, recorded_kwargs, recorded_values in table:
        if _equal(list(recorded_args), list(args)) and _equal(recorded_kwargs, kwargs):
            return join_cache(recorded_values, cache)
    out = [distort("zeros", leaf) for leaf in leaves(values)]
    N = _batch(args)
    if N is not None:
        for recorded_args, recorded_kwargs, recorded_values in table:
            Nr = _batch(recorded_args)
            if Nr is None or len(recorded_args) != len(args) or not _equal(recorded_kwargs, kwargs):
                continue
            for n in range(N):
                for m in range(Nr):
                    if _row_matches(recorded_args, args, m, n, Nr, N):
                        for k, (mine, theirs) in enumerate(zip(out, leaves(recorded_values))):
                            if (isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray) and mine.ndim >= 1
                                    and mine.shape[0] == N and theirs.shape[0] == Nr and mine.shape[1:] == theirs.shape[1:]):
                                mine[n] = theirs[m]
                        break
    return join_cache(rebuild(values, iter(out)), cache)


# --- the wrong functions ----------------------------------------------------------------------------------
OBSERVER = None
"""The audit's in-process runs set this: observer(name, right answer, wrong answer, raised) is told of every
call and returns "right" to have the right answer returned instead (only one function is wrong at a time
there, but every call of every function is watched)."""


def wrong(reference, kind, leaf=0, forward=False, table=None, param=None, mutated=None, name=None):
    """A function that answers like `reference`, but wrong in the way `kind` says (see the module docstring).

    leaf: which value the leaf kinds change (counted modulo the number of values); forward: the last
    element of the output is a cache (kept); table: pack()ed visible calls for `lookup`; param: the
    argument `ignore` ignores; mutated: the changed code for `code` (its cache comes from the reference).
    """
    calls = []
    recorded = unpack(table) if table else []
    name = name or getattr(reference, "__name__", "answer").replace("_audit_ref_", "")
    signature = None
    if kind == "ignore":
        import inspect
        signature = inspect.signature(reference)

    def answer(*args, **kwargs):
        calls.append(1)
        observer = OBSERVER
        right = reference(*args, **kwargs) if kind not in ("ignore", "code") or forward or observer else None
        try:
            wrong_answer = _wrong(right, args, kwargs)
        except Exception:
            if observer is not None and observer(name, right, None, True) == "right":
                return right
            raise
        if observer is not None and observer(name, right, wrong_answer, False) == "right":
            return right
        return wrong_answer

    def _wrong(right, args, kwargs):
        if kind in ("ignore", "code"):
            if kind == "ignore":
                values = _ignoring(reference, signature, param, args, kwargs)
            else:
                values = mutated(*args, **kwargs)
            return join_cache(split_cache(values, forward)[0], split_cache(right, forward)[1])
        if kind == "lookup":
            return lookup(recorded, args, kwargs, right, forward)
        if kind == "first-call" and len(calls) == 1:
            return right
        values, cache = split_cache(right, forward)
        found = leaves(values)
        if not found:
            return right
        if kind in LEAF_KINDS:
            target = leaf % len(found)
            new = [distort(kind, v, args) if k == target else v for k, v in enumerate(found)]
        else:
            new = [distort("zeros" if kind == "first-call" else kind, v, args) for v in found]
        return join_cache(rebuild(values, iter(new)), cache)

    answer.__name__ = name
    answer.__doc__ = reference.__doc__
    return answer


def _ignoring(reference, signature, param, args, kwargs):
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    value = bound.arguments.get(param)
    if "mask" in param and value is not None:
        bound.arguments[param] = np.ones(np.shape(value), dtype=bool)
    else:
        bound.arguments[param] = None
    return reference(*bound.args, **bound.kwargs)


def wrong_class(reference, kind, leaf=0, table=None, param=None, name=None):
    """A subclass of `reference` whose public methods answer wrong (`wrong` for each; tables by method name)."""
    tables = json.loads(table) if table else {}
    name = name or reference.__name__.replace("_audit_ref_", "")
    methods = {}
    import inspect
    for method, plain in [(m, f) for m, f in inspect.getmembers(reference, callable) if not m.startswith("_")]:
        made = wrong(lambda obj, *a, _plain=plain, **k: _plain(obj, *a, **k), kind, leaf=leaf,
                     table=tables.get(method), param=param, name=name)   # one per method, shared by instances

        def wrapper(self, *args, _made=made, **kwargs):
            return _made(self, *args, **kwargs)
        wrapper.__name__ = method
        methods[method] = wrapper
    return type(name, (reference,), methods)


def renamed_class(reference, name):
    """`reference` under its own name again (a subclass that changes nothing)."""
    return type(name, (reference,), {})


def other_axis(axis, array):
    """A valid axis of `array` other than `axis` (the one before it), for the wrong-axis mutants."""
    first = array[0] if isinstance(array, (list, tuple)) and array else array
    ndim = np.ndim(first)
    if ndim < 2 or not isinstance(axis, (int, np.integer)):
        return axis
    return (int(axis) - 1) % ndim
