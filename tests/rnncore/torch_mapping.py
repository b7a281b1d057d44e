"""Weight mappings between torch.nn.RNN/LSTM/GRU and rnncore, written down once.

torch stacks gates on the first axis of weight_ih_l0 (G*H, D) and has two biases;
rnncore stacks them on the last axis of Wx (D, G*H) and has one.
    RNN   torch: (single block)   rnncore: (single block)
    LSTM  torch: i, f, g, o       rnncore: i, f, o, g
    GRU   torch: r, z, n          rnncore: z, r, n     (rnncore's reset_after=True needs torch's b_hn = 0)
"""
import numpy as np
import torch

TORCH_ORDER = {"rnn": [0], "lstm": [0, 1, 3, 2], "gru": [1, 0, 2]}   # rnncore block k = torch block order[k]


def regroup(a, cell):
    """Reorder torch's gate blocks (first axis) into rnncore's order."""
    blocks = np.split(a, len(TORCH_ORDER[cell]), axis=0)
    return np.concatenate([blocks[k] for k in TORCH_ORDER[cell]], axis=0)


def make_module(cell, D, H, seed):
    """A float64 torch module with batch_first=True; for the GRU, b_hn is zeroed."""
    torch.manual_seed(seed)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    module = cls(D, H, batch_first=True, dtype=torch.float64)
    if cell == "gru":
        with torch.no_grad():
            module.bias_hh_l0[2 * H:] = 0.0
    return module


def weights_from_torch(module, cell):
    """(Wx, Wh, b) in rnncore's layout from a torch module's parameters."""
    W_ih = module.weight_ih_l0.detach().numpy()
    W_hh = module.weight_hh_l0.detach().numpy()
    b = (module.bias_ih_l0 + module.bias_hh_l0).detach().numpy()
    return regroup(W_ih, cell).T.copy(), regroup(W_hh, cell).T.copy(), regroup(b, cell).copy()


def grads_from_torch(module, cell):
    """(dWx, dWh, db) in rnncore's layout from a torch module's .grad fields.

    rnncore's b enters where torch's b_ih does (and b_hh too, except the GRU's zeroed b_hn),
    so the gradient of b is the gradient of b_ih.
    """
    dW_ih = module.weight_ih_l0.grad.numpy()
    dW_hh = module.weight_hh_l0.grad.numpy()
    db = module.bias_ih_l0.grad.numpy()
    return regroup(dW_ih, cell).T, regroup(dW_hh, cell).T, regroup(db, cell)
