"""The cell registry: one description per cell, consistent with the functions it names."""
import inspect

import numpy as np
import pytest

import rnncore as rc
from cell_helpers import cell_args

NAMES = list(rc.RECURRENT_CELLS)


@pytest.mark.parametrize("name", NAMES)
def test_each_cell_is_described_consistently(name):
    """Do the gate count, the cell-state flag and the named functions agree with what the functions do?"""
    cell = rc.get_cell(name)
    assert cell.name == name
    assert cell.forward is getattr(rc, f"{name}_forward") and cell.backward is getattr(rc, f"{name}_backward")
    assert cell.step_forward is getattr(rc, f"{name}_step_forward")
    x, h0, Wx, Wh, b = cell_args(np.random.default_rng(0), cell.gates, 2, 3, 4, 5)
    h, cache = cell.forward(x, h0, Wx, Wh, b)                     # G*H columns are what the forward accepts
    assert h.shape == (2, 3, 5)
    with pytest.raises(ValueError, match="Wx must have shape"):
        cell.forward(x, h0, Wx[:, :-5], Wh, b)
    assert ("prev_c" in inspect.signature(cell.step_forward).parameters) == cell.has_cell_state
    assert (cell.state_forward is not None) == cell.has_cell_state == (cell.forget_block is not None)
    assert set(cell.options) == set(inspect.signature(cell.forward).parameters) - {"x", "h0", "Wx", "Wh", "b", "c0"}
    assert rc.CELLS[name] == (cell.forward, cell.backward, cell.gates)    # the older view of the same entry


@pytest.mark.parametrize("name", NAMES)
def test_run_is_the_sequence_forward_with_the_state_made_explicit(name, rng):
    """Does Cell.run give the forward's h (and the last cell state), and run_backward its gradients?"""
    cell = rc.get_cell(name)
    x, h0, Wx, Wh, b = cell_args(rng, cell.gates, 2, 4, 3, 5)
    dh = rng.standard_normal((2, 4, 5))
    h, c_last, cache = cell.run(x, h0, None, Wx, Wh, b)
    h_plain, cache_plain = cell.forward(x, h0, Wx, Wh, b)
    np.testing.assert_array_equal(h, h_plain)
    assert (c_last is not None) == cell.has_cell_state
    dx, dh0, dc0, dWx, dWh, db = cell.run_backward(dh, None, cache)
    for got, want in zip((dx, dh0, dWx, dWh, db), cell.backward(dh, cache_plain)):
        np.testing.assert_array_equal(got, want)
    assert (dc0 is not None) == cell.has_cell_state


def test_unknown_cells_and_options_are_refused():
    """Do an unknown name and an option the cell does not take raise ValueErrors that list the choices?"""
    with pytest.raises(ValueError, match=r"cell must be one of \['gru', 'lstm', 'rnn'\]"):
        rc.get_cell("peephole")
    with pytest.raises(ValueError, match=r"cell 'lstm' takes no options \['reset_after'\]"):
        rc.get_cell("lstm", reset_after=True)
    x, h0, Wx, Wh, b = cell_args(np.random.default_rng(0), 1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="takes no options"):
        rc.truncated_bptt(x, h0, Wx, Wh, b, np.ones((2, 3, 5)), k=2, cell="rnn", reset_after=True)


def test_no_module_dispatches_on_cell_names():
    """Outside cells.py, does no rnncore module compare a cell name with a string literal?"""
    import pathlib
    import re
    package = pathlib.Path(rc.__file__).parent
    pattern = re.compile(r"""(cell|name)\s*(==|!=|\bin\b)\s*['"(\[{]""")
    offenders = [f"{path.name}: {line.strip()}" for path in package.glob("*.py") if path.name != "cells.py"
                 for line in path.read_text().splitlines() if pattern.search(line)]
    assert offenders == []
