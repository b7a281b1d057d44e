"""Fixtures shared by the tests (plain helpers live in *_helpers.py and the folders' own helper modules)."""
import os
import sys

import numpy as np
import pytest

# Tests run nbgrader's own commands (nbgrader, alembic) in subprocesses, as an instructor does from this environment.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

SEEDS = [0, 1, 2]


@pytest.fixture(params=SEEDS)
def rng(request):
    """A generator for each of several seeds: every test that takes rng runs once per seed."""
    return np.random.default_rng(request.param)
