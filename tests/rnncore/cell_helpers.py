"""Helpers shared by the rnncore tests: random problem sizes and arguments, the cells of the registry."""
import numpy as np

import rnncore as rc

# Every recurrent cell variant the tests run: (id, Cell, forward options). The GRU twice, one per reset_after.
CELL_VARIANTS = [(name, cell, {}) for name, cell in rc.RECURRENT_CELLS.items() if not cell.options]
CELL_VARIANTS += [(f"{name}_reset_after" if after else name, cell, {"reset_after": after})
                  for name, cell in rc.RECURRENT_CELLS.items() if "reset_after" in cell.options for after in (False, True)]
CELL_IDS = [v[0] for v in CELL_VARIANTS]


def random_sizes(rng):
    """Small random sizes N, T, D, H (different per seed, small enough for finite differences)."""
    return tuple(int(v) for v in rng.integers(2, 5, size=4))


def cell_args(rng, gates, N, T, D, H, scale=0.5):
    """Random float64 arguments (x, h0, Wx, Wh, b) of a recurrent layer with `gates` blocks."""
    return (rng.standard_normal((N, T, D)),
            rng.standard_normal((N, H)),
            rng.standard_normal((D, gates * H)) * scale,
            rng.standard_normal((H, gates * H)) * scale,
            rng.standard_normal(gates * H) * scale)


def arrays_in(value):
    """Every numpy array inside value (an array, or nested tuples, lists and dicts of them)."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in arrays_in(v)]
    return []


def scribble(value):
    """Change every array inside value in place, as a careless caller might (h *= 0, dropout in place, ...)."""
    for a in arrays_in(value):
        a *= -3.0
        a += 7.0


def assert_same_arrays(got, want):
    """The arrays inside got and want are equal, bit for bit, in the same structure."""
    got, want = arrays_in(got), arrays_in(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
