"""The recurrent cells, each described once: what the wrappers, the char model and the tests use.

A Cell names its step and sequence functions, its number of gate blocks G (Wx is (D, G*H),
Wh (H, G*H), b (G*H,)), whether it carries a cell state c next to h (the LSTM does), and the
keyword options its forwards take (the GRU's reset_after). Code that works with any cell looks
the cell up with get_cell(name) and asks it, instead of testing the name:

    cell = get_cell("lstm")
    h, c_last, cache = cell.run(x, h0, c0, Wx, Wh, b)              # c0, c_last: None without a cell state
    dx, dh0, dc0, dWx, dWh, db = cell.run_backward(dh, dc_last, cache)

run / run_backward are the state interface of the cell (lstm_state_forward / lstm_state_backward
for the LSTM; for the RNN and the GRU the state is h alone and they are rnn_forward / rnn_backward
with c0 = c_last = dc0 = None). step / step_backward do the same for one step.
CELLS keeps the older view name -> (sequence forward, sequence backward, G) of the same registry.
"""
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .gru import gru_backward, gru_forward, gru_step_backward, gru_step_forward
from .lstm import (lstm_backward, lstm_forward, lstm_state_backward, lstm_state_forward, lstm_step_backward,
                   lstm_step_forward)
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward


@dataclass(frozen=True)
class Cell:
    """One recurrent cell: its functions, its gate blocks and whether it has a cell state."""
    name: str
    gates: int                               # G: Wx (D, G*H), Wh (H, G*H), b (G*H,)
    has_cell_state: bool                     # True: the state is (h, c); False: h alone
    step_forward: Callable                   # rnncore.<name>_step_forward
    step_backward: Callable                  # rnncore.<name>_step_backward
    forward: Callable                        # rnncore.<name>_forward(x, h0, Wx, Wh, b, **options) -> (h, cache)
    backward: Callable                       # rnncore.<name>_backward(dh, cache) -> (dx, dh0, dWx, dWh, db)
    state_forward: Callable = None           # with a cell state: (x, h0, c0, Wx, Wh, b) -> (h, c_last, cache)
    state_backward: Callable = None          # with a cell state: (dh, dc_last, cache) -> (dx, dh0, dc0, dWx, dWh, db)
    options: tuple = field(default=())       # keyword options of the forwards, e.g. ("reset_after",)
    forget_block: int = None                 # the gate block of a forget gate (its bias often starts at 1), or None

    def check_options(self, options):
        """Refuse keyword options this cell does not take."""
        unknown = set(options) - set(self.options)
        if unknown:
            raise ValueError(f"cell {self.name!r} takes no options {sorted(unknown)}"
                             + (f"; it takes {list(self.options)}" if self.options else ""))

    def _check_c(self, c):
        if c is not None and not self.has_cell_state:
            raise ValueError(f"cell {self.name!r} has no cell state: pass c0 = None (or use cell='lstm')")

    def zero_state(self, N, H, dtype=np.float64):
        """The initial state (h0, c0) of N sequences: zeros; c0 is None without a cell state."""
        h0 = np.zeros((N, H), dtype=dtype)
        return h0, (np.zeros((N, H), dtype=dtype) if self.has_cell_state else None)

    def run(self, x, h0, c0, Wx, Wh, b, **options):
        """Sequence forward from the state (h0, c0). Returns (h, c_last, cache); c_last is None without a cell state.

        For a cell with a cell state, c0 = None starts from zeros.
        """
        self.check_options(options)
        self._check_c(c0)
        if not self.has_cell_state:
            h, cache = self.forward(x, h0, Wx, Wh, b, **options)
            return h, None, cache
        if c0 is None:
            c0 = np.zeros_like(h0)
        return self.state_forward(x, h0, c0, Wx, Wh, b, **options)

    def run_backward(self, dh, dc_last, cache):
        """Gradients of run. dc_last: gradient of the last cell state (None: zero; must be None without one).

        Returns (dx, dh0, dc0, dWx, dWh, db); dc0 is None without a cell state.
        """
        self._check_c(dc_last)
        if not self.has_cell_state:
            dx, dh0, dWx, dWh, db = self.backward(dh, cache)
            return dx, dh0, None, dWx, dWh, db
        return self.state_backward(dh, dc_last, cache)

    def step(self, x, prev_h, prev_c, Wx, Wh, b, **options):
        """One step from (prev_h, prev_c). Returns (next_h, next_c, cache); next_c is None without a cell state.

        For a cell with a cell state, prev_c = None is a zero cell state.
        """
        self.check_options(options)
        self._check_c(prev_c)
        if self.has_cell_state:
            prev_c = np.zeros_like(prev_h) if prev_c is None else prev_c
            return self.step_forward(x, prev_h, prev_c, Wx, Wh, b, **options)
        next_h, cache = self.step_forward(x, prev_h, Wx, Wh, b, **options)
        return next_h, None, cache

    def step_back(self, dnext_h, dnext_c, cache):
        """Gradients of step. Returns (dx, dprev_h, dprev_c, dWx, dWh, db); dprev_c is None without a cell state."""
        self._check_c(dnext_c)
        if self.has_cell_state:
            return self.step_backward(dnext_h, dnext_c, cache)
        dx, dprev_h, dWx, dWh, db = self.step_backward(dnext_h, cache)
        return dx, dprev_h, None, dWx, dWh, db


RECURRENT_CELLS = {
    "rnn": Cell("rnn", gates=1, has_cell_state=False, step_forward=rnn_step_forward, step_backward=rnn_step_backward,
                forward=rnn_forward, backward=rnn_backward),
    "lstm": Cell("lstm", gates=4, has_cell_state=True, step_forward=lstm_step_forward,
                 step_backward=lstm_step_backward, forward=lstm_forward, backward=lstm_backward,
                 state_forward=lstm_state_forward, state_backward=lstm_state_backward, forget_block=1),
    "gru": Cell("gru", gates=3, has_cell_state=False, step_forward=gru_step_forward, step_backward=gru_step_backward,
                forward=gru_forward, backward=gru_backward, options=("reset_after",)),
}

# The older view of the same registry, name -> (sequence forward, sequence backward, gate blocks);
# lecture 05 unpacks it as `forward, backward, G = rnncore.CELLS[name]`.
CELLS = {name: (cell.forward, cell.backward, cell.gates) for name, cell in RECURRENT_CELLS.items()}


def get_cell(cell, **options):
    """The Cell registered as `cell` ("rnn", "lstm" or "gru"); refuse options it does not take."""
    if not isinstance(cell, str) or cell not in RECURRENT_CELLS:
        raise ValueError(f"cell must be one of {sorted(RECURRENT_CELLS)}, got {cell!r}")
    RECURRENT_CELLS[cell].check_options(options)
    return RECURRENT_CELLS[cell]
