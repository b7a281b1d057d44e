"""The three recurrent cells behind one name, for the wrappers that work with any of them.

cell is "rnn", "lstm" or "gru". Each entry gives the sequence forward and backward and the
number of gate blocks G, so that Wx is (D, G*H), Wh is (H, G*H) and b is (G*H,).
Extra keyword arguments (reset_after for the GRU) pass through to the forward.
"""
from .gru import gru_backward, gru_forward
from .lstm import lstm_backward, lstm_forward
from .rnn import rnn_backward, rnn_forward

CELLS = {
    "rnn": (rnn_forward, rnn_backward, 1),
    "lstm": (lstm_forward, lstm_backward, 4),
    "gru": (gru_forward, gru_backward, 3),
}


def get_cell(cell, **cell_kwargs):
    """Return (forward, backward, gates) for a cell name; refuse options the cell does not take."""
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {sorted(CELLS)}, got {cell!r}")
    unknown = set(cell_kwargs) - ({"reset_after"} if cell == "gru" else set())
    if unknown:
        raise ValueError(f"cell {cell!r} takes no options {sorted(unknown)}")
    return CELLS[cell]
