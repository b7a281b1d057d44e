"""Fixtures shared by the tests (plain helpers live in helpers.py)."""
import numpy as np
import pytest

from autograder import course

course.use_venv_tools()                   # this test process is an entry point: nbgrader starts `alembic` from PATH

SEEDS = [0, 1, 2]


@pytest.fixture(params=SEEDS)
def rng(request):
    """A generator for each of several seeds: every test that takes rng runs once per seed."""
    return np.random.default_rng(request.param)
