"""Fixtures shared by the rnncore tests: seeded generators and random problem sizes."""
import numpy as np
import pytest

SEEDS = [0, 1, 2]


@pytest.fixture(params=SEEDS)
def rng(request):
    """A generator for each of several seeds: every test that takes rng runs once per seed."""
    return np.random.default_rng(request.param)


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
